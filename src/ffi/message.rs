//! C functions of message mode: whole messages with a size limit (docs/PROTOCOL.md).

use super::{
    array_arg, array_mut_arg, arsock_handle, arsock_status, boundary, handles, invalid, out_ptr,
    slice_arg, slice_mut_arg, timeout_arg, FfiError,
};
use crate::error::Error;

/// Largest message a new connection sends and accepts: 16 MiB.
pub const ARSOCK_DEFAULT_MAX_MESSAGE: usize = 16 * 1024 * 1024;
/// Default send-queue limit of a new connection: 1 MiB.
pub const ARSOCK_DEFAULT_SEND_QUEUE_LIMIT: usize = 1024 * 1024;
/// After `arsock_close`, queued data keeps going to the peer for at most this long.
pub const ARSOCK_CLOSE_LINGER_MS: u32 = 2000;
/// Default frame timeout (see `arsock_client_set_frame_timeout`).
pub const ARSOCK_DEFAULT_FRAME_TIMEOUT_MS: i32 = 30000;

/// One message for `arsock_client_send_msgs`: `len` bytes at `data` (`(NULL, 0)` is empty).
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct arsock_buf {
    /// First byte of the message.
    pub data: *const u8,
    /// Length of the message in bytes.
    pub len: usize,
}

/// An `arsock_buf` whose pointer and length were checked (see `slice_arg`), so it can be
/// read as a slice without copying the caller's array.
#[repr(transparent)]
struct CheckedBuf(arsock_buf);

impl CheckedBuf {
    /// View already-validated buffers as `CheckedBuf`s (same layout: `repr(transparent)`).
    fn from_checked(bufs: &[arsock_buf]) -> &[CheckedBuf] {
        // SAFETY: CheckedBuf is repr(transparent) over arsock_buf; the caller validated every
        // entry with `slice_arg` first.
        unsafe { &*(bufs as *const [arsock_buf] as *const [CheckedBuf]) }
    }
}

impl AsRef<[u8]> for CheckedBuf {
    fn as_ref(&self) -> &[u8] {
        slice_arg(self.0.data, self.0.len, "").unwrap_or(&[])
    }
}

/// Message mode: send `len` bytes of `data` as one whole message (empty messages are valid).
///
/// The peer receives exactly this message with `arsock_client_recv_msg` (or any program that
/// speaks docs/PROTOCOL.md). The caller keeps ownership of `data`.
///
/// Blocking: per the send timeout (default -1: waits until the message fits in the send
/// queue). Small messages sent faster than one syscall each are coalesced and written by the
/// library's I/O thread as soon as it runs (typically within tens of microseconds); replies
/// and messages after a pause are written straight through.
/// Any thread; concurrent sends on one connection each arrive whole.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `data` with `len` > 0);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_MESSAGE_TOO_LARGE (`len` above the connection's
/// limit; nothing sent); ARSOCK_ERR_STATE (raw mode); ARSOCK_ERR_WOULD_BLOCK (send timeout 0
/// and the queue is full; nothing queued); ARSOCK_ERR_TIMEOUT (send timeout passed; nothing
/// queued); ARSOCK_ERR_CLOSED; ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_send_msg(
    client: arsock_handle,
    data: *const u8,
    len: usize,
) -> arsock_status {
    boundary(|| {
        let data = slice_arg(data, len, "data")?;
        Ok(handles::client(client)?.send_msg(data)?)
    })
}

/// Message mode: send `count` messages in one call (a frame's worth of entity updates), all
/// or nothing: on any error none of them was queued.
///
/// `msgs` points to `count` `arsock_buf`s (`(NULL, 0)` sends nothing); each is checked as in
/// `arsock_client_send_msg`. Blocking and threads as `arsock_client_send_msg`; the messages
/// arrive in order, not interleaved with other threads' messages.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `msgs` with `count` > 0, an entry
/// with NULL `data` and `len` > 0); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_MESSAGE_TOO_LARGE;
/// ARSOCK_ERR_STATE; ARSOCK_ERR_WOULD_BLOCK; ARSOCK_ERR_TIMEOUT; ARSOCK_ERR_CLOSED;
/// ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_send_msgs(
    client: arsock_handle,
    msgs: *const arsock_buf,
    count: usize,
) -> arsock_status {
    boundary(|| {
        let bufs = array_arg(msgs, count, "msgs")?;
        for (i, b) in bufs.iter().enumerate() {
            if slice_arg(b.data, b.len, "").is_err() {
                return Err(invalid(format!(
                    "msgs[{i}].data is NULL (or its length {} is too large)",
                    b.len
                )));
            }
        }
        Ok(handles::client(client)?.send_msgs(CheckedBuf::from_checked(bufs))?)
    })
}

