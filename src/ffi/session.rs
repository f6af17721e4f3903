//! C functions of a device's session (`arsock_session_*`): join a room of a hub, see peers
//! come and go, exchange reliable messages, share state, survive network switches.

use super::{
    array_mut_arg, arsock_handle, arsock_status, boundary, handles, invalid, out_ptr, slice_arg,
    slice_mut_arg, str_arg, timeout_arg, FfiError,
};
use crate::error::Error;
use crate::session::{Session, SessionConfig};
use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

/// This session joined its room; `peer` is its own id. The snapshot's events follow.
pub const ARSOCK_EVENT_JOINED: u32 = 1;
/// The hub refused the session (`reason`); the session is over.
pub const ARSOCK_EVENT_REJECTED: u32 = 2;
/// A peer is in the room (snapshot) or joined it.
pub const ARSOCK_EVENT_PEER_JOINED: u32 = 3;
/// A peer went silent or lost its link; it may resume.
pub const ARSOCK_EVENT_PEER_STALE: u32 = 4;
/// A stale peer was heard again.
pub const ARSOCK_EVENT_PEER_RESUMED: u32 = 5;
/// A peer left (`reason`).
pub const ARSOCK_EVENT_PEER_LEFT: u32 = 6;
/// A reliable message from `peer`; read it with `arsock_session_read(payload)`.
pub const ARSOCK_EVENT_MESSAGE: u32 = 7;
/// A state key changed (`payload` = the key; value via `arsock_session_get_state`).
pub const ARSOCK_EVENT_STATE_CHANGED: u32 = 8;
/// The link to the hub ended (`reason`); with flag ARSOCK_DISCONNECTED_RESUMING the session
/// reconnects on its own, otherwise it is over.
pub const ARSOCK_EVENT_DISCONNECTED: u32 = 9;
/// The session resumed (same peer id); `size` = messages the hub had to drop meanwhile.
pub const ARSOCK_EVENT_RECONNECTED: u32 = 10;
/// Reserved: a blob is available (poses/clock/blobs issue).
pub const ARSOCK_EVENT_BLOB_AVAILABLE: u32 = 11;

/// No reason.
pub const ARSOCK_REASON_NONE: i32 = 0;
/// This side closed.
pub const ARSOCK_REASON_LOCAL_CLOSE: i32 = 1;
/// The other side closed cleanly.
pub const ARSOCK_REASON_REMOTE_CLOSE: i32 = 2;
/// Silent too long, or the resume grace ended.
pub const ARSOCK_REASON_TIMEOUT: i32 = 3;
/// Removed by the hub.
pub const ARSOCK_REASON_KICKED: i32 = 4;
/// The room is full.
pub const ARSOCK_REASON_ROOM_FULL: i32 = 5;
/// Incompatible protocol version.
pub const ARSOCK_REASON_VERSION: i32 = 6;
/// Missing or wrong token.
pub const ARSOCK_REASON_AUTH: i32 = 7;
/// Malformed or unexpected frames.
pub const ARSOCK_REASON_PROTOCOL: i32 = 8;
/// The connection failed or broke.
pub const ARSOCK_REASON_NETWORK: i32 = 9;
/// The hub was closed.
pub const ARSOCK_REASON_HUB_SHUTDOWN: i32 = 10;
/// The peer's queue stayed over its limit too long (it resumes on its own).
pub const ARSOCK_REASON_SLOW_PEER: i32 = 11;
/// First reason value reserved for applications.
pub const ARSOCK_REASON_APP_MIN: i32 = 1000;
/// Last reason value reserved for applications.
pub const ARSOCK_REASON_APP_MAX: i32 = 1999;

/// STATE_CHANGED flag: the key was deleted.
pub const ARSOCK_STATE_DELETED: u32 = 1;
/// DISCONNECTED flag: the session is reconnecting (RECONNECTED or a final DISCONNECTED follows).
pub const ARSOCK_DISCONNECTED_RESUMING: u32 = 2;
/// MESSAGE flag: sent to this peer alone, not to everyone.
pub const ARSOCK_MESSAGE_DIRECT: u32 = 4;

