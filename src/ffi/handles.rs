//! The process-wide table behind `arsock_handle` values.

use super::{arsock_handle, FfiError};
use crate::conn::Connection;
use crate::error::Error;
use crate::registry::Registry;
use crate::server::Server;
use std::sync::Arc;

#[derive(Clone)]
pub(crate) enum Object {
    Server(Arc<Server>),
    Client(Arc<Connection>),
}

static HANDLES: Registry<Object> = Registry::new();

pub(crate) fn insert(obj: Object) -> Result<arsock_handle, FfiError> {
    HANDLES
        .insert(obj)
        .ok_or_else(|| FfiError::Core(Error::State("out of handles".into())))
}

fn missing(h: arsock_handle) -> FfiError {
    FfiError::InvalidHandle(format!(
        "handle {h:#x} is not open (0, closed, stale or never issued)"
    ))
}

pub(crate) fn server(h: arsock_handle) -> Result<Arc<Server>, FfiError> {
    match HANDLES.get(h) {
        Some(Object::Server(s)) => Ok(s),
        Some(Object::Client(_)) => Err(FfiError::InvalidHandle(format!(
            "handle {h:#x} is a client, not a server"
        ))),
        None => Err(missing(h)),
    }
}

pub(crate) fn client(h: arsock_handle) -> Result<Arc<Connection>, FfiError> {
    match HANDLES.get(h) {
        Some(Object::Client(c)) => Ok(c),
        Some(Object::Server(_)) => Err(FfiError::InvalidHandle(format!(
            "handle {h:#x} is a server, not a client"
        ))),
        None => Err(missing(h)),
    }
}

/// Remove `h` from the table and close its object (waking calls blocked on it).
pub(crate) fn close(h: arsock_handle) -> Result<(), FfiError> {
    match HANDLES.remove_if(h, |_| true) {
        Some(Object::Server(s)) => s.close(),
        Some(Object::Client(c)) => c.close(),
        None => return Err(missing(h)),
    }
    Ok(())
}

/// Close a server or client handle. The handle is invalid as soon as this returns.
///
/// Calls blocked on the handle in other threads return ARSOCK_ERR_CLOSED promptly (a receive
/// at once, an accept within about 20 ms). For a client, data already accepted by a send keeps
/// going to the peer in the background for at most ARSOCK_CLOSE_LINGER_MS, then the socket is
/// closed; the OS delivers what it had already buffered as with any closed socket.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_HANDLE (0, already closed, stale or never issued:
/// closing twice is this error, never a crash); ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_close(handle: arsock_handle) -> super::arsock_status {
    super::boundary(|| close(handle))
}
