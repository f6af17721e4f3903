//! Handles: `u64` ids for objects owned by the library, as nng does with socket ids.
//!
//! A handle packs a slot index (low 32 bits, plus one so that 0 is never valid) and the slot's
//! generation (high 32 bits). Freeing a slot bumps its generation, so a stale value never
//! matches again; a slot whose generation would wrap is retired, so no value is ever reused.

use std::sync::RwLock;

struct Slot<T> {
    generation: u32,
    value: Option<T>,
}

/// A thread-safe table of objects addressed by never-reused `u64` handles.
pub struct Registry<T> {
    inner: RwLock<Inner<T>>,
}

struct Inner<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
}

impl<T: Clone> Registry<T> {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry {
            inner: RwLock::new(Inner {
                slots: Vec::new(),
                free: Vec::new(),
            }),
        }
    }

    /// Store `value`; `None` only if 2^32 - 1 slots are in use.
    pub fn insert(&self, value: T) -> Option<u64> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let index = match inner.free.pop() {
            Some(i) => i,
            None => {
                let i = u32::try_from(inner.slots.len())
                    .ok()
                    .filter(|&i| i < u32::MAX)?;
                inner.slots.push(Slot {
                    generation: 1,
                    value: None,
                });
                i
            }
        };
        let slot = &mut inner.slots[index as usize];
        slot.value = Some(value);
        Some(((slot.generation as u64) << 32) | (index as u64 + 1))
    }

    /// The object behind `handle`, if the handle is live.
    pub fn get(&self, handle: u64) -> Option<T> {
        let (index, generation) = split(handle)?;
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let slot = inner.slots.get(index)?;
        if slot.generation != generation {
            return None;
        }
        slot.value.clone()
    }

    /// Remove and return the object behind `handle`; the handle is dead from now on.
    /// `keep` decides, under the lock, whether the object may be removed (e.g. right kind).
    pub fn remove_if(&self, handle: u64, keep: impl FnOnce(&T) -> bool) -> Option<T> {
        let inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        Self::remove_locked(inner, handle, keep)
    }

    /// `remove_if` without waiting for the lock: `Err(())` if another thread holds it. For a
    /// forked child, where a lock held by a parent thread at fork time is never released.
    #[allow(clippy::result_unit_err)]
    pub fn try_remove_if(
        &self,
        handle: u64,
        keep: impl FnOnce(&T) -> bool,
    ) -> Result<Option<T>, ()> {
        let inner = match self.inner.try_write() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return Err(()),
        };
        Ok(Self::remove_locked(inner, handle, keep))
    }

    fn remove_locked(
        mut inner: std::sync::RwLockWriteGuard<'_, Inner<T>>,
        handle: u64,
        keep: impl FnOnce(&T) -> bool,
    ) -> Option<T> {
        let (index, generation) = split(handle)?;
        let slot = inner.slots.get_mut(index)?;
        if slot.generation != generation || !slot.value.as_ref().is_some_and(keep) {
            return None;
        }
        let value = slot.value.take();
        if slot.generation < u32::MAX {
            slot.generation += 1;
            inner.free.push(index as u32);
        }
        value
    }
}

impl<T: Clone> Default for Registry<T> {
    fn default() -> Self {
        Self::new()
    }
}

fn split(handle: u64) -> Option<(usize, u32)> {
    let index = (handle & 0xFFFF_FFFF) as u32;
    let generation = (handle >> 32) as u32;
    if index == 0 || generation == 0 {
        return None;
    }
    Some(((index - 1) as usize, generation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_and_never_issued_handles_are_invalid() {
        let r: Registry<u8> = Registry::new();
        assert_eq!(r.get(0), None);
        let h = r.insert(7).unwrap();
        assert_eq!(r.get(h), Some(7));
        assert_eq!(r.get(h + 1), None);
        assert_eq!(r.get(h ^ (1 << 40)), None);
        assert_eq!(r.get(u64::MAX), None);
    }

    #[test]
    fn removed_handles_stay_dead_when_the_slot_is_reused() {
        let r: Registry<u8> = Registry::new();
        let a = r.insert(1).unwrap();
        assert_eq!(r.remove_if(a, |_| true), Some(1));
        assert_eq!(r.remove_if(a, |_| true), None);
        let b = r.insert(2).unwrap();
        assert_ne!(a, b);
        assert_eq!(a & 0xFFFF_FFFF, b & 0xFFFF_FFFF, "slot reused");
        assert_eq!(r.get(a), None);
        assert_eq!(r.get(b), Some(2));
    }

    #[test]
    fn remove_if_respects_the_predicate() {
        let r: Registry<u8> = Registry::new();
        let a = r.insert(1).unwrap();
        assert_eq!(r.remove_if(a, |v| *v == 2), None);
        assert_eq!(r.get(a), Some(1));
    }
}