/// Message mode: receive the next whole message into `buf`, waiting at most `timeout_ms`
/// (-1 forever, 0 poll, > 0 ms). On success `*out_len` is its length (0 for an empty one).
///
/// If `cap` is smaller than the message (reported once it has arrived whole, so a peer that
/// announces much and sends little never makes the caller allocate):
/// ARSOCK_ERR_BUFFER_TOO_SMALL, `*out_len` receives the
/// size needed (the one out-param written on a failure) and the message stays queued for the
/// next call. `(NULL, 0)` is a valid buffer: it asks for the next message's size that way
/// (an empty next message fits in it, so it is received: ARSOCK_OK with `*out_len` 0).
///
/// Blocks up to `timeout_ms`, whatever other threads do (concurrent receives are serialized,
/// but none waits past its own timeout for another; timeout 0 never blocks). Any thread.
/// Closing the handle from another thread wakes a blocked receive at once (ARSOCK_ERR_CLOSED).
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_len`, NULL `buf` with `cap` > 0,
/// timeout < -1); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_BUFFER_TOO_SMALL; ARSOCK_ERR_STATE
/// (raw mode); ARSOCK_ERR_TIMEOUT; ARSOCK_ERR_PROTOCOL (the peer broke the framing or the
/// frame timeout; the connection is now closed); ARSOCK_ERR_CLOSED (peer closed after its
/// last whole message, or the handle was closed); ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_recv_msg(
    client: arsock_handle,
    buf: *mut u8,
    cap: usize,
    timeout_ms: i32,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let buf = slice_mut_arg(buf, cap, "buf")?;
        let out = out_ptr(out_len, "out_len")?;
        let timeout = timeout_arg(timeout_ms)?;
        match handles::client(client)?.recv_msg(buf, timeout) {
            Ok(n) => {
                *out = n;
                Ok(())
            }
            Err(e @ Error::BufferTooSmall { needed }) => {
                *out = needed;
                Err(FfiError::Core(e))
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Message mode: receive many whole messages in one call (a frame's worth of updates).
///
/// Waits at most `timeout_ms` (-1 forever, 0 poll, > 0 ms) for the next message, then also
/// takes every further message that has already arrived whole, without waiting, while `buf`
/// (`cap` bytes) and `out_msgs` (`max_msgs` entries, at most 256 are used) have room. The
/// payloads are packed into
/// `buf` back to back; on success `*out_count` (>= 1) entries of `out_msgs` describe them
/// (`data` points into `buf`, valid until the caller reuses `buf`). Messages that did not fit
/// stay queued for the next call.
///
/// If even the first message is larger than `cap`: ARSOCK_ERR_BUFFER_TOO_SMALL, and
/// `out_msgs[0]` receives `{NULL, size needed}` (like `*out_len` of `arsock_client_recv_msg`).
///
/// Blocks up to `timeout_ms`. Threads and closing as `arsock_client_recv_msg`.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_msgs`/`out_count`, `max_msgs` 0,
/// NULL `buf` with `cap` > 0, timeout < -1); ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_BUFFER_TOO_SMALL; ARSOCK_ERR_STATE (raw mode); ARSOCK_ERR_TIMEOUT;
/// ARSOCK_ERR_PROTOCOL; ARSOCK_ERR_CLOSED; ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_recv_msgs(
    client: arsock_handle,
    buf: *mut u8,
    cap: usize,
    out_msgs: *mut arsock_buf,
    max_msgs: usize,
    timeout_ms: i32,
    out_count: *mut usize,
) -> arsock_status {
    boundary(|| {
        let base = buf.cast_const();
        let buf = slice_mut_arg(buf, cap, "buf")?;
        let out = out_ptr(out_count, "out_count")?;
        if max_msgs == 0 {
            return Err(invalid("max_msgs is 0"));
        }
        let msgs = array_mut_arg(out_msgs, max_msgs, "out_msgs")?;
        let timeout = timeout_arg(timeout_ms)?;
        let conn = handles::client(client)?;
        let mut lens = [0usize; 256];
        let room = max_msgs.min(lens.len());
        match conn.recv_msgs(buf, &mut lens[..room], timeout) {
            Ok(count) => {
                let mut at = 0;
                for (m, &len) in msgs.iter_mut().zip(&lens[..count]) {
                    // Into the caller's own buffer (so `(NULL, 0)` gives NULL for empty messages).
                    *m = arsock_buf {
                        data: base.wrapping_add(at),
                        len,
                    };
                    at += len;
                }
                *out = count;
                Ok(())
            }
            Err(e @ Error::BufferTooSmall { needed }) => {
                msgs[0] = arsock_buf {
                    data: std::ptr::null(),
                    len: needed,
                };
                Err(FfiError::Core(e))
            }
            Err(e) => Err(e.into()),
        }
    })
}

/// Message mode: the largest message this connection sends AND accepts, inclusive
/// (default ARSOCK_DEFAULT_MAX_MESSAGE). Incoming frames announcing more are a protocol
/// error, detected from the header before anything is allocated.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (above 4294967295, the wire format's
/// limit); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_set_max_message(
    client: arsock_handle,
    max_len: usize,
) -> arsock_status {
    boundary(|| Ok(handles::client(client)?.set_max_message(max_len)?))
}
