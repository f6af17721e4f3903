//! C functions of a poller: wait on many servers and clients from one thread.

use super::handles::{self, Object};
use super::{array_mut_arg, arsock_handle, arsock_status, boundary, invalid, out_ptr, timeout_arg};
use crate::poller::Poller;
use std::sync::Arc;

/// Poller event bit. Server: a connection can be accepted now. Client: a receive would not
/// wait (a whole message in message mode, bytes in raw mode or while the mode is not fixed
/// yet, or the end of the stream).
pub const ARSOCK_POLL_IN: u32 = 1;
/// Poller event bit. Client: a send would not wait (send queue below its limit).
pub const ARSOCK_POLL_OUT: u32 = 2;
/// Poller event bit. Client: the peer closed, reset or broke the protocol. Always reported,
/// whatever the event mask.
pub const ARSOCK_POLL_CLOSED: u32 = 4;

/// One ready handle, filled in by `arsock_poller_wait`.
#[allow(non_camel_case_types)]
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct arsock_poll_event {
    /// The server or client handle that is ready.
    pub handle: arsock_handle,
    /// ARSOCK_POLL_* bits that hold now.
    pub events: u32,
    /// Always 0.
    pub reserved: u32,
}

/// Create a poller: it waits on many server and client handles at once, from one thread,
/// without a thread per handle (each poller owns one OS poller: epoll, kqueue).
///
/// Rules: level-triggered (every `arsock_poller_wait` reports the handles that are ready
/// then, until they are not); a handle is in at most one poller; closing a handle removes it
/// from its poller; `arsock_close(poller)` removes every handle and wakes a blocked wait with
/// ARSOCK_ERR_CLOSED. On success `*out_poller` receives the poller handle, owned by the caller
/// until `arsock_close`. After fork(), a child may only close an inherited poller (that leaves
/// the parent's poller untouched); other calls on it return ARSOCK_ERR_STATE.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out_poller`); ARSOCK_ERR_IO (the OS
/// poller cannot be created, e.g. out of file descriptors); ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_poller_new(out_poller: *mut arsock_handle) -> arsock_status {
    boundary(|| {
        let out = out_ptr(out_poller, "out_poller")?;
        let poller = Poller::new()?;
        *out = handles::insert(Object::Poller(Arc::new(poller)))?;
        Ok(())
    })
}

/// Watch server or client handle `h` for `events` (ARSOCK_POLL_IN | ARSOCK_POLL_OUT; 0 is
/// allowed and reports only ARSOCK_POLL_CLOSED, e.g. to stop reading a peer for a while).
/// ARSOCK_POLL_CLOSED may be included; it is reported either way. For a server only
/// ARSOCK_POLL_IN is ever reported. A wait blocked in another thread wakes if `h` is ready.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (unknown bits in `events`);
/// ARSOCK_ERR_INVALID_HANDLE (`poller` is not an open poller, or `h` is not an open server or
/// client); ARSOCK_ERR_STATE (`h` is already in this poller: use `arsock_poller_modify`; or
/// `h` is in another poller; or `h` was inherited through fork()); ARSOCK_ERR_CLOSED (the
/// poller or `h` is being closed by another thread); ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_poller_add(
    poller: arsock_handle,
    h: arsock_handle,
    events: u32,
) -> arsock_status {
    boundary(|| {
        let p = handles::poller(poller)?;
        match handles::pollable(h)? {
            Object::Client(c) => p.add_connection(&c, h, events)?,
            Object::Server(s) => p.add_server(&s, h, events)?,
            _ => return Err(invalid("only servers and clients can be added to a poller")),
        }
        Ok(())
    })
}

/// Change the events watched for `h` (same bits as `arsock_poller_add`). A wait blocked in
/// another thread wakes at once if `h` is ready for the new events.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (unknown bits); ARSOCK_ERR_INVALID_HANDLE
/// (`poller` is not an open poller); ARSOCK_ERR_STATE (`h` is not in this poller, which
/// includes a closed `h`); ARSOCK_ERR_CLOSED (the poller is being closed); ARSOCK_ERR_IO;
/// ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_poller_modify(
    poller: arsock_handle,
    h: arsock_handle,
    events: u32,
) -> arsock_status {
    boundary(|| Ok(handles::poller(poller)?.modify(h, events)?))
}

