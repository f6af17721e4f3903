//! The library's one I/O thread (a reactor), started lazily on first use, on `mio` (epoll on
//! Linux and Android, kqueue on Apple platforms, IOCP/AFD on Windows).
//!
//! Everything that must happen without an application call — writing out queued leftovers,
//! coalescing timers, close-linger, session heartbeats, hub relaying — runs here as a
//! [`Handler`] registered for a socket's readiness and/or for timers. Application threads do
//! their own I/O inline and hand the reactor only what they cannot finish.
//!
//! Rules for handlers:
//! - Readiness is **edge-triggered** (mio's model): on `readable`/`writable`, do I/O until the OS
//!   says `WouldBlock`, or you will not be told again.
//! - Handlers run on the I/O thread and must never block: no waiting on a lock that an
//!   application thread may hold across a blocking call, no blocking syscall.
//! - A handler that panics is caught; the I/O thread keeps serving every other handler.
//! - Timers are one-shot and cannot be cancelled: a handler receives `on_timer(id)` for every
//!   `set_timer`, and ignores ids it no longer wants (e.g. keep a generation in the id).
//!   Timers of a removed token are dropped when they come due.
//! - Nothing runs while idle: with no timer due and no readiness, the thread sleeps in the poll
//!   call without a timeout (zero wakeups per second).
//! - Timers due within a millisecond fire on time (the OS poller counts whole milliseconds, so
//!   the thread sleeps precisely up to them instead; events wait at most that long). Send
//!   coalescing uses this for its 50 µs delay.

mod timers;

use mio::event::Source;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use std::collections::HashMap;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;
use std::time::Instant;
use timers::Timers;

/// Readiness reported to a handler.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// The peer closed its sending side, or the connection hung up or failed.
    pub closed: bool,
    /// The OS reports an error on the socket (read it with `take_error`).
    pub error: bool,
}

/// Something that reacts to readiness of a registered source and to its timers, on the I/O thread.
pub(crate) trait Handler: Send + Sync {
    /// The source registered with `token` became ready (edge-triggered).
    fn on_ready(&self, reactor: &Reactor, token: Token, ready: Ready);
    /// A timer set with [`Reactor::set_timer`] for `token` came due.
    fn on_timer(&self, reactor: &Reactor, token: Token, id: u64) {
        let _ = (reactor, token, id);
    }
}

type Job = Box<dyn FnOnce(&Reactor) + Send>;

/// The I/O thread's shared state. Obtain it with [`get`].
pub(crate) struct Reactor {
    registry: Registry,
    waker: Waker,
    pid: u32,
    thread: ThreadId,
    state: Mutex<State>,
}

struct State {
    handlers: HashMap<Token, Arc<dyn Handler>>,
    next_token: usize,
    timers: Timers,
    jobs: Vec<Job>,
    /// When the I/O thread will wake by itself (None: sleeps until an event or a wake).
    sleeping_until: Option<Instant>,
    /// The I/O thread is inside `poll` (so a new earlier timer or a job needs a wake).
    polling: bool,
}

const WAKER: Token = Token(0);
const EVENTS_PER_POLL: usize = 1024;

static REACTOR: Mutex<Option<&'static Reactor>> = Mutex::new(None);

/// The process's reactor, started on first call. Fails if the thread or the OS poller cannot be
/// created (the next call tries again), or in a child process after `fork()` (the I/O thread
/// does not exist there; handles inherited from the parent must only be closed in a child).
pub(crate) fn get() -> io::Result<&'static Reactor> {
    let mut slot = REACTOR.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = *slot {
        if r.pid != std::process::id() {
            return Err(io::Error::other(
                "arsock's I/O thread belongs to the parent process: after fork() a child may \
                 only close inherited handles",
            ));
        }
        return Ok(r);
    }
    let r = start()?;
    *slot = Some(r);
    Ok(r)
}

/// True in a forked child of the process that started the reactor (false if none was started).
pub(crate) fn in_forked_child() -> bool {
    let slot = REACTOR.lock().unwrap_or_else(|e| e.into_inner());
    slot.is_some_and(|r| r.pid != std::process::id())
}

fn start() -> io::Result<&'static Reactor> {
    let poll = Poll::new()?;
    let registry = poll.registry().try_clone()?;
    let waker = Waker::new(poll.registry(), WAKER)?;
    let (tx, rx) = std::sync::mpsc::sync_channel::<&'static Reactor>(1);
    let thread = std::thread::Builder::new()
        .name("arsock-io".into())
        .stack_size(256 << 10)
        .spawn(move || {
            if let Ok(r) = rx.recv() {
                r.run(poll);
            }
        })?;
    let reactor: &'static Reactor = Box::leak(Box::new(Reactor {
        registry,
        waker,
        pid: std::process::id(),
        thread: thread.thread().id(),
        state: Mutex::new(State {
            handlers: HashMap::new(),
            next_token: 1,
            timers: Timers::default(),
            jobs: Vec::new(),
            sleeping_until: None,
            polling: false,
        }),
    }));
    tx.send(reactor)
        .map_err(|_| io::Error::other("arsock I/O thread ended at start"))?;
    Ok(reactor)
}