/// Largest reliable message (`arsock_session_send`): 256 KiB.
pub const ARSOCK_SESSION_MAX_MESSAGE: usize = 256 * 1024;
/// Largest state value: 64 KiB.
pub const ARSOCK_SESSION_MAX_VALUE: usize = 64 * 1024;
/// Longest state key: 255 bytes.
pub const ARSOCK_SESSION_MAX_KEY: usize = 255;
/// Most keys in a room's state.
pub const ARSOCK_SESSION_MAX_KEYS: usize = 4096;
/// Longest room name: 64 bytes.
pub const ARSOCK_SESSION_MAX_ROOM: usize = 64;
/// Longest peer name: 64 bytes.
pub const ARSOCK_SESSION_MAX_NAME: usize = 64;
/// Bytes of sent messages and state writes a session keeps until the hub acknowledges them
/// (beyond it: ARSOCK_ERR_WOULD_BLOCK); the hub keeps as much per peer.
pub const ARSOCK_SESSION_QUEUE_LIMIT: usize = 1024 * 1024;

/// Settings of `arsock_session_open`. Zeroed fields mean defaults.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct arsock_session_config {
    /// sizeof(arsock_session_config), so the struct can grow.
    pub struct_size: u32,
    /// Token for a hub started with one (NUL-terminated); NULL = none.
    pub token: *const c_char,
    /// Name shown to other peers (NUL-terminated, ≤ 64 bytes); NULL = "".
    pub name: *const c_char,
    /// Limit for connecting and joining; 0 = 5000.
    pub connect_timeout_ms: i32,
}

/// One thing that happened in a session (see ARSOCK_EVENT_*).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct arsock_event {
    /// ARSOCK_EVENT_*.
    pub kind: u32,
    /// The peer concerned (sender of a MESSAGE, writer of a state change); 0 = the hub.
    pub peer: u32,
    /// ARSOCK_REASON_* for REJECTED, PEER_LEFT, DISCONNECTED; else 0.
    pub reason: i32,
    /// ARSOCK_STATE_DELETED, ARSOCK_DISCONNECTED_RESUMING, ARSOCK_MESSAGE_DIRECT.
    pub flags: u32,
    /// Id for `arsock_session_read` (MESSAGE body, STATE_CHANGED key); 0 if none.
    pub payload: u64,
    /// Payload size in bytes (RECONNECTED: messages the hub dropped).
    pub size: u64,
    /// Hub time the event was produced, in microseconds.
    pub time_us: i64,
}

/// Fill `cfg` with `struct_size` and the defaults (no token, name "", 5000 ms). NULL is
/// ignored. Never blocks; any thread.
///
/// # Safety
/// `cfg` is NULL or points to writable memory for one `arsock_session_config`.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_config_init(cfg: *mut arsock_session_config) {
    let _ = boundary(|| {
        let cfg = out_ptr(cfg, "cfg")?;
        *cfg = arsock_session_config {
            struct_size: std::mem::size_of::<arsock_session_config>() as u32,
            token: std::ptr::null(),
            name: std::ptr::null(),
            connect_timeout_ms: 5000,
        };
        Ok(())
    });
}

unsafe fn session_config(p: *const arsock_session_config) -> Result<SessionConfig, FfiError> {
    let want = std::mem::size_of::<arsock_session_config>() as u32;
    let Some(first) = (p as *const u32).as_ref() else {
        return Ok(SessionConfig::default());
    };
    if *first != want {
        return Err(invalid(format!(
            "cfg->struct_size is {} but this library's arsock_session_config has {want} bytes \
             (use arsock_session_config_init)",
            *first
        )));
    }
    let c = *p;
    let token = if c.token.is_null() {
        None
    } else {
        Some(str_arg(c.token, "cfg->token")?.to_string())
    };
    let name = if c.name.is_null() {
        String::new()
    } else {
        str_arg(c.name, "cfg->name")?.to_string()
    };
    let connect_timeout = match c.connect_timeout_ms {
        0 => Duration::from_millis(5000),
        v if v > 0 => Duration::from_millis(v as u64),
        v => {
            return Err(invalid(format!(
                "connect_timeout_ms must be 0 (default) or positive, got {v}"
            )))
        }
    };
    Ok(SessionConfig {
        token,
        name,
        connect_timeout,
    })
}

