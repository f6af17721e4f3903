//! The hub as a pure state machine: rooms, peers, relay, state, liveness and resume.
//!
//! It is fed connection events, decoded frames and the time, and produces frames in each
//! connection's [`Outbox`] plus a list of connections to close; `hub_io` moves the bytes.
//!
//! Reliable streams: MSG frames to a peer are counted (the n-th is number n) and kept until the
//! peer acknowledges them, so that a resumed peer gets exactly those it missed; SEND and
//! SET_STATE frames from a peer are counted the same way the other direction. Presence and
//! state frames are not kept: a resumed peer gets a fresh snapshot instead.

use super::stream::{Bytes, Outbox};
use super::wire::{self, peer_what, Frame};
use super::{limits, micros_at, reason};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod ext;
pub use ext::ConnPoseMemory;

/// Identifies one accepted connection.
pub type ConnId = u64;

/// Hub settings (the C config after defaults).
#[derive(Clone, Debug)]
pub struct HubConfig {
    /// Most peers in a room.
    pub max_peers: u32,
    /// Heartbeat interval when a link is idle.
    pub heartbeat: Duration,
    /// Silence after which a peer is announced stale.
    pub stale_after: Duration,
    /// Resume grace; `None` = a peer whose link ends leaves at once.
    pub grace: Option<Duration>,
    /// Required token, if any.
    pub token: Option<Vec<u8>>,
    /// How long a peer's queue may stay over `queue_limit` before it is disconnected.
    pub slow_peer: Duration,
    /// Bytes of unacknowledged messages kept per peer.
    pub queue_limit: usize,
    /// How long an empty room lives on.
    pub room_linger: Duration,
    /// How long a new connection may take to say HELLO.
    pub handshake_timeout: Duration,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            max_peers: 32,
            heartbeat: Duration::from_millis(500),
            stale_after: Duration::from_millis(2500),
            grace: Some(Duration::from_millis(30_000)),
            token: None,
            slow_peer: Duration::from_millis(5000),
            queue_limit: limits::QUEUE_LIMIT,
            room_linger: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A peer's queue may grow to this many times its limit while connected, then it is
/// disconnected at once as a slow peer (bounds the hub's memory).
const HARD_QUEUE_FACTOR: usize = 8;
/// Most rooms one hub holds (a join that would create one more is refused with ROOM_FULL).
pub const MAX_ROOMS: usize = 65_536;
/// Acknowledge at once after this many unacknowledged counted frames (else on the next tick).
const ACK_EVERY: u64 = 32;
/// ... or after this many bytes of them.
const ACK_BYTES: usize = 64 * 1024;

struct Conn {
    outbox: Outbox,
    peer: Option<(Arc<str>, u32)>,
    opened: Instant,
    last_sent: Instant,
}

struct Peer {
    name: String,
    resume_key: u64,
    conn: Option<ConnId>,
    last_heard: Instant,
    stale: bool,
    /// Counted frames to this peer not yet acknowledged; the first is number `acked + 1`.
    retained: VecDeque<Bytes>,
    retained_bytes: usize,
    acked: u64,
    over_since: Option<Instant>,
    /// Above this many kept bytes a connected peer is disconnected at once.
    hard_limit: usize,
    dropped: u64,
    /// Counted frames received from this peer, and the last count acknowledged to it.
    received: u64,
    ack_sent: u64,
    unacked_bytes: usize,
}

impl Peer {
    fn sent_total(&self) -> u64 {
        self.acked + self.retained.len() as u64
    }
}

struct StateEntry {
    writer: u32,
    value: Bytes,
}

#[derive(Default)]
struct Room {
    peers: BTreeMap<u32, Peer>,
    last_id: u32,
    state: BTreeMap<String, StateEntry>,
    empty_since: Option<Instant>,
}

/// What a frame did wrong (the connection is closed with reason PROTOCOL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// The hub state machine.
pub struct HubCore {
    cfg: HubConfig,
    conns: HashMap<ConnId, Conn>,
    rooms: HashMap<Arc<str>, Room>,
    dirty: Vec<ConnId>,
    closed: Vec<(ConnId, Outbox)>,
    keys: std::collections::hash_map::RandomState,
    key_counter: u64,
    obs: observe::Observer,
    /// Poses, clock and blobs (`hub_core/ext.rs`).
    ext: ext::HubExt,
}

impl HubCore {
    /// A hub with no connections.
    pub fn new(cfg: HubConfig) -> HubCore {
        HubCore {
            cfg,
            conns: HashMap::new(),
            rooms: HashMap::new(),
            dirty: Vec::new(),
            closed: Vec::new(),
            keys: Default::default(),
            key_counter: 0,
            obs: Default::default(),
            ext: Default::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &HubConfig {
        &self.cfg
    }

    /// Connections with new output since the last call.
    pub fn take_dirty(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.dirty)
    }

    /// Connections the hub ended, each with its last frames to write before closing.
    pub fn take_closed(&mut self) -> Vec<(ConnId, Outbox)> {
        std::mem::take(&mut self.closed)
    }

    /// The outbox of a connection, if it is open.
    pub fn outbox(&mut self, id: ConnId) -> Option<&mut Outbox> {
        self.conns.get_mut(&id).map(|c| &mut c.outbox)
    }

    /// True once a connection's HELLO was accepted (it speaks for a peer).
    pub fn joined(&self, id: ConnId) -> bool {
        self.conns.get(&id).is_some_and(|c| c.peer.is_some())
    }

    /// Number of open connections.
    pub fn conn_count(&self) -> usize {
        self.conns.len()
    }

    /// A room's state, key → (writer, value), for tests and diagnostics.
    pub fn room_state(&self, room: &str) -> Option<Vec<(String, u32, Vec<u8>)>> {
        let r = self.rooms.get(room)?;
        Some(
            r.state
                .iter()
                .map(|(k, e)| (k.clone(), e.writer, e.value.to_vec()))
                .collect(),
        )
    }

    /// Peer ids in a room.
    pub fn room_peers(&self, room: &str) -> Vec<u32> {
        self.rooms
            .get(room)
            .map(|r| r.peers.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Bytes kept for a peer (unacknowledged messages).
    pub fn peer_queue(&self, room: &str, peer: u32) -> Option<usize> {
        Some(self.rooms.get(room)?.peers.get(&peer)?.retained_bytes)
    }

    /// A connection was accepted.
    pub fn on_connect(&mut self, id: ConnId, now: Instant) {
        self.conns.insert(
            id,
            Conn {
                outbox: Outbox::default(),
                peer: None,
                opened: now,
                last_sent: now,
            },
        );
    }

    fn push(&mut self, id: ConnId, f: Vec<u8>, control: bool, now: Instant) {
        if let Some(c) = self.conns.get_mut(&id) {
            if control {
                c.outbox.push_control(f.into());
            } else {
                c.outbox.push_data(f.into());
            }
            c.last_sent = now;
            self.dirty.push(id);
        }
    }

    /// End a connection (with a BYE if `bye` is given); its peer is left as is.
    fn end_conn(&mut self, id: ConnId, bye: Option<i32>) {
        if let Some(mut c) = self.conns.remove(&id) {
            // Queued messages are kept in the peer's queue anyway: only the BYE matters now.
            c.outbox.drop_queued_data();
            if let Some(reason) = bye {
                c.outbox
                    .push_data(wire::encode(&Frame::Bye { reason }).into());
            }
            self.closed.push((id, c.outbox));
        }
    }

    /// Refuse a connection's HELLO and close it.
    fn reject(&mut self, id: ConnId, reason: i32, text: &str, now: Instant) {
        let no_room: Arc<str> = Arc::from("");
        (self.obs).with_reason(ObservedKind::Rejected, &no_room, 0, "", reason, text.into());
        self.push(id, wire::encode(&Frame::Reject { reason, text }), true, now);
        self.end_conn(id, None);
    }

    /// The connection ended (end of stream, error): its peer goes stale, or leaves without grace.
    pub fn on_closed(&mut self, id: ConnId, now: Instant) {
        let Some(c) = self.conns.remove(&id) else {
            return;
        };
        let Some((room, peer)) = c.peer else { return };
        self.link_lost(&room, peer, id, now);
    }

    fn link_lost(&mut self, room: &Arc<str>, peer: u32, id: ConnId, now: Instant) {
        let Some(p) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return;
        };
        if p.conn != Some(id) {
            return;
        }
        p.conn = None;
        if self.cfg.grace.is_none() {
            self.remove_peer(room, peer, reason::TIMEOUT, now);
        } else if !p.stale {
            p.stale = true;
            let text = "connection ended".to_string();
            (self.obs).with_reason(
                ObservedKind::Stale,
                room,
                peer,
                &p.name,
                reason::NETWORK,
                text,
            );
            self.announce(room, peer, peer_what::STALE, reason::NONE, now);
        }
    }

    /// A protocol violation (or any fatal error) on a connection: close it with PROTOCOL; its
    /// peer, if any, leaves the room.
    pub fn fail(&mut self, id: ConnId, now: Instant) {
        let peer = self.conns.get(&id).and_then(|c| c.peer.clone());
        self.end_conn(id, Some(reason::PROTOCOL));
        if let Some((room, peer)) = peer {
            self.remove_peer(&room, peer, reason::PROTOCOL, now);
        }
    }

    /// A whole frame arrived on a connection.
    pub fn on_frame(
        &mut self,
        id: ConnId,
        k: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Violation> {
        if (super::ext_wire::kind::FIRST..=super::ext_wire::kind::LAST).contains(&k) {
            let Some(conn) = self.conns.get(&id) else {
                return Ok(());
            };
            let Some((room, peer)) = conn.peer.clone() else {
                return Err(Violation(format!("frame of kind 0x{k:02x} before HELLO")));
            };
            self.heard(&room, peer, now);
            return self.ext_frame(id, &room, peer, k, payload, now);
        }
        let frame = match wire::decode(k, payload) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()), // not a session kind: skipped
            Err(e) => return Err(Violation(format!("malformed frame of kind 0x{k:02x}: {e}"))),
        };
        let Some(conn) = self.conns.get(&id) else {
            return Ok(());
        };
        let Some((room, peer)) = conn.peer.clone() else {
            return match frame {
                Frame::Hello(h) => {
                    self.hello(id, &h, now);
                    Ok(())
                }
                _ => Err(Violation(format!("frame of kind 0x{k:02x} before HELLO"))),
            };
        };
        self.heard(&room, peer, now);
        match frame {
            Frame::Send { to, payload } => {
                self.count_received(&room, peer, id, payload.len(), now);
                self.relay(&room, peer, to, payload, now);
            }
            Frame::SetState { flags, key, value } => {
                self.count_received(&room, peer, id, key.len() + value.len(), now);
                self.set_state(&room, peer, flags, key, value, now);
            }
            Frame::Ack { count } => self.acked(&room, peer, count)?,
            Frame::Bye { .. } => {
                self.end_conn(id, None);
                self.remove_peer(&room, peer, reason::REMOTE_CLOSE, now);
            }
            _ => {
                return Err(Violation(format!(
                    "frame of kind 0x{k:02x} is not for the hub"
                )))
            }
        }
        Ok(())
    }

    fn heard(&mut self, room: &Arc<str>, peer: u32, now: Instant) {
        let Some(p) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return;
        };
        p.last_heard = now;
        if p.stale {
            p.stale = false;
            self.obs.event(ObservedKind::Resumed, room, peer, &p.name);
            self.announce(room, peer, peer_what::RESUMED, reason::NONE, now);
        }
    }

