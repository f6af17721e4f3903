//! Which newest poses a receiver has not been sent yet. One outbox per destination (the hub
//! keeps one per peer; a device one for its own poses): a pose that changes ten times while
//! the destination cannot take it is sent once, as its newest value, so a slow or paused
//! reader gets the current poses when it resumes, never a backlog. The memory is one key per
//! changed (peer, entity), bounded by the table's size.

use super::table::PoseTable;
use super::Pose;
use std::collections::BTreeSet;
use std::ops::Bound;

/// The (peer, entity) keys whose newest pose a destination still needs.
#[derive(Debug, Default)]
pub struct PoseOutbox {
    dirty: BTreeSet<(u32, u32)>,
    /// Last key taken: the next batch continues after it, so that every key gets its turn
    /// even when batches are smaller than the set and low keys keep changing.
    cursor: Option<(u32, u32)>,
}

impl PoseOutbox {
    /// An empty outbox.
    pub fn new() -> Self {
        Self::default()
    }

    /// The newest pose of (peer, entity) changed: the destination needs it.
    pub fn mark(&mut self, peer: u32, entity: u32) {
        self.dirty.insert((peer, entity));
    }

    /// Mark every entry of `table` (a joiner's or resumed peer's snapshot).
    pub fn mark_all(&mut self, table: &PoseTable, scratch: &mut Vec<Pose>) {
        table.latest_into(scratch);
        self.dirty
            .extend(scratch.iter().map(|p| (p.peer, p.entity)));
    }

    /// Drop the keys of `peer` (it left; its poses are gone).
    pub fn forget_peer(&mut self, peer: u32) {
        let keys: Vec<_> = self
            .dirty
            .range((peer, 0)..=(peer, u32::MAX))
            .copied()
            .collect();
        for k in keys {
            self.dirty.remove(&k);
        }
    }

    /// Keys waiting.
    pub fn len(&self) -> usize {
        self.dirty.len()
    }

    /// True if nothing waits.
    pub fn is_empty(&self) -> bool {
        self.dirty.is_empty()
    }

    /// Take up to `max` waiting keys, round-robin from where the last batch stopped, and
    /// append their newest poses from `table` to `out` (keys no longer in the table are
    /// dropped). Returns how many poses were appended.
    pub fn take_batch(&mut self, table: &PoseTable, max: usize, out: &mut Vec<Pose>) -> usize {
        let start = out.len();
        let mut taken = Vec::new();
        let after = match self.cursor {
            Some(c) => Bound::Excluded(c),
            None => Bound::Unbounded,
        };
        let tail = self.dirty.range((after, Bound::Unbounded));
        let head = self.dirty.iter();
        for key in tail.chain(head).take(max.min(self.dirty.len())) {
            taken.push(*key);
        }
        for key in &taken {
            self.dirty.remove(key);
            if let Some(p) = table.latest(key.0, key.1) {
                out.push(*p);
            }
        }
        if let Some(last) = taken.last() {
            self.cursor = Some(*last);
        }
        out.len() - start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pose(peer: u32, entity: u32, seq: u32) -> Pose {
        Pose {
            peer,
            entity,
            seq,
            ..Pose::default()
        }
    }

    #[test]
    fn many_updates_while_paused_send_only_the_newest() {
        let mut table = PoseTable::new(16, 1);
        let mut outbox = PoseOutbox::new();
        for seq in 1..=450 {
            for entity in 0..3 {
                table.insert(pose(2, entity, seq));
                outbox.mark(2, entity);
            }
        }
        assert_eq!(outbox.len(), 3);
        let mut out = Vec::new();
        assert_eq!(outbox.take_batch(&table, 100, &mut out), 3);
        assert!(out.iter().all(|p| p.seq == 450));
        assert!(outbox.is_empty());
        assert_eq!(outbox.take_batch(&table, 100, &mut out), 0);
    }

    #[test]
    fn small_batches_take_turns_even_when_low_keys_keep_changing() {
        let mut table = PoseTable::new(16, 1);
        let mut outbox = PoseOutbox::new();
        for e in 0..4 {
            table.insert(pose(1, e, 1));
            outbox.mark(1, e);
        }
        let mut seen = Vec::new();
        for round in 2..6 {
            let mut out = Vec::new();
            outbox.take_batch(&table, 1, &mut out);
            seen.push(out[0].entity);
            // Entity 0 changes every round.
            table.insert(pose(1, 0, round));
            outbox.mark(1, 0);
        }
        assert_eq!(seen, [0, 1, 2, 3]);
    }

    #[test]
    fn departed_peer_keys_are_forgotten_or_skipped() {
        let mut table = PoseTable::new(16, 1);
        let mut outbox = PoseOutbox::new();
        for peer in [1, 2, 3] {
            table.insert(pose(peer, 0, 1));
            outbox.mark(peer, 0);
        }
        outbox.forget_peer(2);
        table.remove_peer(3);
        let mut out = Vec::new();
        assert_eq!(outbox.take_batch(&table, 10, &mut out), 1);
        assert_eq!(out[0].peer, 1);
        assert!(outbox.is_empty());
    }

    #[test]
    fn mark_all_queues_the_whole_table_for_a_snapshot() {
        let mut table = PoseTable::new(16, 1);
        for (peer, entity) in [(1, 1), (1, 2), (4, 0)] {
            table.insert(pose(peer, entity, 1));
        }
        let mut outbox = PoseOutbox::new();
        outbox.mark_all(&table, &mut Vec::new());
        let mut out = Vec::new();
        assert_eq!(outbox.take_batch(&table, usize::MAX, &mut out), 3);
    }
}