/// Open a session: connect to the hub at `host:port` and join `room` (1–64 bytes of UTF-8).
///
/// Returns at once; JOINED (then one PEER_JOINED per present peer and one STATE_CHANGED per
/// key), REJECTED(reason), or DISCONNECTED(NETWORK) within `connect_timeout_ms` arrives as an
/// event. After the first JOINED a broken link is resumed on its own (backoff 100 ms to 2 s,
/// for the hub's grace period). `cfg` may be NULL (defaults). Close with `arsock_close`:
/// others see PEER_LEFT(REMOTE_CLOSE) at once. Any thread; resolving a host name may block.
///
/// Returns ARSOCK_OK and `*out_session`; ARSOCK_ERR_INVALID_ARGUMENT (NULL pointers, room
/// empty or over 64 bytes, name over 64 bytes, bad UTF-8, wrong `struct_size`, negative
/// timeout); ARSOCK_ERR_ADDRESS; ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `host` and `room` are NUL-terminated strings; `cfg` is NULL or a valid config;
/// `out_session` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_open(
    host: *const c_char,
    port: u16,
    room: *const c_char,
    cfg: *const arsock_session_config,
    out_session: *mut arsock_handle,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_session, "out_session")?;
        let host = str_arg(host, "host")?;
        let room = str_arg(room, "room")?;
        let cfg = session_config(cfg)?;
        let s = Session::open(host, port, room, cfg)?;
        *out = handles::insert(handles::Object::Session(Arc::new(s)))?;
        Ok(())
    })
}

/// Wait up to `timeout_ms` (-1 forever, 0 no wait) for events and copy up to `cap` of them,
/// oldest first, to `out`; `*out_n` = how many.
///
/// Payload ids of the events returned stay readable with `arsock_session_read` until the next
/// poll on this session. Events keep coming after the session is over (its last event says
/// why). Blocks up to `timeout_ms`. Any thread; concurrent polls are serialised and each
/// honours its own timeout.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_TIMEOUT (nothing within the timeout); ARSOCK_ERR_INVALID_ARGUMENT
/// (NULL `out` or `out_n`, `cap` 0, timeout below -1); ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_CLOSED (the handle was closed during the call); ARSOCK_ERR_PANIC.
///
/// # Safety
/// `out` points to `cap` writable events; `out_n` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_poll(
    s: arsock_handle,
    out: *mut arsock_event,
    cap: usize,
    timeout_ms: i32,
    out_n: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_n = out_ptr(out_n, "out_n")?;
        if cap == 0 {
            return Err(invalid("cap is 0"));
        }
        let out = array_mut_arg(out, cap, "out")?;
        let timeout = timeout_arg(timeout_ms)?;
        let events = handles::session(s)?.poll(cap, timeout)?;
        for (slot, (e, id)) in out.iter_mut().zip(events.iter()) {
            *slot = arsock_event {
                kind: e.kind,
                peer: e.peer,
                reason: e.reason,
                flags: e.flags,
                payload: *id,
                size: e.size,
                time_us: e.time_us,
            };
        }
        *out_n = events.len();
        Ok(())
    })
}

/// Copy `bytes` to the caller's buffer with recv_msg's rule: too small → BUFFER_TOO_SMALL with
/// `*out_len` = size needed, nothing copied.
fn copy_out(bytes: &[u8], buf: *mut u8, cap: usize, out_len: &mut usize) -> Result<(), FfiError> {
    if bytes.len() > cap {
        *out_len = bytes.len();
        return Err(FfiError::Core(Error::BufferTooSmall {
            needed: bytes.len(),
        }));
    }
    let buf = slice_mut_arg(buf, cap, "buf")?;
    buf[..bytes.len()].copy_from_slice(bytes);
    *out_len = bytes.len();
    Ok(())
}

/// Copy the payload `payload` (an id from an event of the last poll) into `buf`.
///
/// Never blocks; any thread. Returns ARSOCK_OK and `*out_len`; ARSOCK_ERR_BUFFER_TOO_SMALL
/// (`*out_len` = size needed; the payload stays readable); ARSOCK_ERR_NOT_FOUND (the id is not
/// from the last poll); ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_len`, NULL `buf` with `cap` > 0);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `buf` has `cap` writable bytes (`(NULL, 0)` is allowed); `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_read(
    s: arsock_handle,
    payload: u64,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_len = out_ptr(out_len, "out_len")?;
        let p = handles::session(s)?.payload(payload)?;
        copy_out(&p, buf, cap, out_len)
    })
}

