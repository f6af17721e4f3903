//! A connection's work on the library's I/O thread (`crate::reactor`): writing queued bytes
//! as the socket drains, the close-linger, and giving idle memory back. The socket is
//! registered (write readiness, edge-triggered) the first time there is such work and stays
//! registered until the connection is released; an idle connection costs the I/O thread
//! nothing (no timer, no wakeup).

use super::send::SendState;
use super::Shared;
use crate::reactor::{self, Handler, Reactor, Ready};
use crate::sys;
use mio::{Interest, Token};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Timer ids.
const TIMER_FLUSH: u64 = 0;
const TIMER_RETRY: u64 = 1;
const TIMER_LINGER: u64 = 2;
const TIMER_TRIM: u64 = 3;
const TIMER_RECV_TRIM: u64 = 4;

/// How long a burst may gather in the queue before the I/O thread writes it (one syscall for
/// many messages; the sender writes it itself once `policy::FLUSH_THRESHOLD` bytes gathered).
const COALESCE_DELAY: Duration = Duration::from_micros(50);
/// A drained send queue holding more than this is given back after `TRIM_AFTER` idle.
const TRIM_KEEP: usize = 4 << 10;
const TRIM_AFTER: Duration = Duration::from_millis(500);
/// Close-linger: check whether the peer acknowledged everything after this, doubling.
const LINGER_FIRST_MS: u64 = 2;
const LINGER_MAX_STEP_MS: u64 = 256;

/// After idle buffers were released, the free heap pages go back to the OS once (see
/// `sys::release_free_memory`), this long after the first release of a round.
const RELEASE_DELAY: Duration = Duration::from_millis(100);

/// Runs `sys::release_free_memory` on the I/O thread, at most once per `RELEASE_DELAY`.
struct MemoryRelease {
    armed: AtomicBool,
}

impl Handler for MemoryRelease {
    fn on_ready(&self, _r: &Reactor, _token: Token, _ready: Ready) {}

    fn on_timer(&self, _r: &Reactor, _token: Token, _id: u64) {
        self.armed.store(false, SeqCst);
        sys::release_free_memory();
    }
}

/// Buffers were released: have the free memory go back to the OS soon (once for many).
fn release_memory_soon(r: &Reactor) {
    static TOKEN: std::sync::OnceLock<(Token, Arc<MemoryRelease>)> = std::sync::OnceLock::new();
    let (token, handler) = TOKEN.get_or_init(|| {
        let h = Arc::new(MemoryRelease {
            armed: AtomicBool::new(false),
        });
        (r.add_timer_handler(h.clone()), h)
    });
    if !handler.armed.swap(true, SeqCst) {
        r.set_timer(*token, Instant::now() + RELEASE_DELAY, 0);
    }
}

/// The handler the I/O thread holds while the socket is registered: a strong reference, so
/// a closed connection's socket lives until the linger is over.
struct Io(Arc<Shared>);

impl Handler for Io {
    fn on_ready(&self, r: &Reactor, _token: Token, _ready: Ready) {
        self.0.drive_now(r, |_| {});
    }

