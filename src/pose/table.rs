//! The newest pose of every (peer, entity), with a short time-sorted history for sampling.
//! A hub keeps one pose per entity; a device keeps a few to interpolate between.

use super::sample::sample;
use super::seq::seq_newer;
use super::Pose;
use std::collections::{BTreeMap, HashMap};

/// Default bound on the entities one peer may have in a table: a head, two controllers and
/// two hands of 26 joints fit with room to spare. A pose of a new entity beyond it is
/// dropped (and counted); the peer's existing entities keep updating. Peers are bounded by
/// the room (≤ 256), so a table holds at most 256 × 256 entries of ≤ 4 × 40 bytes.
pub const DEFAULT_MAX_ENTITIES_PER_PEER: usize = 256;
/// Most poses of history kept per entity.
pub const MAX_HISTORY: usize = 4;

/// What [`PoseTable::insert`] did with a pose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InsertOutcome {
    /// First pose of this (peer, entity).
    New,
    /// Newer than the one held: it is now the latest.
    Replaced,
    /// Its seq is older than or equal to the latest's (wrap-safe): dropped.
    Stale,
    /// A new entity of a peer already at the entity limit: dropped.
    EntityLimit,
}

impl InsertOutcome {
    /// True if the pose was kept.
    pub fn accepted(self) -> bool {
        matches!(self, InsertOutcome::New | InsertOutcome::Replaced)
    }
}

/// Counters of what a table dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoseTableStats {
    /// Poses kept.
    pub accepted: u64,
    /// Poses dropped because a newer or equal seq was held.
    pub dropped_stale: u64,
    /// Poses dropped by the entity limit.
    pub dropped_entity_limit: u64,
}

#[derive(Debug)]
struct Entry {
    /// Highest seq seen: the pose `latest_into` reports.
    latest: Pose,
    /// Up to `history_len` poses, sorted by time, distinct times.
    history: Vec<Pose>,
}

/// Newest pose per (peer, entity); older-or-equal sequence numbers are dropped and counted.
#[derive(Debug)]
pub struct PoseTable {
    entries: BTreeMap<(u32, u32), Entry>,
    per_peer: HashMap<u32, usize>,
    max_entities_per_peer: usize,
    history_len: usize,
    stats: PoseTableStats,
}

impl PoseTable {
    /// A table keeping `history_len` poses per entity (clamped to 1..=[`MAX_HISTORY`]; a hub
    /// uses 1, a device that samples 2–4) and at most `max_entities_per_peer` per peer.
    pub fn new(max_entities_per_peer: usize, history_len: usize) -> Self {
        PoseTable {
            entries: BTreeMap::new(),
            per_peer: HashMap::new(),
            max_entities_per_peer,
            history_len: history_len.clamp(1, MAX_HISTORY),
            stats: PoseTableStats::default(),
        }
    }

    /// Keep `pose` if its seq is newer (wrap-safe) than the latest of its (peer, entity).
    pub fn insert(&mut self, pose: Pose) -> InsertOutcome {
        let key = (pose.peer, pose.entity);
        let outcome = match self.entries.get_mut(&key) {
            Some(e) if !seq_newer(pose.seq, e.latest.seq) => InsertOutcome::Stale,
            Some(e) => {
                e.latest = pose;
                add_to_history(&mut e.history, pose, self.history_len);
                InsertOutcome::Replaced
            }
            None => {
                let count = self.per_peer.entry(pose.peer).or_insert(0);
                if *count >= self.max_entities_per_peer {
                    InsertOutcome::EntityLimit
                } else {
                    *count += 1;
                    let mut history = Vec::with_capacity(self.history_len);
                    history.push(pose);
                    self.entries.insert(
                        key,
                        Entry {
                            latest: pose,
                            history,
                        },
                    );
                    InsertOutcome::New
                }
            }
        };
        match outcome {
            InsertOutcome::New | InsertOutcome::Replaced => self.stats.accepted += 1,
            InsertOutcome::Stale => self.stats.dropped_stale += 1,
            InsertOutcome::EntityLimit => self.stats.dropped_entity_limit += 1,
        }
        outcome
    }

    /// Remove every pose of `peer` (it left); returns how many entities it had.
    pub fn remove_peer(&mut self, peer: u32) -> usize {
        let Some(n) = self.per_peer.remove(&peer) else {
            return 0;
        };
        let keys: Vec<_> = self
            .entries
            .range((peer, 0)..=(peer, u32::MAX))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            self.entries.remove(&k);
        }
        n
    }

    /// The latest pose of one (peer, entity).
    pub fn latest(&self, peer: u32, entity: u32) -> Option<&Pose> {
        self.entries.get(&(peer, entity)).map(|e| &e.latest)
    }

    /// Replace `out`'s contents with the latest pose of every (peer, entity), sorted by peer
    /// then entity (a joiner's snapshot, or `latest_poses`). Reuses `out`'s allocation.
    pub fn latest_into(&self, out: &mut Vec<Pose>) {
        out.clear();
        out.extend(self.entries.values().map(|e| e.latest));
    }

    /// Replace `out`'s contents with every entity sampled at `render_time_us` (see
    /// [`sample`]), sorted by peer then entity.
    pub fn sample_into(&self, render_time_us: i64, out: &mut Vec<Pose>) {
        out.clear();
        out.extend(
            self.entries
                .values()
                .filter_map(|e| sample(&e.history, render_time_us)),
        );
    }

    /// Number of (peer, entity) entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table holds no pose.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What was kept and dropped so far.
    pub fn stats(&self) -> PoseTableStats {
        self.stats
    }
}

