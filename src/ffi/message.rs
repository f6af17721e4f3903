//! C functions of message mode: whole messages with a size limit (docs/PROTOCOL.md).

use super::{
    array_arg, arsock_handle, arsock_status, boundary, handles, out_ptr, slice_arg, slice_mut_arg,
    timeout_arg, FfiError,
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

/// Message mode: send `len` bytes of `data` as one whole message (empty messages are valid).
///
/// The peer receives exactly this message with `arsock_client_recv_msg` (or any program that
/// speaks docs/PROTOCOL.md). The caller keeps ownership of `data`.
///
/// Blocking: per the send timeout (default -1: waits until the message fits in the send
/// queue). Small messages sent faster than one syscall each are coalesced and written within
/// about 0.1 ms; replies and messages after a pause are written straight through.
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
        let slices = bufs
            .iter()
            .enumerate()
            .map(|(i, b)| slice_arg(b.data, b.len, &format!("msgs[{i}].data")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(handles::client(client)?.send_msgs(&slices)?)
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
/// Blocks up to `timeout_ms`. Any thread; concurrent receives are serialized. Closing the
/// handle from another thread wakes a blocked receive at once (ARSOCK_ERR_CLOSED).
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
