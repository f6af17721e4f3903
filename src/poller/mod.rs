//! A poller: wait on many servers and connections from one thread, level-triggered.
//!
//! Each poller owns an OS poller (`mio::Poll`: epoll, kqueue) that the waiting thread blocks in
//! directly, so a wake costs what it costs a C event loop. The OS reports edges; the poller turns
//! them into level-triggered readiness with a list of *candidates*: a handle becomes a candidate
//! on an OS edge, when it is added or modified, and when a receive leaves whole messages in its
//! user-space buffer. Each `wait` checks candidates in order (no syscall for most checks: a
//! connection knows whether its socket may hold unread bytes), reports the ready ones (they stay
//! candidates, moved to the back so none starves beyond `cap`) and drops the others until their
//! next edge. The cost of a wait is proportional to the ready handles, not the registered ones.

mod link;

pub(crate) use link::PollLink;

use crate::conn::{ConnShared, Connection};
use crate::error::{Error, Result};
use crate::server::{Server, ServerShared};
use crate::sys;
use crate::timeout::{Deadline, Timeout};
use mio::{Events, Interest, Poll, Token, Waker};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

/// Readiness bit: a server can accept now; a connection's receive would not wait.
pub const POLL_IN: u32 = 1;
/// Readiness bit: a connection's send would not wait (send queue below its limit).
pub const POLL_OUT: u32 = 2;
/// Readiness bit: the peer closed, reset or broke the protocol (always reported).
pub const POLL_CLOSED: u32 = 4;
const KNOWN: u32 = POLL_IN | POLL_OUT | POLL_CLOSED;

const WAKER: Token = Token(usize::MAX);
const EVENTS_PER_WAIT: usize = 256;

/// One ready handle reported by [`Poller::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollEvent {
    /// The key the handle was added with.
    pub key: u64,
    /// `POLL_*` bits.
    pub events: u32,
}

/// What a poller watches.
#[derive(Clone)]
pub(crate) enum Target {
    Conn(Arc<ConnShared>),
    Server(Arc<ServerShared>),
}

impl Target {
    fn fd(&self) -> RawFd {
        match self {
            Target::Conn(c) => c.raw_fd(),
            Target::Server(s) => s.raw_fd(),
        }
    }

    fn link(&self) -> &PollLink {
        match self {
            Target::Conn(c) => c.poll_link(),
            Target::Server(s) => s.poll_link(),
        }
    }

    fn is_closed(&self) -> bool {
        match self {
            Target::Conn(c) => c.is_closed(),
            Target::Server(s) => s.is_closed(),
        }
    }

    fn ready(&self, want: u32) -> u32 {
        match self {
            Target::Conn(c) => c.poll_ready(want),
            Target::Server(s) => s.poll_ready(want),
        }
    }

    fn note_edge(&self, ev: &mio::event::Event) {
        if let Target::Conn(c) = self {
            c.note_edge(
                ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                ev.is_read_closed() || ev.is_error(),
            );
        }
    }
}

struct Entry {
    key: u64,
    target: Target,
    events: u32,
    /// In the candidate list.
    queued: bool,
}

#[derive(Default)]
struct State {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    by_key: HashMap<u64, usize>,
    candidates: VecDeque<usize>,
    /// Scratch list for `report` (kept to avoid an allocation per wait).
    again: Vec<usize>,
}

impl State {
    fn queue(&mut self, slot: usize) {
        if let Some(Some(e)) = self.slots.get_mut(slot) {
            if !e.queued {
                e.queued = true;
                self.candidates.push_back(slot);
            }
        }
    }
}

pub(crate) struct PollerShared {
    /// The OS poller and its event buffer, owned by the waiting thread.
    poll: Mutex<(Poll, Events)>,
    registry: mio::Registry,
    waker: Waker,
    state: Mutex<State>,
    /// A thread is (about to be) blocked in the OS poller: a new candidate needs a wake.
    waiting: AtomicBool,
    closed: AtomicBool,
    /// `sys::fork_generation()` at creation: in a forked child the OS poller is the parent's
    /// (an epoll set is shared across fork), so only `close` may touch it, and that leaves it
    /// alone.
    fork_gen: u64,
}

/// Waits on many servers and connections at once. See the module doc.
pub struct Poller {
    shared: Arc<PollerShared>,
}

