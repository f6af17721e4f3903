//! The process-wide table behind `arsock_handle` values.

use super::{arsock_handle, FfiError};
use crate::conn::Connection;
use crate::error::Error;
use crate::registry::Registry;
use crate::server::Server;
use crate::session::{Hub, Session};
use std::cell::RefCell;
use std::sync::{Arc, Weak};

#[derive(Clone)]
pub(crate) enum Object {
    Server(Arc<Server>),
    Client(Arc<Connection>),
    Hub(Arc<Hub>),
    Session(Arc<Session>),
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
        Some(other) => Err(wrong_kind(h, &other, "a server")),
        None => Err(missing(h)),
    }
}

fn wrong_kind(h: arsock_handle, obj: &Object, wanted: &str) -> FfiError {
    let is = match obj {
        Object::Server(_) => "a server",
        Object::Client(_) => "a client",
        Object::Hub(_) => "a hub",
        Object::Session(_) => "a session",
    };
    FfiError::InvalidHandle(format!("handle {h:#x} is {is}, not {wanted}"))
}

pub(crate) fn hub(h: arsock_handle) -> Result<Arc<Hub>, FfiError> {
    match HANDLES.get(h) {
        Some(Object::Hub(hub)) => Ok(hub),
        Some(other) => Err(wrong_kind(h, &other, "a hub")),
        None => Err(missing(h)),
    }
}

pub(crate) fn session(h: arsock_handle) -> Result<Arc<Session>, FfiError> {
    match HANDLES.get(h) {
        Some(Object::Session(s)) => Ok(s),
        Some(other) => Err(wrong_kind(h, &other, "a session")),
        None => Err(missing(h)),
    }
}

thread_local! {
    /// The client handle this thread used last. Hot loops call one connection many times;
    /// this saves the shared registry lock. It holds a `Weak`, so closing the handle still
    /// releases the socket, and handle values are never reused, so it cannot alias.
    static LAST_CLIENT: RefCell<(arsock_handle, Weak<Connection>)> = const { RefCell::new((0, Weak::new())) };
}

pub(crate) fn client(h: arsock_handle) -> Result<Arc<Connection>, FfiError> {
    let cached = LAST_CLIENT
        .try_with(|c| {
            let c = c.borrow();
            if c.0 == h {
                c.1.upgrade().filter(|conn| !conn.is_closed())
            } else {
                None
            }
        })
        .ok()
        .flatten();
    if let Some(conn) = cached {
        return Ok(conn);
    }
    match HANDLES.get(h) {
        Some(Object::Client(c)) => {
            let _ = LAST_CLIENT.try_with(|last| *last.borrow_mut() = (h, Arc::downgrade(&c)));
            Ok(c)
        }
        Some(other) => Err(wrong_kind(h, &other, "a client")),
        None => Err(missing(h)),
    }
}

/// Remove `h` from the table and close its object (waking calls blocked on it).
pub(crate) fn close(h: arsock_handle) -> Result<(), FfiError> {
    match HANDLES.remove_if(h, |_| true) {
        Some(Object::Server(s)) => s.close(),
        Some(Object::Client(c)) => c.close(),
        Some(Object::Hub(hub)) => hub.close(),
        Some(Object::Session(s)) => s.close(),
        None => return Err(missing(h)),
    }
    Ok(())
}

/// Close a server, client, hub or session handle. The handle is invalid as soon as this
/// returns.
///
/// Calls blocked on the handle in other threads return ARSOCK_ERR_CLOSED promptly (a receive
/// at once, an accept within about 20 ms). For a client, data already accepted by a send keeps
/// going to the peer in the background: the socket is released once the peer has
/// acknowledged all of it, or after ARSOCK_CLOSE_LINGER_MS at most (what is still undelivered
/// then is dropped). Unread data from the peer is discarded.
///
/// A hub sends every peer DISCONNECTED(HUB_SHUTDOWN) and closes its connections. A session
/// leaves its room: what it already sent still reaches the hub (for at most
/// ARSOCK_CLOSE_LINGER_MS), then the others see PEER_LEFT(REMOTE_CLOSE); a poll blocked on it
/// returns ARSOCK_ERR_CLOSED.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_HANDLE (0, already closed, stale or never issued:
/// closing twice is this error, never a crash); ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_close(handle: arsock_handle) -> super::arsock_status {
    super::boundary(|| close(handle))
}
