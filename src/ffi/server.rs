//! C functions of a server handle: bind, listen, accept, local port.

use super::handles::{self, Object};
use super::{arsock_handle, arsock_status, boundary, out_ptr, str_arg, timeout_arg};
use crate::server::Server;
use std::ffi::c_char;
use std::sync::Arc;

/// Create a server socket bound to `host`:`port`.
///
/// `host`: NUL-terminated UTF-8; an IPv4 literal ("127.0.0.1", "0.0.0.0"), an IPv6 literal
/// ("::1", "::", with or without brackets) or a name ("localhost"; the first address that
/// binds is used). `port` 0 picks a free port (see `arsock_server_local_port`).
/// On success `*out_server` receives a new server handle, owned by the caller until
/// `arsock_close`. SO_REUSEADDR is set, so a restarted server can rebind at once.
///
/// Blocks only while a name is resolved by the OS resolver. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `host` or `out_server`, bad UTF-8);
/// ARSOCK_ERR_ADDRESS (host cannot be parsed or resolved, or is not local);
/// ARSOCK_ERR_ADDRESS_IN_USE; ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_server_bind(
    host: *const c_char,
    port: u16,
    out_server: *mut arsock_handle,
) -> arsock_status {
    boundary(|| {
        let host = str_arg(host, "host")?;
        let out = out_ptr(out_server, "out_server")?;
        let server = Server::bind(host, port)?;
        *out = handles::insert(Object::Server(Arc::new(server)))?;
        Ok(())
    })
}

/// Start accepting connections on a bound server.
///
/// `backlog`: queue length for connections not yet accepted; 0 means 128.
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (negative backlog);
/// ARSOCK_ERR_INVALID_HANDLE (not an open server handle); ARSOCK_ERR_STATE (already
/// listening); ARSOCK_ERR_ADDRESS_IN_USE (another socket listens on the port);
/// ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_server_listen(server: arsock_handle, backlog: i32) -> arsock_status {
    boundary(|| Ok(handles::server(server)?.listen(backlog)?))
}

/// Accept one connection, waiting at most `timeout_ms` (-1 forever, 0 poll, > 0 ms).
///
/// On success `*out_client` receives a new client handle for the accepted connection
/// (TCP_NODELAY on), owned by the caller until `arsock_close`; all `arsock_client_*`
/// functions work on it.
///
/// Blocks up to `timeout_ms`. Any thread; several threads may accept on one server. If the
/// server is closed from another thread, a blocked accept returns ARSOCK_ERR_CLOSED at once.
/// A waiting accept costs no CPU (no periodic wakeups).
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_client`, timeout < -1);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_STATE (not listening); ARSOCK_ERR_TIMEOUT;
/// ARSOCK_ERR_CLOSED (server closed during the call); ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_server_accept(
    server: arsock_handle,
    timeout_ms: i32,
    out_client: *mut arsock_handle,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_client, "out_client")?;
        let timeout = timeout_arg(timeout_ms)?;
        let conn = handles::server(server)?.accept(timeout)?;
        *out = handles::insert(Object::Client(Arc::new(conn)))?;
        Ok(())
    })
}

/// The local port a server is bound to (the chosen one when bound to port 0).
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_port`);
/// ARSOCK_ERR_INVALID_HANDLE; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_server_local_port(
    server: arsock_handle,
    out_port: *mut u16,
) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_port, "out_port")?;
        *out = handles::server(server)?.local_addr().port();
        Ok(())
    })
}
