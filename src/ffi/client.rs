//! C functions of a client handle (connected or accepted): connect, raw bytes, options.

use super::handles::{self, Object};
use super::{
    arsock_handle, arsock_status, boundary, invalid, out_ptr, slice_arg, slice_mut_arg, str_arg,
    timeout_arg,
};
use crate::conn::Connection;

use std::ffi::c_char;
use std::sync::Arc;

/// Connect to `host`:`port`, waiting at most `timeout_ms` (-1 forever, 0 a single attempt
/// that does not wait, > 0 ms). A name needs the resolver, which always takes some time, so
/// with timeout 0 only IP literals can connect (a name gives ARSOCK_ERR_TIMEOUT).
///
/// `host`: NUL-terminated UTF-8: IPv4 or IPv6 literal, or a name (each resolved address is
/// tried in turn; names are resolved by the OS within the same timeout). On success
/// `*out_client` receives a new client handle (TCP_NODELAY on), owned by the caller until
/// `arsock_close`.
///
/// Blocks up to `timeout_ms`. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `host`/`out_client`, bad UTF-8,
/// timeout < -1); ARSOCK_ERR_ADDRESS; ARSOCK_ERR_CONNECTION_REFUSED; ARSOCK_ERR_TIMEOUT;
/// ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_connect(
    host: *const c_char,
    port: u16,
    timeout_ms: i32,
    out_client: *mut arsock_handle,
) -> arsock_status {
    boundary(|| {
        let host = str_arg(host, "host")?;
        let out = out_ptr(out_client, "out_client")?;
        let timeout = timeout_arg(timeout_ms)?;
        let conn = Connection::connect(host, port, timeout)?;
        *out = handles::insert(Object::Client(Arc::new(conn)))?;
        Ok(())
    })
}

/// Raw mode: send all `len` bytes of `data`, like `sendall`. The bytes reach the peer exactly
/// as given (no framing), so the peer may be any plain TCP program.
///
/// `(NULL, 0)` is an empty send (OK, nothing happens). The caller keeps ownership of `data`;
/// arsock copies what the socket does not take at once.
///
/// Blocking: per the send timeout (`arsock_client_set_send_timeout`, default -1: waits
/// until the data fits in the send queue, like a blocking socket). Any thread; concurrent
/// sends on one connection are each delivered whole, in some order. The first send or
/// receive puts a connection in raw or message mode; the other kind then fails.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `data` with `len` > 0);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_STATE (connection is in message mode);
/// ARSOCK_ERR_CLOSED; ARSOCK_ERR_TIMEOUT / ARSOCK_ERR_WOULD_BLOCK (send queue full; nothing
/// queued); ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_send(
    client: arsock_handle,
    data: *const u8,
    len: usize,
) -> arsock_status {
    boundary(|| {
        let data = slice_arg(data, len, "data")?;
        Ok(handles::client(client)?.send(data)?)
    })
}

/// Raw mode: receive between 1 and `cap` bytes into `buf`, like `recv`, waiting at most
/// `timeout_ms` (-1 forever, 0 poll, > 0 ms). `*out_len` receives the byte count.
///
/// Blocks up to `timeout_ms`. Any thread; concurrent receives on one connection are
/// serialized, but a receive never waits past its own timeout for another thread's receive
/// (timeout 0 never blocks). Closing the handle from another thread wakes a blocked receive
/// at once (ARSOCK_ERR_CLOSED).
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `buf` or `out_len`, `cap` 0, timeout
/// < -1); ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_STATE (message mode); ARSOCK_ERR_TIMEOUT;
/// ARSOCK_ERR_CLOSED (the peer closed and all data was read, or the handle was closed);
/// ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_recv(
    client: arsock_handle,
    buf: *mut u8,
    cap: usize,
    timeout_ms: i32,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        if cap == 0 {
            return Err(invalid("cap is 0"));
        }
        let buf = slice_mut_arg(buf, cap, "buf")?;
        let out = out_ptr(out_len, "out_len")?;
        let timeout = timeout_arg(timeout_ms)?;
        *out = handles::client(client)?.recv(buf, timeout)?;
        Ok(())
    })
}

/// How long sends on this connection may wait for room in its send queue: -1 (default)
/// waits as long as it takes, like a blocking socket; 0 never blocks (a full queue gives
/// ARSOCK_ERR_WOULD_BLOCK, for render loops); > 0 waits at most that many ms, then
/// ARSOCK_ERR_TIMEOUT. A rejected message is never partly queued.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (timeout < -1); ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_set_send_timeout(
    client: arsock_handle,
    timeout_ms: i32,
) -> arsock_status {
    boundary(|| {
        let timeout = timeout_arg(timeout_ms)?;
        handles::client(client)?.set_send_timeout(timeout);
        Ok(())
    })
}

/// Bytes the send queue may hold (default ARSOCK_DEFAULT_SEND_QUEUE_LIMIT). Data the socket
/// does not take at once waits there and is written in the background, even if the
/// application makes no further call. A message larger than the limit is still accepted into
/// an empty queue, so no message is unsendable.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_set_send_queue_limit(
    client: arsock_handle,
    max_bytes: usize,
) -> arsock_status {
    boundary(|| {
        handles::client(client)?.set_send_queue_limit(max_bytes);
        Ok(())
    })
}

/// Bytes accepted by sends on this connection that the OS has not taken yet.
///
/// Never blocks (beyond a short internal lock). Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_len`);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_send_queue_len(
    client: arsock_handle,
    out_len: *mut usize,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_len, "out_len")?;
        *out = handles::client(client)?.send_queue_len();
        Ok(())
    })
}

/// Message mode: how long a message whose first byte has arrived may take to arrive whole
/// (default ARSOCK_DEFAULT_FRAME_TIMEOUT_MS; -1 disables). Past it, the rest must keep coming
/// at 4 KiB/s or more (measured over 1 s); a peer that stalls or trickles fails the connection
/// with ARSOCK_ERR_PROTOCOL, so a hostile or dead peer cannot pin a receiver. A healthy peer
/// that was only held back because this side did not read for a while passes that check as
/// soon as reading resumes. Checked while receiving.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (0 or < -1); ARSOCK_ERR_INVALID_HANDLE;
/// ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_client_set_frame_timeout(
    client: arsock_handle,
    timeout_ms: i32,
) -> arsock_status {
    boundary(|| {
        let timeout = timeout_arg(timeout_ms)?;
        Ok(handles::client(client)?.set_frame_timeout(timeout)?)
    })
}