    fn on_timer(&self, r: &Reactor, token: Token, id: u64) {
        let sh = &self.0;
        if id == TIMER_FLUSH {
            // While the application holds the lock it is sending (and writes full batches
            // itself): look again a little later instead of queueing on the lock, which would
            // make every unlock of the sending thread a futex syscall.
            let busy = matches!(sh.send.try_lock(), Err(std::sync::TryLockError::WouldBlock));
            if busy && !sh.closed.load(Acquire) {
                r.set_timer(token, Instant::now() + COALESCE_DELAY, TIMER_FLUSH);
                return;
            }
            return sh.drive_now(r, |st| st.flush_posted = false);
        }
        if id == TIMER_RECV_TRIM {
            let (again, freed) = match sh.try_lock_recv() {
                Some(mut st) => st.trim_if_idle(),
                None => (true, false), // a receive is running: idle later, if at all
            };
            if freed {
                release_memory_soon(r);
            }
            if again && !sh.closed.load(Acquire) {
                r.set_timer(token, Instant::now() + TRIM_AFTER, TIMER_RECV_TRIM);
            }
            return;
        }
        if id != TIMER_TRIM {
            return sh.drive_now(r, |_| {});
        }
        let mut st = sh.lock_send();
        st.trim_armed = false;
        if st.pending() > 0 || sh.closed.load(Acquire) {
            return;
        }
        let idle_since = st.last_write.unwrap_or_else(Instant::now);
        if idle_since.elapsed() >= TRIM_AFTER {
            st.queue = Vec::new();
            release_memory_soon(r);
        } else if let Some(t) = st.reg {
            st.trim_armed = true;
            r.set_timer(t, idle_since + TRIM_AFTER, TIMER_TRIM);
        }
    }
}

impl Shared {
    /// Queued bytes are waiting: have the I/O thread write them after `COALESCE_DELAY` (this
    /// is the coalescing: sends made meanwhile join the same write).
    pub(super) fn flush_later(self: &Arc<Self>, st: &mut SendState) {
        if st.flush_posted || st.no_reactor {
            return;
        }
        let Ok(r) = reactor::get() else {
            st.no_reactor = true;
            let _ = st.write_queue(self); // what the socket takes now goes now
            return;
        };
        self.ensure_registered(r, st);
        match st.reg {
            Some(t) => {
                st.flush_posted = true;
                r.set_timer(t, Instant::now() + COALESCE_DELAY, TIMER_FLUSH);
            }
            None => {
                let _ = st.write_queue(self);
            }
        }
    }

    /// Register the socket with the I/O thread (once) so that it hears when the socket drains.
    pub(super) fn ensure_registered(self: &Arc<Self>, r: &Reactor, st: &mut SendState) {
        if st.reg.is_some() || st.released {
            return;
        }
        let handler: Arc<dyn Handler> = Arc::new(Io(Arc::clone(self)));
        match r.register(
            &mut sys::source(&self.fd),
            Interest::WRITABLE,
            handler.clone(),
        ) {
            Ok(t) => st.reg = Some(t),
            Err(_) => {
                // The OS refused to watch the socket (e.g. out of memory): keep the work on
                // the I/O thread with timers alone, so queued data and the close-linger still
                // go on (never dropped with the socket).
                st.reg = Some(r.add_timer_handler(handler));
                st.timers_only = true;
            }
        }
    }

    /// A drained queue that grew: give it back once the connection has been idle a while.
    pub(super) fn arm_trim(self: &Arc<Self>, st: &mut SendState) {
        if st.trim_armed || st.queue.capacity() <= TRIM_KEEP || st.no_reactor {
            return;
        }
        let Ok(r) = reactor::get() else { return };
        self.ensure_registered(r, st);
        if let Some(t) = st.reg {
            st.trim_armed = true;
            r.set_timer(t, Instant::now() + TRIM_AFTER, TIMER_TRIM);
        }
    }

    /// A receive buffer grew: have the I/O thread give it back once the connection is idle.
    pub(super) fn arm_recv_trim(self: &Arc<Self>) {
        let Ok(r) = reactor::get() else { return };
        let mut st = self.lock_send();
        if st.no_reactor {
            return;
        }
        self.ensure_registered(r, &mut st);
        if let Some(t) = st.reg {
            r.set_timer(t, Instant::now() + TRIM_AFTER, TIMER_RECV_TRIM);
        }
    }

    /// On the I/O thread: take the send lock, run `first`, then `drive`; tell the poller (if
    /// any) after the lock is released (a poller's check takes the send lock under its own).
    pub(super) fn drive_now(self: &Arc<Self>, r: &Reactor, first: impl FnOnce(&mut SendState)) {
        let room = {
            let mut st = self.lock_send();
            first(&mut st);
            self.drive(r, &mut st)
        };
        if room {
            self.poll_link.mark_ready();
        }
    }

