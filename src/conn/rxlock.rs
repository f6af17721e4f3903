//! The receive lock, with a deadline: a receive with timeout 0 or 50 ms returns on time even
//! while another thread sits in a blocking receive on the same connection (std's `Mutex` has no
//! timed lock, so waiters sleep on a condition variable that every unlock signals).

use super::rxbuf::RecvState;
use super::Shared;
use crate::error::{Error, Result};
use crate::timeout::Deadline;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex, MutexGuard, TryLockError};
use std::time::Instant;

#[derive(Debug, Default)]
pub(crate) struct RecvLock {
    state: Mutex<RecvState>,
    /// Threads waiting for `state` (the unlocking thread signals only when there are some).
    waiters: AtomicUsize,
    gate: Mutex<()>,
    cv: Condvar,
}

/// Holds the receive state; on drop, wakes a waiting receive, and (for a receive) tells the
/// poller if whole messages or unread bytes are left.
pub(crate) struct RecvGuard<'a> {
    guard: Option<MutexGuard<'a, RecvState>>,
    sh: &'a Shared,
    notify_poller: bool,
}

impl Deref for RecvGuard<'_> {
    type Target = RecvState;
    fn deref(&self) -> &RecvState {
        self.guard.as_deref().unwrap_or_else(|| unreachable!())
    }
}

impl DerefMut for RecvGuard<'_> {
    fn deref_mut(&mut self) -> &mut RecvState {
        self.guard.as_deref_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for RecvGuard<'_> {
    fn drop(&mut self) {
        let left = self.guard.as_ref().is_some_and(|g| g.has_bytes());
        self.guard = None;
        let lock = &self.sh.recv;
        if lock.waiters.load(SeqCst) > 0 {
            let _g = lock.gate.lock().unwrap_or_else(|e| e.into_inner());
            lock.cv.notify_all();
        }
        if self.notify_poller && (left || self.sh.rx_hint.load(Acquire)) {
            self.sh.poll_link.mark_ready();
        }
    }
}

impl RecvLock {
    fn try_state(&self) -> Option<MutexGuard<'_, RecvState>> {
        match self.state.try_lock() {
            Ok(g) => Some(g),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }

    /// Wake receives waiting for the lock (they then see the connection closed).
    pub(crate) fn wake_all(&self) {
        let _g = self.gate.lock().unwrap_or_else(|e| e.into_inner());
        self.cv.notify_all();
    }
}

impl Shared {
    /// The receive state for a receive, waiting for another receive at most until `deadline`.
    pub(super) fn lock_recv_by(&self, deadline: Deadline) -> Result<RecvGuard<'_>> {
        let lock = &self.recv;
        loop {
            if let Some(g) = lock.try_state() {
                return Ok(self.guard(g, true));
            }
            self.check_alive()?;
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            let gate = lock.gate.lock().unwrap_or_else(|e| e.into_inner());
            lock.waiters.fetch_add(1, SeqCst);
            // Re-try after announcing ourselves: an unlock from now on signals us.
            if let Some(g) = lock.try_state() {
                lock.waiters.fetch_sub(1, SeqCst);
                drop(gate);
                return Ok(self.guard(g, true));
            }
            let gate = match deadline {
                Deadline::At(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    lock.cv
                        .wait_timeout(gate, left)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0)
                }
                _ => lock.cv.wait(gate).unwrap_or_else(|e| e.into_inner()),
            };
            lock.waiters.fetch_sub(1, SeqCst);
            drop(gate);
        }
    }

    /// The receive state if no receive holds it (for a poller's check).
    pub(super) fn try_lock_recv(&self) -> Option<RecvGuard<'_>> {
        self.recv.try_state().map(|g| self.guard(g, false))
    }

    fn guard<'a>(&'a self, g: MutexGuard<'a, RecvState>, notify_poller: bool) -> RecvGuard<'a> {
        RecvGuard {
            guard: Some(g),
            sh: self,
            notify_poller,
        }
    }
}