/// Send a reliable, ordered message of `len` bytes to peer `to_peer`, or to every other peer
/// of the room with `to_peer` 0 (never back to the sender). The data is copied.
///
/// Delivered exactly once, in order per sender, across link breaks and resumes. Never blocks
/// (the message is queued; written at once when the socket takes it). Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_NOT_FOUND (no such peer in the room); ARSOCK_ERR_INVALID_ARGUMENT
/// (NULL `data` with `len` > 0; `to_peer` is this session); ARSOCK_ERR_MESSAGE_TOO_LARGE (over
/// ARSOCK_SESSION_MAX_MESSAGE); ARSOCK_ERR_WOULD_BLOCK (ARSOCK_SESSION_QUEUE_LIMIT bytes wait
/// for the hub's acknowledgement; nothing queued); ARSOCK_ERR_STATE (not joined yet);
/// ARSOCK_ERR_CLOSED (the session is over); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `data` has `len` readable bytes (`(NULL, 0)` is an empty message).
#[no_mangle]
pub unsafe extern "C" fn arsock_session_send(
    s: arsock_handle,
    to_peer: u32,
    data: *const u8,
    len: usize,
) -> arsock_status {
    boundary(|| {
        let data = slice_arg(data, len, "data")?;
        Ok(handles::session(s)?.send(to_peer, data)?)
    })
}

/// Set state key `key` (1–255 bytes of UTF-8) of the room to `len` bytes of `value` (≤ 64 KiB;
/// copied). Last writer wins in the hub's order; every peer, this one included, sees
/// STATE_CHANGED once the hub applied it (`arsock_session_get_state` shows it from then on).
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (bad key, value
/// over 64 KiB, NULL `value` with `len` > 0); ARSOCK_ERR_STATE (not joined yet, or a new key
/// while the room has 4096); ARSOCK_ERR_WOULD_BLOCK; ARSOCK_ERR_CLOSED;
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `key` is NUL-terminated; `value` has `len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_set_state(
    s: arsock_handle,
    key: *const c_char,
    value: *const u8,
    len: usize,
) -> arsock_status {
    boundary(|| {
        let key = str_arg(key, "key")?;
        let value = slice_arg(value, len, "value")?;
        Ok(handles::session(s)?.set_state(key, Some(value))?)
    })
}

/// Delete state key `key`; peers see STATE_CHANGED with flag ARSOCK_STATE_DELETED (nothing
/// if the key does not exist). Statuses as `arsock_session_set_state`.
///
/// # Safety
/// `key` is NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_delete_state(
    s: arsock_handle,
    key: *const c_char,
) -> arsock_status {
    boundary(|| {
        let key = str_arg(key, "key")?;
        Ok(handles::session(s)?.set_state(key, None)?)
    })
}

/// Copy the value of state key `key`, as last received from the hub, into `buf`.
///
/// Never blocks; any thread. Returns ARSOCK_OK and `*out_len`; ARSOCK_ERR_NOT_FOUND (no such
/// key); ARSOCK_ERR_BUFFER_TOO_SMALL (`*out_len` = size needed); ARSOCK_ERR_INVALID_ARGUMENT;
/// ARSOCK_ERR_CLOSED (the session is over); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
///
/// # Safety
/// `key` is NUL-terminated; `buf` has `cap` writable bytes; `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_get_state(
    s: arsock_handle,
    key: *const c_char,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_len = out_ptr(out_len, "out_len")?;
        let key = str_arg(key, "key")?;
        let v = handles::session(s)?.get_state(key)?;
        copy_out(&v, buf, cap, out_len)
    })
}

/// This session's peer id in its room (≥ 1; the same after a resume).
///
/// Never blocks; any thread. Returns ARSOCK_OK; ARSOCK_ERR_STATE (before JOINED);
/// ARSOCK_ERR_CLOSED (the session is over); ARSOCK_ERR_INVALID_ARGUMENT; ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_PANIC.
///
/// # Safety
/// `out_peer` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_peer_id(
    s: arsock_handle,
    out_peer: *mut u32,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_peer, "out_peer")?;
        *out = handles::session(s)?.peer_id()?;
        Ok(())
    })
}

