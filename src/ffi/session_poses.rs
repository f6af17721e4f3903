//! C functions of a session's poses, room clock and blobs (`arsock_session_*`, issue 11).

use super::pose::arsock_pose;
use super::{
    array_arg, array_mut_arg, arsock_handle, arsock_status, boundary, handles, out_ptr, slice_arg,
    slice_mut_arg, str_arg, FfiError,
};
use crate::error::Error;
use crate::pose::Pose;
use std::ffi::c_char;

/// BLOB_AVAILABLE flag: the blob was deleted from the room (`size` 0); `get_blob` says
/// NOT_FOUND from now on.
pub const ARSOCK_BLOB_DELETED: u32 = 8;
/// BLOB_AVAILABLE flag: this session's upload was refused by the hub (the room's blob budget
/// is full); nothing was stored.
pub const ARSOCK_BLOB_REFUSED: u32 = 16;
/// Largest blob: 64 MiB.
pub const ARSOCK_SESSION_MAX_BLOB: usize = 64 * 1024 * 1024;
/// Most blob bytes a room holds, and a session holds and uploads: 256 MiB.
pub const ARSOCK_SESSION_BLOB_BUDGET: usize = 256 * 1024 * 1024;
/// Most poses one `arsock_session_send_poses` call may carry.
pub const ARSOCK_SESSION_MAX_POSES: usize = 4096;
/// Most entities per peer; poses of further entities are refused (sender) or dropped.
pub const ARSOCK_POSE_MAX_ENTITIES: usize = 256;
/// How far `arsock_session_sample_poses` extrapolates past an entity's newest pose (µs).
pub const ARSOCK_POSE_MAX_EXTRAPOLATION_US: i64 = 100_000;

/// Send `n` poses of this device's entities to every other peer of the room.
///
/// Each pose is checked (no NaN or infinity, position components within ±200 km, rotation
/// norm within [0.5, 2]) and its rotation normalised; `time_us` 0 means now (room time);
/// `peer` is ignored and `seq` is stamped per entity. All or nothing: one bad pose →
/// ARSOCK_ERR_INVALID_ARGUMENT and nothing is sent. Only the newest pose per entity is kept
/// until the link takes it (poses never queue behind each other, messages or blob chunks).
/// At most 256 entities per device. Never blocks; any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (bad pose, NULL `poses` with `n` > 0, more
/// than ARSOCK_SESSION_MAX_POSES, a 257th entity); ARSOCK_ERR_STATE (not joined yet);
/// ARSOCK_ERR_CLOSED (the session is over); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `poses` has `n` readable poses (`(NULL, 0)` is allowed).
#[no_mangle]
pub unsafe extern "C" fn arsock_session_send_poses(
    s: arsock_handle,
    poses: *const arsock_pose,
    n: usize,
) -> arsock_status {
    boundary(|| {
        let poses = array_arg(poses, n, "poses")?;
        if poses.len() > ARSOCK_SESSION_MAX_POSES {
            return Err(super::invalid(format!(
                "{} poses in one call; at most {ARSOCK_SESSION_MAX_POSES}",
                poses.len()
            )));
        }
        let v: Vec<Pose> = poses.iter().map(Pose::from).collect();
        Ok(handles::session(s)?.send_poses(&v)?)
    })
}

/// Copy `poses` to `out` (capacity `cap`) with the BUFFER_TOO_SMALL rule.
fn copy_poses(
    poses: &[Pose],
    out: *mut arsock_pose,
    cap: usize,
    out_n: &mut usize,
) -> Result<(), FfiError> {
    if poses.len() > cap {
        *out_n = poses.len();
        return Err(FfiError::Core(Error::BufferTooSmall {
            needed: poses.len(),
        }));
    }
    if !poses.is_empty() {
        let out = array_mut_arg(out, cap, "out")?;
        for (slot, p) in out.iter_mut().zip(poses) {
            *slot = arsock_pose::from(p);
        }
    }
    *out_n = poses.len();
    Ok(())
}

/// Copy the newest pose of every remote (peer, entity) to `out`, sorted by peer then entity;
/// `*out_n` = how many. A pose older (by seq) than one already received is never reported;
/// a peer's poses vanish with its PEER_LEFT.
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_BUFFER_TOO_SMALL (`*out_n` = the
/// number needed; nothing copied); ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_n`, NULL `out` with
/// `cap` > 0); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_CLOSED (closed during the call);
/// ARSOCK_ERR_PANIC.
///
/// # Safety
/// `out` has `cap` writable poses (`(NULL, 0)` asks for the count); `out_n` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_latest_poses(
    s: arsock_handle,
    out: *mut arsock_pose,
    cap: usize,
    out_n: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_n = out_ptr(out_n, "out_n")?;
        handles::session(s)?.with_latest_poses(|p| copy_poses(p, out, cap, out_n))?
    })
}

/// Copy every remote entity's pose at `render_time_us` (room time) to `out`, sorted by peer
/// then entity; `*out_n` = how many. Between received poses: position interpolated linearly,
/// rotation by slerp; past the newest: extrapolated with the last velocity for at most
/// ARSOCK_POSE_MAX_EXTRAPOLATION_US (100 ms), then held at that value (no jump back); before
/// the oldest kept: the oldest. `time_us` of each result is `render_time_us`.
///
/// Never blocks, allocates nothing per call once warm; any thread. Statuses as
/// `arsock_session_latest_poses`.
///
/// # Safety
/// `out` has `cap` writable poses (`(NULL, 0)` asks for the count); `out_n` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_sample_poses(
    s: arsock_handle,
    render_time_us: i64,
    out: *mut arsock_pose,
    cap: usize,
    out_n: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_n = out_ptr(out_n, "out_n")?;
        handles::session(s)?
            .with_sampled_poses(render_time_us, |p| copy_poses(p, out, cap, out_n))?
    })
}

