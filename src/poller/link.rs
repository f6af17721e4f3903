//! The link from a handle to the poller it is in (at most one).

use super::PollerShared;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Mutex, Weak};

/// Held by every connection and server: which poller watches it, under which slot.
#[derive(Default)]
pub(crate) struct PollLink {
    /// Fast check for the receive path (no lock when not in a poller).
    linked: AtomicBool,
    inner: Mutex<Option<(Weak<PollerShared>, usize)>>,
}

impl std::fmt::Debug for PollLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollLink")
            .field("linked", &self.linked.load(Relaxed))
            .finish()
    }
}

impl PollLink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<(Weak<PollerShared>, usize)>> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Link to `poller`; `Err` if already linked to a live poller.
    pub(super) fn attach(&self, poller: Weak<PollerShared>, slot: usize) -> Result<(), ()> {
        let mut g = self.lock();
        if let Some((p, _)) = &*g {
            if p.strong_count() > 0 {
                return Err(());
            }
        }
        *g = Some((poller, slot));
        self.linked.store(true, Release);
        Ok(())
    }

    pub(super) fn detach(&self) {
        *self.lock() = None;
        self.linked.store(false, Release);
    }

    /// The handle is closing: leave the poller. Takes the link first, then the poller's lock
    /// (never both at once, so no lock-order cycle with `add`).
    pub(crate) fn leave(&self) {
        if !self.linked.load(Acquire) {
            return;
        }
        let taken = self.lock().take();
        self.linked.store(false, Release);
        if let Some((p, slot)) = taken {
            if let Some(p) = p.upgrade() {
                p.forget_slot(slot, self);
            }
        }
    }

    /// The handle became ready outside the OS poller's view: tell the poller.
    pub(crate) fn mark_ready(&self) {
        if !self.linked.load(Acquire) {
            return;
        }
        let link = self.lock().as_ref().map(|(p, s)| (p.clone(), *s));
        if let Some((p, slot)) = link {
            if let Some(p) = p.upgrade() {
                p.mark_ready(slot);
            }
        }
    }
}
