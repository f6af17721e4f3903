//! The process-wide table behind `arsock_handle` values.

use super::{arsock_handle, FfiError};
use crate::conn::Connection;
use crate::error::Error;
use crate::poller::Poller;
use crate::registry::Registry;
use crate::server::Server;
use std::cell::RefCell;
use std::sync::{Arc, Weak};

#[derive(Clone)]
pub(crate) enum Object {
    Server(Arc<Server>),
    Client(Arc<Connection>),
    Poller(Arc<Poller>),
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
        Object::Poller(_) => "a poller",
    };
    FfiError::InvalidHandle(format!("handle {h:#x} is {is}, not {wanted}"))
}

pub(crate) fn poller(h: arsock_handle) -> Result<Arc<Poller>, FfiError> {
    match HANDLES.get(h) {
        Some(Object::Poller(p)) => Ok(p),
        Some(other) => Err(wrong_kind(h, &other, "a poller")),
        None => Err(missing(h)),
    }
}

/// A handle a poller can watch: a server or a client.
pub(crate) fn pollable(h: arsock_handle) -> Result<Object, FfiError> {
    match HANDLES.get(h) {
        Some(obj @ (Object::Server(_) | Object::Client(_))) => Ok(obj),
        Some(other) => Err(wrong_kind(
            h,
            &other,
            "a server or client (pollers watch those)",
        )),
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
    let removed = if crate::sys::fork_generation() == 0 {
        HANDLES.remove_if(h, |_| true)
    } else {
        // A forked child: a parent thread may have held the table's lock at fork time, and
        // it would never be released here. Try for a while rather than hang.
        let give_up = std::time::Instant::now() + std::time::Duration::from_millis(100);
        loop {
            match HANDLES.try_remove_if(h, |_| true) {
                Ok(obj) => break obj,
                Err(()) if std::time::Instant::now() < give_up => std::thread::yield_now(),
                Err(()) => {
                    return Err(FfiError::Core(Error::State(
                        "the handle table was locked by another thread when this process was \
                         forked: the handle cannot be closed in this child"
                            .into(),
                    )))
                }
            }
        }
    };
    match removed {
        Some(Object::Server(s)) => s.close(),
        Some(Object::Client(c)) => c.close(),
        Some(Object::Poller(p)) => p.close(),
        None => return Err(missing(h)),
    }
    Ok(())
}

/// Close a server, client or poller handle. The handle is invalid as soon as this returns.
///
/// Calls blocked on the handle in other threads return ARSOCK_ERR_CLOSED at once (a receive,
/// an accept, a send waiting for room, a poller wait). A closed server's port is free when
/// this returns. A closed server or client leaves the poller it was in. For a client, data already accepted by a send keeps
/// going to the peer in the background: the socket is released once the peer has
/// acknowledged all of it, or after ARSOCK_CLOSE_LINGER_MS at most (what is still undelivered
/// then is dropped). Unread data from the peer is discarded.
///
/// After fork(), a child may close handles it inherited: that closes only the child's copy of
/// the socket (the parent's connection or listener is untouched) and takes no lock a parent
/// thread may have held at fork time. Any other call on an inherited handle in the child
/// returns ARSOCK_ERR_STATE.
///
/// Never blocks (closing a server waits only for accepts in other threads to wake). Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_HANDLE (0, already closed, stale or never issued:
/// closing twice is this error, never a crash); ARSOCK_ERR_STATE (only in a forked child,
/// when another thread of the parent held arsock's handle table at the moment of fork(): the
/// handle cannot be closed there, and the call returns after 0.1 s instead of hanging);
/// ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_close(handle: arsock_handle) -> super::arsock_status {
    super::boundary(|| close(handle))
}