impl Reactor {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// True when called on the I/O thread (inside a handler or a posted job).
    pub(crate) fn on_io_thread(&self) -> bool {
        std::thread::current().id() == self.thread
    }

    /// Register `source` for `interest`; `handler` gets its readiness from now on. Callable from
    /// any thread. Tokens are never reused while the process lives (on 32-bit targets: until
    /// 2^32 registrations).
    pub(crate) fn register<S: Source + ?Sized>(
        &self,
        source: &mut S,
        interest: Interest,
        handler: Arc<dyn Handler>,
    ) -> io::Result<Token> {
        let token = {
            let mut st = self.state();
            let mut t = st.next_token;
            while t == WAKER.0 || st.handlers.contains_key(&Token(t)) {
                t = t.wrapping_add(1);
            }
            st.next_token = t.wrapping_add(1);
            st.handlers.insert(Token(t), handler);
            Token(t)
        };
        if let Err(e) = self.registry.register(source, token, interest) {
            self.state().handlers.remove(&token);
            return Err(e);
        }
        Ok(token)
    }

    /// Change the interest of a registered source.
    pub(crate) fn reregister<S: Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.registry.reregister(source, token, interest)
    }

    /// Stop watching `source` and forget its handler (pending events and timers for `token` are
    /// dropped). Callable from any thread; after it returns the handler is not called again,
    /// except by a call already running on the I/O thread at that moment.
    pub(crate) fn deregister<S: Source + ?Sized>(&self, source: &mut S, token: Token) {
        let _ = self.registry.deregister(source);
        self.forget(token);
    }

    /// Forget the handler of `token` whose source is already gone (closed file descriptor).
    pub(crate) fn forget(&self, token: Token) {
        self.state().handlers.remove(&token);
    }

    /// Add a handler with no source, only for timers (e.g. a hub's housekeeping).
    pub(crate) fn add_timer_handler(&self, handler: Arc<dyn Handler>) -> Token {
        let mut st = self.state();
        let mut t = st.next_token;
        while t == WAKER.0 || st.handlers.contains_key(&Token(t)) {
            t = t.wrapping_add(1);
        }
        st.next_token = t.wrapping_add(1);
        st.handlers.insert(Token(t), handler);
        Token(t)
    }

    /// Call `on_timer(token, id)` on the I/O thread at or soon after `at`. Callable from any
    /// thread; wakes the I/O thread only if it would otherwise sleep past `at`.
    pub(crate) fn set_timer(&self, token: Token, at: Instant, id: u64) {
        let wake = {
            let mut st = self.state();
            st.timers.push(at, token, id);
            st.polling && st.sleeping_until.map_or(true, |s| at < s)
        };
        if wake && !self.on_io_thread() {
            let _ = self.waker.wake();
        }
    }

    /// Run `job` on the I/O thread soon. Callable from any thread.
    pub(crate) fn post(&self, job: impl FnOnce(&Reactor) + Send + 'static) {
        let wake = {
            let mut st = self.state();
            st.jobs.push(Box::new(job));
            st.polling
        };
        if wake && !self.on_io_thread() {
            let _ = self.waker.wake();
        }
    }

    fn handler(&self, token: Token) -> Option<Arc<dyn Handler>> {
        self.state().handlers.get(&token).cloned()
    }

    fn run(&'static self, mut poll: Poll) {
        crate::sys::precise_timers();
        let mut events = Events::with_capacity(EVENTS_PER_POLL);
        loop {
            let timeout = {
                let mut st = self.state();
                let next = st.timers.next_due();
                st.sleeping_until = next;
                st.polling = st.jobs.is_empty();
                if st.polling {
                    next.map(|at| at.saturating_duration_since(Instant::now()))
                } else {
                    Some(std::time::Duration::ZERO)
                }
            };
            let timeout = match timeout {
                Some(d) if !d.is_zero() && d < std::time::Duration::from_millis(1) => {
                    // Posts and timers set meanwhile need no wake: the poll below looks anyway.
                    self.state().polling = false;
                    std::thread::sleep(d);
                    Some(std::time::Duration::ZERO)
                }
                t => t,
            };
            let polled = poll.poll(&mut events, timeout);
            self.state().polling = false;
            if let Err(e) = polled {
                if e.kind() != io::ErrorKind::Interrupted {
                    // Nothing sensible to do but keep serving; avoid a hot loop.
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                continue;
            }
            for ev in events.iter() {
                if ev.token() == WAKER {
                    continue;
                }
                let Some(h) = self.handler(ev.token()) else {
                    continue;
                };
                let ready = Ready {
                    readable: ev.is_readable(),
                    writable: ev.is_writable(),
                    closed: ev.is_read_closed() || ev.is_write_closed(),
                    error: ev.is_error(),
                };
                let token = ev.token();
                let _ = catch_unwind(AssertUnwindSafe(|| h.on_ready(self, token, ready)));
            }
            let jobs = std::mem::take(&mut self.state().jobs);
            for job in jobs {
                let _ = catch_unwind(AssertUnwindSafe(|| job(self)));
            }
            let now = Instant::now();
            loop {
                let due = self.state().timers.pop_due(now);
                let Some((token, id)) = due else { break };
                if let Some(h) = self.handler(token) {
                    let _ = catch_unwind(AssertUnwindSafe(|| h.on_timer(self, token, id)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