fn interest(events: u32) -> Interest {
    // Readable is always watched: it is how a hang-up (CLOSED) shows, whatever the mask.
    if events & POLL_OUT != 0 {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

fn check_mask(events: u32) -> Result<()> {
    if events & !KNOWN != 0 {
        return Err(Error::InvalidArgument(format!(
            "unknown event bits {:#x} (known: IN 1, OUT 2, CLOSED 4)",
            events & !KNOWN
        )));
    }
    Ok(())
}

impl Poller {
    /// A new poller (one OS poller and one waker; no thread).
    pub fn new() -> Result<Poller> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        Ok(Poller {
            shared: Arc::new(PollerShared {
                poll: Mutex::new((poll, Events::with_capacity(EVENTS_PER_WAIT))),
                registry,
                waker,
                state: Mutex::new(State::default()),
                waiting: AtomicBool::new(false),
                closed: AtomicBool::new(false),
                fork_gen: sys::fork_generation(),
            }),
        })
    }

    /// Watch a connection for `events` (`POLL_*` bits; 0 reports only CLOSED), reported
    /// under `key`. [`Error::State`] if `key` is already in this poller or the connection is in
    /// a poller; [`Error::InvalidArgument`] for unknown bits.
    pub fn add_connection(&self, conn: &Connection, key: u64, events: u32) -> Result<()> {
        self.shared.add(Target::Conn(conn.shared()), key, events)
    }

    /// Watch a server: IN when an accept would not wait. Same rules as `add_connection`.
    pub fn add_server(&self, server: &Server, key: u64, events: u32) -> Result<()> {
        self.shared
            .add(Target::Server(server.shared()), key, events)
    }

    /// Change the events watched for `key`; wakes a wait if the handle is ready now.
    pub fn modify(&self, key: u64, events: u32) -> Result<()> {
        self.shared.modify(key, events)
    }

    /// Stop watching `key`.
    pub fn remove(&self, key: u64) -> Result<()> {
        self.shared.remove_key(key)
    }

    /// Wait up to `timeout` until at least one handle is ready; report at most `cap` of them
    /// through `emit` and return how many. [`Error::Timeout`] if none became ready in time,
    /// [`Error::Closed`] if the poller is closed, [`Error::State`] if another thread is
    /// already waiting on this poller.
    pub fn wait(&self, cap: usize, timeout: Timeout, emit: impl FnMut(PollEvent)) -> Result<usize> {
        self.shared.wait(cap, timeout, emit)
    }

    /// Close the poller: a blocked wait returns [`Error::Closed`] at once, every handle is
    /// removed. Idempotent.
    pub fn close(&self) {
        self.shared.close();
    }
}

impl Drop for Poller {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl PollerShared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn in_forked_child(&self) -> bool {
        self.fork_gen != sys::fork_generation()
    }

    fn check_open(&self) -> Result<()> {
        if self.in_forked_child() {
            return Err(Error::State(
                "this poller was created by the parent process: after fork() a child may only \
                 close it"
                    .into(),
            ));
        }
        if self.closed.load(Acquire) {
            return Err(Error::Closed("the poller was closed".into()));
        }
        Ok(())
    }

    fn add(self: &Arc<Self>, target: Target, key: u64, events: u32) -> Result<()> {
        check_mask(events)?;
        self.check_open()?; // before any lock: in a forked child it must not be taken
        let mut st = self.state();
        self.check_open()?;
        if st.by_key.contains_key(&key) {
            return Err(Error::State(
                "the handle is already in this poller (use modify to change its events)".into(),
            ));
        }
        let slot = st.free.pop().unwrap_or(st.slots.len());
        target
            .link()
            .attach(Arc::downgrade(self), slot)
            .map_err(|_| Error::State("the handle is already in another poller".into()))?;
        let fd = target.fd();
        if let Err(e) = self
            .registry
            .register(&mut sys::source(&fd), Token(slot), interest(events))
        {
            target.link().detach();
            st.free.push(slot);
            return Err(Error::Io(e));
        }
        let entry = Entry {
            key,
            target,
            events,
            queued: false,
        };
        if slot == st.slots.len() {
            st.slots.push(Some(entry));
        } else {
            st.slots[slot] = Some(entry);
        }
        st.by_key.insert(key, slot);
        // Closed meanwhile (its close found no link to leave): undo. A close from now on
        // finds the link and removes the handle itself.
        if let Some(Some(e)) = st.slots.get(slot) {
            if e.target.is_closed() {
                if let Some(target) = self.drop_slot(&mut st, slot) {
                    target.link().detach();
                }
                return Err(Error::Closed("the handle was closed".into()));
            }
        }
        st.queue(slot);
        drop(st);
        self.wake_waiter();
        Ok(())
    }

    fn modify(&self, key: u64, events: u32) -> Result<()> {
        check_mask(events)?;
        self.check_open()?; // before any lock: in a forked child it must not be taken
        let mut st = self.state();
        self.check_open()?;
        let slot = *st
            .by_key
            .get(&key)
            .ok_or_else(|| Error::State("the handle is not in this poller".into()))?;
        let Some(Some(e)) = st.slots.get_mut(slot) else {
            return Err(Error::State("the handle is not in this poller".into()));
        };
        e.events = events;
        let fd = e.target.fd();
        // Re-arming also makes the OS report the handle again if it is ready now.
        self.registry
            .reregister(&mut sys::source(&fd), Token(slot), interest(events))?;
        st.queue(slot);
        drop(st);
        self.wake_waiter();
        Ok(())
    }

    fn remove_key(&self, key: u64) -> Result<()> {
        self.check_open()?; // before any lock: in a forked child it must not be taken
        let mut st = self.state();
        self.check_open()?;
        let slot = st
            .by_key
            .get(&key)
            .copied()
            .ok_or_else(|| Error::State("the handle is not in this poller".into()))?;
        if let Some(target) = self.drop_slot(&mut st, slot) {
            target.link().detach();
        }
        Ok(())
    }

    /// Remove `slot` (the target's link is the caller's business). Returns its target.
    fn drop_slot(&self, st: &mut State, slot: usize) -> Option<Target> {
        let entry = st.slots.get_mut(slot)?.take()?;
        st.by_key.remove(&entry.key);
        st.free.push(slot);
        let fd = entry.target.fd();
        let _ = self.registry.deregister(&mut sys::source(&fd));
        Some(entry.target)
    }

    /// Called by a closing handle (its link already cleared): forget it.
    pub(crate) fn forget_slot(&self, slot: usize, link: &PollLink) {
        let mut st = self.state();
        // The slot may have been removed and reused meanwhile: only drop it if it is ours.
        let ours =
            matches!(st.slots.get(slot), Some(Some(e)) if std::ptr::eq(e.target.link(), link));
        if ours {
            self.drop_slot(&mut st, slot);
        }
    }

    /// Called by a handle that became ready outside the OS poller's view (e.g. whole messages
    /// left in its buffer by a receive).
    pub(crate) fn mark_ready(&self, slot: usize) {
        self.state().queue(slot);
        self.wake_waiter();
    }

    fn wake_waiter(&self) {
        if self.waiting.load(SeqCst) {
            let _ = self.waker.wake();
        }
    }

    fn close(&self) {
        if self.closed.swap(true, AcqRel) || self.in_forked_child() {
            // In a forked child: no lock (a parent thread may have held one at fork time) and
            // no change to the OS poller, which the parent still uses; the child's copies of
            // its descriptors close when the poller is dropped.
            return;
        }
        let _ = self.waker.wake();
        let mut st = self.state();
        for slot in 0..st.slots.len() {
            if let Some(target) = self.drop_slot(&mut st, slot) {
                target.link().detach();
            }
        }
        st.candidates.clear();
    }

    fn wait(&self, cap: usize, timeout: Timeout, mut emit: impl FnMut(PollEvent)) -> Result<usize> {
        if cap == 0 {
            return Err(Error::InvalidArgument("cap is 0".into()));
        }
        self.check_open()?;
        let mut guard = match self.poll.try_lock() {
            Ok(p) => p,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => {
                return Err(Error::State(
                    "another thread is already waiting on this poller".into(),
                ))
            }
        };
        let (poll, events) = &mut *guard;
        let deadline = timeout.deadline();
        loop {
            self.check_open()?;
            let block = {
                let st = self.state();
                self.waiting.store(true, SeqCst);
                st.candidates.is_empty()
            };
            let os_timeout = if block {
                match deadline {
                    Deadline::Never => None,
                    Deadline::Now => Some(std::time::Duration::ZERO),
                    Deadline::At(t) => Some(t.saturating_duration_since(std::time::Instant::now())),
                }
            } else {
                Some(std::time::Duration::ZERO)
            };
            // A close that came before `waiting` was set did not wake us: look again.
            let polled = if self.closed.load(Acquire) {
                Ok(())
            } else {
                poll.poll(events, os_timeout)
            };
            self.waiting.store(false, SeqCst);
            match polled {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
            self.check_open()?;
            let mut st = self.state();
            for ev in events.iter() {
                let slot = ev.token().0;
                if ev.token() == WAKER {
                    continue;
                }
                if let Some(Some(e)) = st.slots.get(slot) {
                    e.target.note_edge(ev);
                    st.queue(slot);
                }
            }
            let n = Self::report(&mut st, cap, &mut emit);
            if n > 0 {
                return Ok(n);
            }
            drop(st);
            if deadline.expired() {
                return Err(Error::Timeout);
            }
        }
    }

    /// Check candidates in order: ready ones are reported and move to the back; the others
    /// leave the list until their next edge. Stops after `cap` reports (the unchecked rest
    /// stays at the front for the next wait).
    fn report(st: &mut State, cap: usize, emit: &mut impl FnMut(PollEvent)) -> usize {
        let mut n = 0;
        let mut again = std::mem::take(&mut st.again);
        let todo = st.candidates.len();
        for _ in 0..todo {
            if n == cap {
                break;
            }
            let Some(slot) = st.candidates.pop_front() else {
                break;
            };
            let Some(Some(e)) = st.slots.get_mut(slot) else {
                continue;
            };
            let ready = e.target.ready(e.events);
            if ready == 0 {
                e.queued = false;
                continue;
            }
            emit(PollEvent {
                key: e.key,
                events: ready,
            });
            n += 1;
            again.push(slot);
        }
        st.candidates.extend(again.drain(..));
        st.again = again;
        n
    }
}