    /// On the I/O thread: write what is queued, wake senders waiting for room, and carry the
    /// close-linger forward. Called for a posted flush, write readiness and timers. Returns
    /// true if the queue went below its limit (a poller may report OUT).
    fn drive(self: &Arc<Self>, r: &Reactor, st: &mut SendState) -> bool {
        if st.released {
            return false;
        }
        let before = st.pending();
        if before > 0 && st.broken().is_none() {
            match st.write_queue(self) {
                Ok(true) => st.stalls = 0,
                Ok(false) => st.stalls += 1,
                Err(_) => {}
            }
        }
        let mut room = false;
        if st.pending() != before || st.broken().is_some() {
            self.room.notify_all();
            room = st.pending() < self.queue_limit.load(Relaxed).max(1);
        }
        // The linger starts when `close_send_side` has set its deadline (under this lock), not
        // when `closed` is set: `close` sets the flag first and takes this lock only after, so
        // a drive in between must carry on as if open (`close_send_side` posts the next one).
        if let Some(until) = st.linger_until {
            self.linger(r, st, until);
            return false;
        }
        if st.pending() > 0 && st.broken().is_none() {
            self.ensure_registered(r, st);
            if st.stalls > 0 || st.timers_only {
                // Writable, yet the socket took nothing (kernel buffers short: ENOBUFS):
                // no edge will come for that, so retry, backing off 1 ms doubling to 1 s.
                let ms = 1u64 << st.stalls.saturating_sub(1).min(10);
                if let Some(t) = st.reg {
                    r.set_timer(t, Instant::now() + Duration::from_millis(ms), TIMER_RETRY);
                }
            }
        } else if st.pending() == 0 {
            self.arm_trim(st);
        }
        room
    }

    /// After `close`: finish writing the queue, send FIN, and hold the socket until the peer
    /// acknowledged everything or the linger ran out; then release it. Checks back off from
    /// 2 ms to 256 ms, so a thousand lingering connections cost little.
    fn linger(self: &Arc<Self>, r: &Reactor, st: &mut SendState, until: Instant) {
        let now = Instant::now();
        if st.pending() > 0 && (now >= until || st.broken().is_some()) {
            let rest = st.pending();
            st.advance(rest); // linger over: drop what is left
        }
        if st.pending() > 0 {
            // Still writing: write readiness drives us; the timer ends the linger on time.
            self.ensure_registered(r, st);
            if let Some(t) = st.reg {
                let step = self.next_linger_step(st);
                r.set_timer(t, (now + step).min(until), TIMER_LINGER);
            }
            return;
        }
        if !st.fin_sent {
            let _ = self.sock.shutdown(Shutdown::Write);
            st.fin_sent = true;
        }
        let delivered = sys::unacked_bytes(self.fd).map_or(true, |n| n == 0);
        if delivered || now >= until || sys::has_error(self.fd) {
            self.release(st);
            return;
        }
        self.ensure_registered(r, st);
        if let Some(t) = st.reg {
            let step = self.next_linger_step(st);
            r.set_timer(t, (now + step).min(until), TIMER_LINGER);
        }
    }

    fn next_linger_step(&self, st: &mut SendState) -> Duration {
        st.linger_step_ms = if st.linger_step_ms == 0 {
            LINGER_FIRST_MS
        } else {
            (st.linger_step_ms * 2).min(LINGER_MAX_STEP_MS)
        };
        Duration::from_millis(st.linger_step_ms)
    }

    /// The connection is done with the I/O thread: forget the registration (dropping the
    /// handler's reference, so the socket closes once the application's handle is gone too).
    pub(super) fn release(&self, st: &mut SendState) {
        st.released = true;
        st.queue = Vec::new();
        if let Some(t) = st.reg.take() {
            if let Ok(r) = reactor::get() {
                r.deregister(&mut sys::source(&self.fd), t);
            }
        }
    }
}