/// Insert by time (a pose at an existing time replaces it), dropping the oldest past `cap`.
fn add_to_history(history: &mut Vec<Pose>, pose: Pose, cap: usize) {
    match history.binary_search_by_key(&pose.time_us, |p| p.time_us) {
        Ok(i) => history[i] = pose,
        Err(i) => {
            history.insert(i, pose);
            if history.len() > cap {
                history.remove(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(peer: u32, entity: u32, seq: u32, t_ms: i64, x: f32) -> Pose {
        Pose {
            peer,
            entity,
            seq,
            time_us: t_ms * 1000,
            position: [x, 0.0, 0.0],
            ..Pose::default()
        }
    }

    #[test]
    fn keeps_newest_and_drops_older_or_equal_seq() {
        let mut t = PoseTable::new(8, 1);
        assert_eq!(t.insert(p(1, 1, 10, 0, 1.0)), InsertOutcome::New);
        assert_eq!(t.insert(p(1, 1, 10, 1, 2.0)), InsertOutcome::Stale);
        assert_eq!(t.insert(p(1, 1, 9, 2, 3.0)), InsertOutcome::Stale);
        assert_eq!(t.insert(p(1, 1, 11, 3, 4.0)), InsertOutcome::Replaced);
        assert_eq!(t.latest(1, 1).unwrap().position[0], 4.0);
        assert_eq!(
            t.stats(),
            PoseTableStats {
                accepted: 2,
                dropped_stale: 2,
                dropped_entity_limit: 0
            }
        );
    }

    #[test]
    fn seq_comparison_survives_wrap() {
        let mut t = PoseTable::new(8, 1);
        t.insert(p(1, 1, u32::MAX - 1, 0, 1.0));
        assert_eq!(t.insert(p(1, 1, 2, 1, 2.0)), InsertOutcome::Replaced);
        assert_eq!(t.insert(p(1, 1, u32::MAX, 2, 3.0)), InsertOutcome::Stale);
        assert_eq!(t.latest(1, 1).unwrap().seq, 2);
    }

    #[test]
    fn entity_limit_drops_new_entities_but_updates_existing() {
        let mut t = PoseTable::new(2, 1);
        t.insert(p(1, 1, 1, 0, 0.0));
        t.insert(p(1, 2, 1, 0, 0.0));
        assert_eq!(t.insert(p(1, 3, 1, 0, 0.0)), InsertOutcome::EntityLimit);
        assert_eq!(t.insert(p(1, 2, 2, 0, 0.0)), InsertOutcome::Replaced);
        assert_eq!(t.insert(p(2, 3, 1, 0, 0.0)), InsertOutcome::New, "per peer");
        assert_eq!(t.stats().dropped_entity_limit, 1);
        assert_eq!(t.len(), 3);
    }

    #[test]
    fn remove_peer_removes_all_of_its_poses_only() {
        let mut t = PoseTable::new(8, 2);
        for e in 0..3 {
            t.insert(p(5, e, 1, 0, 0.0));
            t.insert(p(6, e, 1, 0, 0.0));
        }
        t.insert(p(5, u32::MAX, 1, 0, 0.0));
        assert_eq!(t.remove_peer(5), 4);
        assert_eq!(t.remove_peer(5), 0);
        let mut out = Vec::new();
        t.latest_into(&mut out);
        assert!(out.iter().all(|p| p.peer == 6));
        assert_eq!(out.len(), 3);
        // The peer's limit is freed with it.
        let mut t = PoseTable::new(1, 1);
        t.insert(p(5, 1, 1, 0, 0.0));
        t.remove_peer(5);
        assert_eq!(t.insert(p(5, 2, 1, 0, 0.0)), InsertOutcome::New);
    }

    #[test]
    fn latest_into_lists_every_entity_sorted_and_reuses_the_vector() {
        let mut t = PoseTable::new(8, 1);
        t.insert(p(2, 1, 1, 0, 0.0));
        t.insert(p(1, 9, 1, 0, 0.0));
        t.insert(p(1, 3, 1, 0, 0.0));
        t.insert(p(1, 3, 2, 0, 7.0));
        let mut out = vec![Pose::default(); 10];
        t.latest_into(&mut out);
        let keys: Vec<_> = out.iter().map(|p| (p.peer, p.entity, p.seq)).collect();
        assert_eq!(keys, [(1, 3, 2), (1, 9, 1), (2, 1, 1)]);
    }

    #[test]
    fn history_keeps_the_last_poses_by_time_and_samples_between_them() {
        let mut t = PoseTable::new(8, 3);
        for (seq, ms) in [(1, 0), (2, 10), (3, 20), (4, 30)] {
            t.insert(p(1, 1, seq, ms, ms as f32));
        }
        let mut out = Vec::new();
        t.sample_into(25_000, &mut out);
        assert!((out[0].position[0] - 25.0).abs() < 1e-5);
        // Pose at 0 ms fell out of the 3-long history: before 10 ms holds the 10 ms pose.
        t.sample_into(5_000, &mut out);
        assert_eq!(out[0].position[0], 10.0);
    }

    #[test]
    fn history_pose_at_an_existing_time_replaces_it() {
        let mut h = vec![p(1, 1, 1, 10, 1.0)];
        add_to_history(&mut h, p(1, 1, 2, 10, 2.0), 4);
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].position[0], 2.0);
    }

    #[test]
    fn history_length_is_clamped() {
        let t = PoseTable::new(8, 0);
        assert_eq!(t.history_len, 1);
        let t = PoseTable::new(8, 100);
        assert_eq!(t.history_len, MAX_HISTORY);
    }
}
