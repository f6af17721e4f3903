//! Watching a hub from the process that runs it (the `arsock hub` command, dashboards): a
//! bounded log of presence events with reasons, running counters, and a snapshot of rooms,
//! peers and state. Pure bookkeeping fed by a few calls from [`HubCore`]; nothing here is
//! visible to peers and nothing of it crosses the C boundary.

use super::HubCore;
use crate::pose::Pose;
use crate::session::micros_at;
use crate::session::stream::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// Most events the log keeps; beyond it the oldest are dropped (and counted).
pub const EVENT_LOG_LIMIT: usize = 4096;

/// What happened to a peer (or to a connection that never became one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservedKind {
    /// A new peer joined its room.
    Joined,
    /// A peer's new connection took over its place (resume after a break).
    Reconnected,
    /// A peer went silent or lost its connection (it may come back within the grace).
    Stale,
    /// A stale peer was heard again.
    Resumed,
    /// The hub disconnected a peer whose queue stayed over its limit (it may resume).
    SlowPeer,
    /// A peer left its room (`reason`).
    Left,
    /// A connection was refused before joining (`reason`, `text`).
    Rejected,
}

/// One entry of the event log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedEvent {
    /// Hub time, microseconds (the room clock).
    pub time_us: i64,
    pub kind: ObservedKind,
    /// Room name (empty for a rejected connection).
    pub room: Arc<str>,
    /// Peer id (0 for a rejected connection).
    pub peer: u32,
    /// The peer's name.
    pub name: String,
    /// `reason::*` (Left, Rejected; TIMEOUT or NETWORK for Stale).
    pub reason: i32,
    /// Details in words (why a join was refused, how long a peer was silent).
    pub text: String,
}

/// Totals since the hub started (monotonic; rates are differences between two reads).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubCounters {
    /// Reliable messages received from peers (SEND frames).
    pub messages_in: u64,
    /// Copies of them queued to recipients.
    pub messages_out: u64,
    /// State writes and deletes applied.
    pub state_writes: u64,
    /// Poses received from peers (before the hub drops older ones).
    pub poses_in: u64,
    /// Bytes read from and written to connections.
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Most bytes kept for one peer (unacknowledged messages) at any time.
    pub queue_high_water: u64,
    /// Joins, and connections refused.
    pub joins: u64,
    pub rejects: u64,
    /// Events dropped from the full log.
    pub events_dropped: u64,
}

/// The bookkeeping a [`HubCore`] carries.
#[derive(Debug, Default)]
pub struct Observer {
    log: VecDeque<ObservedEvent>,
    counters: HubCounters,
    /// Per (room, peer): age of its newest pose when it reached the hub, microseconds.
    arrival_age: HashMap<(Arc<str>, u32), i64>,
}

impl Observer {
    fn push(&mut self, kind: ObservedKind, room: &Arc<str>, peer: u32, name: &str, reason: i32) {
        self.push_text(kind, room, peer, name, reason, String::new());
    }

    fn push_text(
        &mut self,
        kind: ObservedKind,
        room: &Arc<str>,
        peer: u32,
        name: &str,
        reason: i32,
        text: String,
    ) {
        if self.log.len() >= EVENT_LOG_LIMIT {
            self.log.pop_front();
            self.counters.events_dropped += 1;
        }
        self.log.push_back(ObservedEvent {
            time_us: micros_at(Instant::now()),
            kind,
            room: room.clone(),
            peer,
            name: name.to_string(),
            reason,
            text,
        });
    }

    pub(super) fn event(&mut self, kind: ObservedKind, room: &Arc<str>, peer: u32, name: &str) {
        if kind == ObservedKind::Joined {
            self.counters.joins += 1;
        }
        self.push(kind, room, peer, name, super::reason::NONE);
    }

    pub(super) fn with_reason(
        &mut self,
        kind: ObservedKind,
        room: &Arc<str>,
        peer: u32,
        name: &str,
        reason: i32,
        text: String,
    ) {
        if kind == ObservedKind::Rejected {
            self.counters.rejects += 1;
        }
        if kind == ObservedKind::Left {
            self.arrival_age.remove(&(room.clone(), peer));
        }
        self.push_text(kind, room, peer, name, reason, text);
    }

    pub(super) fn message(&mut self, copies: usize) {
        self.counters.messages_in += 1;
        self.counters.messages_out += copies as u64;
    }

    pub(super) fn state_write(&mut self) {
        self.counters.state_writes += 1;
    }