/// Stop watching `h` (it may then be added to any poller). Closing `h` also removes it.
///
/// Never blocks. Any thread.
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_HANDLE (`poller` is not an open poller);
/// ARSOCK_ERR_STATE (`h` is not in this poller); ARSOCK_ERR_CLOSED (the poller is being
/// closed); ARSOCK_ERR_PANIC.
#[no_mangle]
pub extern "C" fn arsock_poller_remove(poller: arsock_handle, h: arsock_handle) -> arsock_status {
    boundary(|| Ok(handles::poller(poller)?.remove(h)?))
}

/// Wait up to `timeout_ms` (-1 forever, 0 poll, > 0 ms) until at least one watched handle
/// is ready, then write up to `cap` ready handles to `out[0..*out_n]`, each with the
/// ARSOCK_POLL_* bits that hold now (only bits in its mask, plus ARSOCK_POLL_CLOSED).
///
/// Level-triggered: a handle stays reported while it is ready (receive until
/// ARSOCK_ERR_TIMEOUT with timeout 0, or until fewer messages come, as you like). When more
/// than `cap` handles are ready, successive waits rotate through them, so none starves.
/// ARSOCK_POLL_CLOSED is held back while whole messages (or raw bytes) that arrived before the
/// end are still waiting and IN is watched: receiving them first loses nothing. The cost of a
/// wait grows with the ready handles, not with the watched ones. Extension frames alone do
/// not make a message-mode client ready.
///
/// A wait wakes at once when another thread's `arsock_poller_add`/`modify` or a receive makes
/// a handle ready, or when the poller is closed (ARSOCK_ERR_CLOSED). One thread waits on a
/// poller at a time (a second concurrent wait returns ARSOCK_ERR_STATE). Any thread.
///
/// `*out_n` and `out` are written only on ARSOCK_OK (a wait that times out leaves them
/// untouched).
///
/// Returns ARSOCK_OK; ARSOCK_ERR_INVALID_ARGUMENT (NULL `out` or `out_n`, `cap` 0, timeout
/// < -1); ARSOCK_ERR_INVALID_HANDLE (not an open poller); ARSOCK_ERR_TIMEOUT (nothing became
/// ready in time); ARSOCK_ERR_CLOSED (the poller was closed); ARSOCK_ERR_STATE (another
/// thread is waiting on this poller); ARSOCK_ERR_IO; ARSOCK_ERR_PANIC.
///
/// `out` must point to `cap` writable `arsock_poll_event`s and `out_n` to a writable `size_t`,
/// neither accessed by anything else during the call.
#[no_mangle]
pub extern "C" fn arsock_poller_wait(
    poller: arsock_handle,
    out: *mut arsock_poll_event,
    cap: usize,
    timeout_ms: i32,
    out_n: *mut usize,
) -> arsock_status {
    boundary(|| {
        if cap == 0 {
            return Err(invalid("cap is 0"));
        }
        let out = array_mut_arg(out, cap, "out")?;
        let out_n = out_ptr(out_n, "out_n")?;
        let timeout = timeout_arg(timeout_ms)?;
        let p = handles::poller(poller)?;
        let mut i = 0;
        let n = p.wait(cap, timeout, |ev| {
            if let Some(slot) = out.get_mut(i) {
                *slot = arsock_poll_event {
                    handle: ev.key,
                    events: ev.events,
                    reserved: 0,
                };
            }
            i += 1;
        })?;
        *out_n = n;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_event_bits_and_struct_match_the_core_and_the_contract() {
        use crate::poller::{POLL_CLOSED, POLL_IN, POLL_OUT};
        assert_eq!(
            (ARSOCK_POLL_IN, ARSOCK_POLL_OUT, ARSOCK_POLL_CLOSED),
            (1, 2, 4)
        );
        assert_eq!((POLL_IN, POLL_OUT, POLL_CLOSED), (1, 2, 4));
        assert_eq!(std::mem::size_of::<arsock_poll_event>(), 16);
        assert_eq!(std::mem::offset_of!(arsock_poll_event, events), 8);
        assert_eq!(std::mem::offset_of!(arsock_poll_event, reserved), 12);
    }
}