    fn count_received(&mut self, room: &Arc<str>, peer: u32, id: ConnId, len: usize, now: Instant) {
        let Some(p) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return;
        };
        p.received += 1;
        p.unacked_bytes += len;
        if p.received - p.ack_sent >= ACK_EVERY || p.unacked_bytes >= ACK_BYTES {
            p.ack_sent = p.received;
            p.unacked_bytes = 0;
            let f = wire::encode(&Frame::Ack { count: p.received });
            self.push(id, f, true, now);
        }
    }

    fn acked(&mut self, room: &Arc<str>, peer: u32, count: u64) -> Result<(), Violation> {
        let Some(p) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return Ok(());
        };
        if count < p.acked || count > p.sent_total() {
            return Err(Violation(format!(
                "ACK {count} outside the frames sent ({}..={})",
                p.acked,
                p.sent_total()
            )));
        }
        while p.acked < count {
            if let Some(f) = p.retained.pop_front() {
                p.retained_bytes -= f.len();
            }
            p.acked += 1;
        }
        if p.retained_bytes <= self.cfg.queue_limit {
            p.over_since = None;
            p.hard_limit = self.cfg.queue_limit.saturating_mul(HARD_QUEUE_FACTOR);
        }
        Ok(())
    }

    /// Send a presence frame about `peer` to every other connected peer of the room.
    fn announce(&mut self, room: &Arc<str>, peer: u32, what: u8, why: i32, now: Instant) {
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let name = r.peers.get(&peer).map(|p| p.name.as_str()).unwrap_or("");
        let f: Bytes = wire::encode(&Frame::Peer {
            what,
            flags: 0,
            peer,
            reason: why,
            time_us: micros_at(now),
            name: if what == peer_what::JOINED { name } else { "" },
        })
        .into();
        let targets: Vec<ConnId> = r
            .peers
            .iter()
            .filter(|(&o, _)| o != peer)
            .filter_map(|(_, p)| p.conn)
            .collect();
        self.push_shared(&targets, &f, now);
    }

    fn push_shared(&mut self, targets: &[ConnId], f: &Bytes, now: Instant) {
        for &c in targets {
            if let Some(conn) = self.conns.get_mut(&c) {
                conn.outbox.push_data(f.clone());
                conn.last_sent = now;
                self.dirty.push(c);
            }
        }
    }

    fn remove_peer(&mut self, room: &Arc<str>, peer: u32, why: i32, now: Instant) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        let Some(p) = r.peers.remove(&peer) else {
            return;
        };
        (self.obs).with_reason(ObservedKind::Left, room, peer, &p.name, why, String::new());
        if r.peers.is_empty() {
            r.empty_since = Some(now);
        }
        let targets: Vec<ConnId> = r.peers.values().filter_map(|p| p.conn).collect();
        self.ext_peer_left(room, peer);
        if let Some(c) = p.conn {
            let bye = (why == reason::TIMEOUT).then_some(reason::TIMEOUT);
            self.end_conn(c, bye);
        }
        let f: Bytes = wire::encode(&Frame::Peer {
            what: peer_what::LEFT,
            flags: 0,
            peer,
            reason: why,
            time_us: micros_at(now),
            name: "",
        })
        .into();
        self.push_shared(&targets, &f, now);
    }

    /// Close everything: every connected peer gets BYE(HUB_SHUTDOWN).
    pub fn shutdown(&mut self) {
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for id in ids {
            let joined = self.conns.get(&id).is_some_and(|c| c.peer.is_some());
            self.end_conn(id, joined.then_some(reason::HUB_SHUTDOWN));
        }
        self.rooms.clear();
    }
}

mod join;
mod liveness;
mod traffic;

pub mod observe;
use observe::ObservedKind;

#[cfg(test)]
mod tests;

impl From<super::stream::StreamError> for Violation {
    fn from(e: super::stream::StreamError) -> Self {
        Violation(e.0)
    }
}
