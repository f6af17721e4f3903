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
use super::wire::{self, peer_what, state_flag, Frame, Hello};
use super::{limits, micros_at, reason};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
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
/// Acknowledge at once after this many unacknowledged counted frames (else on the next tick).
const ACK_EVERY: u64 = 32;

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
                self.count_received(&room, peer, id, now);
                self.relay(&room, peer, to, payload, now);
            }
            Frame::SetState { flags, key, value } => {
                self.count_received(&room, peer, id, now);
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

    fn count_received(&mut self, room: &Arc<str>, peer: u32, id: ConnId, now: Instant) {
        let Some(p) = self
            .rooms
            .get_mut(room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return;
        };
        p.received += 1;
        if p.received - p.ack_sent >= ACK_EVERY {
            p.ack_sent = p.received;
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

    fn new_resume_key(&mut self) -> u64 {
        self.key_counter += 1;
        let mut h = self.keys.build_hasher();
        h.write_u64(self.key_counter);
        h.write_u128(micros_at(Instant::now()) as u128);
        h.finish() | 1
    }

    fn hello(&mut self, id: ConnId, h: &Hello<'_>, now: Instant) {
        if h.version != wire::PROTOCOL_VERSION {
            let text = format!(
                "session protocol {} (hub speaks {})",
                h.version,
                wire::PROTOCOL_VERSION
            );
            return self.reject(id, reason::VERSION, &text, now);
        }
        if let Some(t) = &self.cfg.token {
            if h.token != t.as_slice() {
                return self.reject(id, reason::AUTH, "wrong or missing token", now);
            }
        }
        let room: Arc<str> = match self.rooms.get_key_value(h.room) {
            Some((k, _)) => k.clone(),
            None => Arc::from(h.room),
        };
        if h.resume_peer != 0 {
            return self.resume(id, room, h, now);
        }
        let r = self.rooms.entry(room.clone()).or_default();
        if r.peers.len() as u32 >= self.cfg.max_peers || r.last_id == u32::MAX {
            let text = format!("room has {} peers", r.peers.len());
            return self.reject(id, reason::ROOM_FULL, &text, now);
        }
        r.last_id += 1;
        r.empty_since = None;
        let peer = r.last_id;
        let resume_key = self.new_resume_key();
        let r = self.rooms.entry(room.clone()).or_default();
        r.peers.insert(
            peer,
            Peer {
                name: h.name.to_string(),
                resume_key,
                conn: Some(id),
                last_heard: now,
                stale: false,
                retained: VecDeque::new(),
                retained_bytes: 0,
                acked: 0,
                over_since: None,
                hard_limit: self.cfg.queue_limit.saturating_mul(HARD_QUEUE_FACTOR),
                dropped: 0,
                received: 0,
                ack_sent: 0,
            },
        );
        if let Some(c) = self.conns.get_mut(&id) {
            c.peer = Some((room.clone(), peer));
        }
        self.obs.event(ObservedKind::Joined, &room, peer, h.name);
        self.welcome(id, &room, peer, 0, false, now);
        self.announce(&room, peer, peer_what::JOINED, reason::NONE, now);
    }

    fn resume(&mut self, id: ConnId, room: Arc<str>, h: &Hello<'_>, now: Instant) {
        let ok = self
            .rooms
            .get(&room)
            .and_then(|r| r.peers.get(&h.resume_peer))
            .is_some_and(|p| p.resume_key == h.resume_key);
        if !ok {
            return self.reject(
                id,
                reason::TIMEOUT,
                "no such peer to resume (grace over?)",
                now,
            );
        }
        let peer = h.resume_peer;
        let Some(p) = self
            .rooms
            .get_mut(&room)
            .and_then(|r| r.peers.get_mut(&peer))
        else {
            return;
        };
        if h.ack < p.acked || h.ack > p.sent_total() {
            let text = format!(
                "resume ack {} outside {}..={}",
                h.ack,
                p.acked,
                p.sent_total()
            );
            return self.reject(id, reason::PROTOCOL, &text, now);
        }
        let old = p.conn.replace(id);
        self.obs
            .event(ObservedKind::Reconnected, &room, peer, &p.name);
        while p.acked < h.ack {
            if let Some(f) = p.retained.pop_front() {
                p.retained_bytes -= f.len();
            }
            p.acked += 1;
        }
        // A resumed peer gets a fresh slow_peer_ms to work through what was kept for it.
        p.over_since = (p.retained_bytes > self.cfg.queue_limit).then_some(now);
        let hard = self.cfg.queue_limit.saturating_mul(HARD_QUEUE_FACTOR);
        p.hard_limit = hard.max(p.retained_bytes.saturating_add(self.cfg.queue_limit));
        let dropped = std::mem::take(&mut p.dropped);
        let resend: Vec<Bytes> = p.retained.iter().cloned().collect();
        if let Some(old) = old {
            self.end_conn(old, None);
        }
        if let Some(c) = self.conns.get_mut(&id) {
            c.peer = Some((room.clone(), peer));
        }
        self.heard(&room, peer, now);
        self.welcome(id, &room, peer, dropped, true, now);
        if let Some(c) = self.conns.get_mut(&id) {
            for f in resend {
                c.outbox.push_data(f);
            }
        }
    }

    /// WELCOME and the snapshot (the other peers and the whole state).
    fn welcome(
        &mut self,
        id: ConnId,
        room: &Arc<str>,
        peer: u32,
        dropped: u64,
        resumed: bool,
        now: Instant,
    ) {
        let t = micros_at(now);
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let Some(p) = r.peers.get(&peer) else { return };
        let mut frames = Vec::with_capacity(2 + r.peers.len() + r.state.len());
        frames.push(wire::encode(&Frame::Welcome(wire::Welcome {
            version: wire::PROTOCOL_VERSION,
            peer,
            resume_key: p.resume_key,
            ack: p.received,
            time_us: t,
            heartbeat_ms: self.cfg.heartbeat.as_millis().clamp(1, u32::MAX as u128) as u32,
            stale_ms: self.cfg.stale_after.as_millis().clamp(1, u32::MAX as u128) as u32,
            grace_ms: self
                .cfg
                .grace
                .map_or(-1, |g| g.as_millis().min(i32::MAX as u128) as i32),
            dropped,
            resumed: resumed as u8,
        })));
        for (&other, op) in r.peers.iter().filter(|(&o, _)| o != peer) {
            frames.push(wire::encode(&Frame::Peer {
                what: peer_what::PRESENT,
                flags: if op.stale { wire::PEER_FLAG_STALE } else { 0 },
                peer: other,
                reason: reason::NONE,
                time_us: t,
                name: &op.name,
            }));
        }
        for (key, e) in &r.state {
            frames.push(wire::encode(&Frame::State {
                flags: state_flag::SNAPSHOT,
                writer: e.writer,
                time_us: t,
                key,
                value: &e.value,
            }));
        }
        self.ext_snapshot_frames(room, t, &mut frames);
        frames.push(wire::encode(&Frame::SnapshotEnd {
            time_us: t,
            peers: (r.peers.len() - 1) as u32,
            keys: r.state.len() as u32,
        }));
        let mut first = true;
        for f in frames {
            self.push(id, f, first, now);
            first = false;
        }
        self.ext_welcome(id, room, peer, now);
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

    /// Queue a counted frame for a peer: kept until acknowledged; while the peer is away, only
    /// up to the queue limit (the rest is dropped and counted).
    fn deliver(&mut self, room: &Arc<str>, to: u32, f: &Bytes, now: Instant) {
        let limit = self.cfg.queue_limit;
        let Some(p) = self.rooms.get_mut(room).and_then(|r| r.peers.get_mut(&to)) else {
            return;
        };
        match p.conn {
            None => {
                if p.retained_bytes + f.len() > limit {
                    p.dropped += 1;
                    return;
                }
            }
            Some(c) => {
                if let Some(conn) = self.conns.get_mut(&c) {
                    conn.outbox.push_data(f.clone());
                    conn.last_sent = now;
                    self.dirty.push(c);
                }
            }
        }
        p.retained.push_back(f.clone());
        p.retained_bytes += f.len();
        self.obs.queued(p.retained_bytes);
        if p.retained_bytes > limit && p.over_since.is_none() {
            p.over_since = Some(now);
        }
    }

    fn relay(&mut self, room: &Arc<str>, from: u32, to: u32, payload: &[u8], now: Instant) {
        let flags = if to == 0 { 0 } else { wire::MSG_FLAG_DIRECT };
        let f: Bytes = wire::encode(&Frame::Msg {
            flags,
            from,
            time_us: micros_at(now),
            payload,
        })
        .into();
        if to != 0 {
            self.obs.message(usize::from(to != from));
            if to != from {
                self.deliver(room, to, &f, now);
            }
            return;
        }
        let targets: Vec<u32> = match self.rooms.get(room) {
            Some(r) => r.peers.keys().copied().filter(|&p| p != from).collect(),
            None => return,
        };
        self.obs.message(targets.len());
        for t in targets {
            self.deliver(room, t, &f, now);
        }
    }

    fn set_state(
        &mut self,
        room: &Arc<str>,
        writer: u32,
        flags: u8,
        key: &str,
        value: &[u8],
        now: Instant,
    ) {
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        let deleted = flags & state_flag::DELETED != 0;
        if deleted {
            if r.state.remove(key).is_none() {
                return; // nothing changed
            }
        } else if let Some(e) = r.state.get_mut(key) {
            e.writer = writer;
            e.value = value.into();
        } else if r.state.len() < limits::MAX_KEYS {
            r.state.insert(
                key.to_string(),
                StateEntry {
                    writer,
                    value: value.into(),
                },
            );
        } else {
            return; // the room's state is full: the write is ignored (sessions check first)
        }
        self.obs.state_write();
        let f: Bytes = wire::encode(&Frame::State {
            flags: if deleted { state_flag::DELETED } else { 0 },
            writer,
            time_us: micros_at(now),
            key,
            value,
        })
        .into();
        let targets: Vec<ConnId> = r.peers.values().filter_map(|p| p.conn).collect();
        self.push_shared(&targets, &f, now);
    }

    /// Housekeeping: acknowledgements, heartbeats, stale and departed peers, slow peers,
    /// handshakes that take too long, empty rooms. Call every few tens of milliseconds.
    pub fn tick(&mut self, now: Instant) {
        let late: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| {
                c.peer.is_none() && now.duration_since(c.opened) >= self.cfg.handshake_timeout
            })
            .map(|(&id, _)| id)
            .collect();
        for id in late {
            self.end_conn(id, Some(reason::TIMEOUT));
        }
        let rooms: Vec<Arc<str>> = self.rooms.keys().cloned().collect();
        for room in rooms {
            self.tick_room(&room, now);
        }
        let linger = self.cfg.room_linger;
        self.rooms.retain(|_, r| {
            !r.peers.is_empty()
                || r.empty_since
                    .map_or(true, |t| now.duration_since(t) < linger)
        });
        self.ext_tick();
    }

    fn tick_room(&mut self, room: &Arc<str>, now: Instant) {
        let cfg = self.cfg.clone();
        let mut stale = Vec::new();
        let mut gone = Vec::new();
        let mut slow = Vec::new();
        let mut acks = Vec::new();
        let Some(r) = self.rooms.get_mut(room) else {
            return;
        };
        for (&id, p) in r.peers.iter_mut() {
            let silent = now.duration_since(p.last_heard);
            if cfg.grace.is_some_and(|g| silent >= g) {
                gone.push(id);
                continue;
            }
            if !p.stale && silent >= cfg.stale_after {
                p.stale = true;
                stale.push((id, p.name.clone(), silent));
            }
            let Some(c) = p.conn else { continue };
            let too_slow = p
                .over_since
                .is_some_and(|t| now.duration_since(t) >= cfg.slow_peer)
                || p.retained_bytes > p.hard_limit;
            if too_slow {
                slow.push((id, c));
                continue;
            }
            let idle = self
                .conns
                .get(&c)
                .is_some_and(|conn| now.duration_since(conn.last_sent) >= cfg.heartbeat);
            if p.received > p.ack_sent || idle {
                p.ack_sent = p.received;
                acks.push((c, p.received));
            }
        }
        for (c, count) in acks {
            self.push(c, wire::encode(&Frame::Ack { count }), true, now);
        }
        for (id, name, silent) in stale {
            let text = format!("silent for {} ms", silent.as_millis());
            (self.obs).with_reason(ObservedKind::Stale, room, id, &name, reason::TIMEOUT, text);
            self.announce(room, id, peer_what::STALE, reason::NONE, now);
        }
        for (id, c) in slow {
            let (name, queued) = self
                .rooms
                .get(room)
                .and_then(|r| r.peers.get(&id))
                .map_or((String::new(), 0), |p| (p.name.clone(), p.retained_bytes));
            let text = format!("{queued} bytes queued");
            (self.obs).with_reason(
                ObservedKind::SlowPeer,
                room,
                id,
                &name,
                reason::SLOW_PEER,
                text,
            );
            self.end_conn(c, Some(reason::SLOW_PEER));
            self.link_lost(room, id, c, now);
        }
        for id in gone {
            self.remove_peer(room, id, reason::TIMEOUT, now);
        }
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

pub mod observe;
use observe::ObservedKind;

#[cfg(test)]
mod tests;

impl From<super::stream::StreamError> for Violation {
    fn from(e: super::stream::StreamError) -> Self {
        Violation(e.0)
    }
}