/// The room's time now (the hub's clock, in microseconds; never decreasing on this session)
/// and an error bound on it (half the best round trip to the hub, plus drift and any slew
/// still to apply). Devices estimate it from pings (every 100 ms while converging, every
/// second after); the first estimate exists shortly after JOINED.
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_STATE (not joined yet, or no
/// clock exchange completed yet: retry later); ARSOCK_ERR_CLOSED (the session is over);
/// ARSOCK_ERR_INVALID_ARGUMENT (NULL pointer); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `out_room_us` and `out_error_bound_us` are writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_time(
    s: arsock_handle,
    out_room_us: *mut i64,
    out_error_bound_us: *mut i64,
) -> arsock_status {
    boundary(|| {
        let room = out_ptr(out_room_us, "out_room_us")?;
        let bound = out_ptr(out_error_bound_us, "out_error_bound_us")?;
        let (t, b) = handles::session(s)?.room_time()?;
        *room = t;
        *bound = b;
        Ok(())
    })
}

/// Store `len` bytes of `data` (≤ 64 MiB; copied) under `key` (1–255 bytes of UTF-8) in the
/// room; a put to an existing key replaces it (last writer wins). Returns at once: the blob
/// is uploaded in chunks of ≤ 16 KiB only when poses and messages have nothing to send.
/// Every peer, this one included, gets BLOB_AVAILABLE (`peer` = uploader, `payload` = key,
/// `size` = blob size) once the hub holds the whole blob and that peer holds it too. If the
/// hub refuses it (room budget full), this session gets BLOB_AVAILABLE with flag
/// ARSOCK_BLOB_REFUSED instead. Any thread (a loader thread is the normal case).
///
/// Returns ARSOCK_OK; ARSOCK_ERR_WOULD_BLOCK (this session's blobs, held and being uploaded,
/// would pass ARSOCK_SESSION_BLOB_BUDGET; nothing stored); ARSOCK_ERR_INVALID_ARGUMENT (bad
/// key, over 64 MiB, NULL `data` with `len` > 0); ARSOCK_ERR_STATE (not joined yet);
/// ARSOCK_ERR_CLOSED; ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `key` is NUL-terminated; `data` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_put_blob(
    s: arsock_handle,
    key: *const c_char,
    data: *const u8,
    len: usize,
) -> arsock_status {
    boundary(|| {
        let key = str_arg(key, "key")?;
        let data = slice_arg(data, len, "data")?;
        Ok(handles::session(s)?.put_blob(key, data)?)
    })
}

/// Copy the blob `key` into `buf`; `*out_len` = its size.
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_NOT_FOUND (no such blob, or not
/// complete here yet: wait for its BLOB_AVAILABLE); ARSOCK_ERR_BUFFER_TOO_SMALL (`*out_len` =
/// size needed; nothing copied); ARSOCK_ERR_INVALID_ARGUMENT (bad key, NULL `out_len`, NULL
/// `buf` with `cap` > 0); ARSOCK_ERR_CLOSED; ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `key` is NUL-terminated; `buf` has `cap` writable bytes; `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_get_blob(
    s: arsock_handle,
    key: *const c_char,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_len = out_ptr(out_len, "out_len")?;
        let key = str_arg(key, "key")?;
        let b = handles::session(s)?.get_blob(key)?;
        if b.len() > cap {
            *out_len = b.len();
            return Err(FfiError::Core(Error::BufferTooSmall { needed: b.len() }));
        }
        let buf = slice_mut_arg(buf, cap, "buf")?;
        buf[..b.len()].copy_from_slice(&b);
        *out_len = b.len();
        Ok(())
    })
}

/// Delete the blob `key` from the room (and stop this session's upload of it). Every peer
/// that held it gets BLOB_AVAILABLE with flag ARSOCK_BLOB_DELETED once the hub deleted it.
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_NOT_FOUND (this session knows no
/// blob `key`); ARSOCK_ERR_INVALID_ARGUMENT (bad key); ARSOCK_ERR_STATE (not joined yet);
/// ARSOCK_ERR_CLOSED; ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `key` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_delete_blob(
    s: arsock_handle,
    key: *const c_char,
) -> arsock_status {
    boundary(|| {
        let key = str_arg(key, "key")?;
        Ok(handles::session(s)?.delete_blob(key)?)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::blob_flag;

    #[test]
    fn c_constants_equal_the_core_constants() {
        assert_eq!(ARSOCK_BLOB_DELETED, blob_flag::DELETED);
        assert_eq!(ARSOCK_BLOB_REFUSED, blob_flag::REFUSED);
        assert_eq!(ARSOCK_SESSION_MAX_BLOB as u64, crate::blob::MAX_BLOB_LEN);
        assert_eq!(
            ARSOCK_SESSION_BLOB_BUDGET as u64,
            crate::blob::ROOM_BLOB_BUDGET
        );
        assert_eq!(ARSOCK_SESSION_MAX_POSES, crate::session::MAX_POSES_PER_SEND);
        assert_eq!(
            ARSOCK_POSE_MAX_ENTITIES,
            crate::pose::table::DEFAULT_MAX_ENTITIES_PER_PEER
        );
        assert_eq!(
            ARSOCK_POSE_MAX_EXTRAPOLATION_US,
            crate::pose::sample::MAX_EXTRAPOLATION_US
        );
    }
}