    /// A batch of poses from a peer reached the hub (called by the pose path): counted, and
    /// the age of the newest one on arrival (hub time − capture time) kept for the peer.
    pub fn poses_arrived(&mut self, room: &Arc<str>, peer: u32, poses: &[Pose]) {
        self.counters.poses_in += poses.len() as u64;
        if let Some(newest) = poses.iter().map(|p| p.time_us).max() {
            let age = micros_at(Instant::now()).saturating_sub(newest);
            match self.arrival_age.get_mut(&(room.clone(), peer)) {
                Some(a) => *a = age,
                None => {
                    self.arrival_age.insert((room.clone(), peer), age);
                }
            }
        }
    }

    pub(super) fn queued(&mut self, bytes: usize) {
        self.counters.queue_high_water = self.counters.queue_high_water.max(bytes as u64);
    }

    /// Bytes read from a connection (called by the I/O glue).
    pub fn bytes_in(&mut self, n: usize) {
        self.counters.bytes_in += n as u64;
    }

    /// Bytes written to a connection (called by the I/O glue).
    pub fn bytes_out(&mut self, n: usize) {
        self.counters.bytes_out += n as u64;
    }
}

/// One peer as the hub sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObservedPeer {
    pub id: u32,
    pub name: String,
    /// Silent or without a connection (announced PEER_STALE).
    pub stale: bool,
    /// Has a connection now.
    pub connected: bool,
    /// Bytes kept for it (unacknowledged messages).
    pub queue_bytes: usize,
    /// Milliseconds since it was last heard.
    pub silent_ms: u64,
    /// Age of its newest pose when that reached the hub (hub time − capture time), µs.
    pub pose_arrival_age_us: Option<i64>,
}

/// One room: peers by id, state by key (key, writer, value; values are shared, not copied),
/// and the newest pose of every (peer, entity) the hub holds.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedRoom {
    pub name: Arc<str>,
    pub peers: Vec<ObservedPeer>,
    pub state: Vec<(String, u32, Bytes)>,
    pub poses: Vec<Pose>,
}

/// The hub at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HubObservation {
    /// Hub time of the snapshot, microseconds.
    pub time_us: i64,
    /// Open connections (joined or still in their handshake).
    pub connections: usize,
    /// Rooms sorted by name.
    pub rooms: Vec<ObservedRoom>,
    pub counters: HubCounters,
}

impl HubCore {
    /// The observer, for the I/O glue's byte counts and the pose path.
    pub fn observer(&mut self) -> &mut Observer {
        &mut self.obs
    }

    /// Take up to `max` of the oldest logged events.
    pub fn take_observed_events(&mut self, max: usize) -> Vec<ObservedEvent> {
        let n = max.min(self.obs.log.len());
        self.obs.log.drain(..n).collect()
    }

    /// Rooms, peers, state and counters now. Costs one entry per peer and per key (values are
    /// shared): meant for a few reads a second.
    pub fn observe(&self, now: Instant) -> HubObservation {
        let mut rooms: Vec<ObservedRoom> = self
            .rooms
            .iter()
            .map(|(name, r)| ObservedRoom {
                name: name.clone(),
                peers: r
                    .peers
                    .iter()
                    .map(|(&id, p)| ObservedPeer {
                        id,
                        name: p.name.clone(),
                        stale: p.stale,
                        connected: p.conn.is_some(),
                        queue_bytes: p.retained_bytes,
                        silent_ms: now.saturating_duration_since(p.last_heard).as_millis() as u64,
                        pose_arrival_age_us: self.obs.arrival_age.get(&(name.clone(), id)).copied(),
                    })
                    .collect(),
                state: r
                    .state
                    .iter()
                    .map(|(k, e)| (k.clone(), e.writer, e.value.clone()))
                    .collect(),
                poses: self.room_poses(name),
            })
            .collect();
        rooms.sort_by(|a, b| a.name.cmp(&b.name));
        HubObservation {
            time_us: micros_at(now),
            connections: self.conns.len(),
            rooms,
            counters: self.obs.counters,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::hub_core::HubConfig;

    #[test]
    fn full_log_drops_the_oldest_and_counts_them() {
        let mut core = HubCore::new(HubConfig::default());
        let room: Arc<str> = Arc::from("r");
        for i in 0..(EVENT_LOG_LIMIT as u32 + 10) {
            core.obs.event(ObservedKind::Joined, &room, i + 1, "p");
        }
        let obs = core.observe(Instant::now());
        assert_eq!(obs.counters.events_dropped, 10);
        assert_eq!(obs.counters.joins, EVENT_LOG_LIMIT as u64 + 10);
        let first = core.take_observed_events(3);
        assert_eq!(
            first.iter().map(|e| e.peer).collect::<Vec<_>>(),
            [11, 12, 13]
        );
        assert_eq!(
            core.take_observed_events(usize::MAX).len(),
            EVENT_LOG_LIMIT - 3
        );
        assert!(core.take_observed_events(5).is_empty());
    }
}