/// Copy the name of peer `peer` (this session's own name for its own id) into `buf`, as
/// UTF-8 bytes without a terminating NUL.
///
/// Never blocks; any thread. Returns ARSOCK_OK and `*out_len`; ARSOCK_ERR_NOT_FOUND (no such
/// peer); ARSOCK_ERR_BUFFER_TOO_SMALL (`*out_len` = size needed); ARSOCK_ERR_STATE (before
/// JOINED); ARSOCK_ERR_CLOSED; ARSOCK_ERR_INVALID_ARGUMENT; ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_PANIC.
///
/// # Safety
/// `buf` has `cap` writable bytes; `out_len` is writable.
#[no_mangle]
pub unsafe extern "C" fn arsock_session_peer_name(
    s: arsock_handle,
    peer: u32,
    buf: *mut u8,
    cap: usize,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out_len = out_ptr(out_len, "out_len")?;
        let name = handles::session(s)?.peer_name(peer)?;
        copy_out(name.as_bytes(), buf, cap, out_len)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{event_flag, event_kind, limits, reason};

    #[test]
    fn c_constants_equal_the_core_constants() {
        assert_eq!(ARSOCK_EVENT_JOINED, event_kind::JOINED);
        assert_eq!(ARSOCK_EVENT_REJECTED, event_kind::REJECTED);
        assert_eq!(ARSOCK_EVENT_PEER_JOINED, event_kind::PEER_JOINED);
        assert_eq!(ARSOCK_EVENT_PEER_STALE, event_kind::PEER_STALE);
        assert_eq!(ARSOCK_EVENT_PEER_RESUMED, event_kind::PEER_RESUMED);
        assert_eq!(ARSOCK_EVENT_PEER_LEFT, event_kind::PEER_LEFT);
        assert_eq!(ARSOCK_EVENT_MESSAGE, event_kind::MESSAGE);
        assert_eq!(ARSOCK_EVENT_STATE_CHANGED, event_kind::STATE_CHANGED);
        assert_eq!(ARSOCK_EVENT_DISCONNECTED, event_kind::DISCONNECTED);
        assert_eq!(ARSOCK_EVENT_RECONNECTED, event_kind::RECONNECTED);
        assert_eq!(ARSOCK_EVENT_BLOB_AVAILABLE, event_kind::BLOB_AVAILABLE);
        assert_eq!(ARSOCK_REASON_NONE, reason::NONE);
        assert_eq!(ARSOCK_REASON_LOCAL_CLOSE, reason::LOCAL_CLOSE);
        assert_eq!(ARSOCK_REASON_REMOTE_CLOSE, reason::REMOTE_CLOSE);
        assert_eq!(ARSOCK_REASON_TIMEOUT, reason::TIMEOUT);
        assert_eq!(ARSOCK_REASON_KICKED, reason::KICKED);
        assert_eq!(ARSOCK_REASON_ROOM_FULL, reason::ROOM_FULL);
        assert_eq!(ARSOCK_REASON_VERSION, reason::VERSION);
        assert_eq!(ARSOCK_REASON_AUTH, reason::AUTH);
        assert_eq!(ARSOCK_REASON_PROTOCOL, reason::PROTOCOL);
        assert_eq!(ARSOCK_REASON_NETWORK, reason::NETWORK);
        assert_eq!(ARSOCK_REASON_HUB_SHUTDOWN, reason::HUB_SHUTDOWN);
        assert_eq!(ARSOCK_REASON_SLOW_PEER, reason::SLOW_PEER);
        assert_eq!(ARSOCK_STATE_DELETED, event_flag::STATE_DELETED);
        assert_eq!(ARSOCK_DISCONNECTED_RESUMING, event_flag::RESUMING);
        assert_eq!(ARSOCK_MESSAGE_DIRECT, event_flag::DIRECT);
        assert_eq!(ARSOCK_SESSION_MAX_MESSAGE, limits::MAX_MESSAGE);
        assert_eq!(ARSOCK_SESSION_MAX_VALUE, limits::MAX_VALUE);
        assert_eq!(ARSOCK_SESSION_MAX_KEY, limits::MAX_KEY);
        assert_eq!(ARSOCK_SESSION_MAX_KEYS, limits::MAX_KEYS);
        assert_eq!(ARSOCK_SESSION_MAX_ROOM, limits::MAX_ROOM);
        assert_eq!(ARSOCK_SESSION_MAX_NAME, limits::MAX_NAME);
        assert_eq!(ARSOCK_SESSION_QUEUE_LIMIT, limits::QUEUE_LIMIT);
    }
}
