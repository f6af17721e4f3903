//! A session (device side) as a pure state machine: handshake, snapshot, events, reliable
//! sends with acknowledgements, heartbeats when idle, and resume after a broken link.
//!
//! `client_io` owns the socket: it obeys [`ClientCore::take_want`] (open a link, drop the
//! link), feeds frames and times in, and writes the [`Outbox`].

use super::stream::{Bytes, Outbox};
use super::wire::{self, peer_what, state_flag, Frame};
use super::{event_flag, event_kind, limits, micros_at, reason, Event};
use crate::error::Error;
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Session settings (the C config after defaults and checks).
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// Room to join (1–64 bytes).
    pub room: String,
    /// Name shown to others (≤ 64 bytes).
    pub name: String,
    /// Auth token (empty = none).
    pub token: Vec<u8>,
    /// Limit for one connection attempt (connect and handshake).
    pub connect_timeout: Duration,
    /// Bytes of sent messages kept until the hub acknowledges them.
    pub queue_limit: usize,
}

/// Events held for the application before the session stops reading from the hub.
const EVENT_BYTES_LIMIT: usize = 4 * 1024 * 1024;
const EVENT_COUNT_LIMIT: usize = 65_536;
const ACK_EVERY: u64 = 32;
const ACK_BYTES: usize = 64 * 1024;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    /// No socket (before the first attempt, between attempts, or over).
    Down,
    /// Connecting; HELLO goes out once connected.
    Connecting(Instant),
    /// HELLO sent, waiting for WELCOME.
    Hello(Instant),
    /// WELCOME received, snapshot arriving.
    Syncing,
    /// Live traffic.
    Live,
}

/// A peer as this session sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerView {
    /// Its name.
    pub name: String,
    /// Announced stale and not heard again.
    pub stale: bool,
}

#[derive(Default)]
struct Staging {
    peers: BTreeMap<u32, PeerView>,
    state: BTreeMap<String, (u32, Bytes)>,
    dropped: u64,
}

/// What the I/O glue must do next.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Want {
    /// Close the current socket.
    pub drop_link: bool,
    /// Open a new connection (after dropping the old one).
    pub connect: bool,
}

/// A protocol violation by the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

/// The session state machine.
pub struct ClientCore {
    cfg: ClientConfig,
    link: Link,
    over: bool,
    joined: bool,
    peer_id: u32,
    resume_key: u64,
    heartbeat: Duration,
    stale_after: Duration,
    grace: Option<Duration>,
    clock_offset_us: i64,
    retained: VecDeque<Bytes>,
    retained_bytes: usize,
    acked: u64,
    received: u64,
    ack_sent: u64,
    unacked_bytes: usize,
    last_heard: Instant,
    last_sent: Instant,
    /// Reconnecting: when the link broke (the grace runs from the hub's last news of us).
    broken_since: Option<Instant>,
    retry_at: Option<Instant>,
    backoff: Duration,
    peers: BTreeMap<u32, PeerView>,
    state: BTreeMap<String, (u32, Bytes)>,
    staging: Option<Staging>,
    events: VecDeque<Event>,
    event_bytes: usize,
    outbox: Outbox,
    want: Want,
}

impl ClientCore {
    /// A new session; it wants a connection at once.
    pub fn new(cfg: ClientConfig, now: Instant) -> ClientCore {
        ClientCore {
            cfg,
            link: Link::Down,
            over: false,
            joined: false,
            peer_id: 0,
            resume_key: 0,
            heartbeat: Duration::from_millis(500),
            stale_after: Duration::from_millis(2500),
            grace: None,
            clock_offset_us: 0,
            retained: VecDeque::new(),
            retained_bytes: 0,
            acked: 0,
            received: 0,
            ack_sent: 0,
            unacked_bytes: 0,
            last_heard: now,
            last_sent: now,
            broken_since: None,
            retry_at: None,
            backoff: BACKOFF_MIN,
            peers: BTreeMap::new(),
            state: BTreeMap::new(),
            staging: None,
            events: VecDeque::new(),
            event_bytes: 0,
            outbox: Outbox::default(),
            want: Want {
                drop_link: false,
                connect: true,
            },
        }
    }

    /// What the glue must do now (cleared by the call).
    pub fn take_want(&mut self) -> Want {
        std::mem::take(&mut self.want)
    }

    /// The outbox of the current link.
    pub fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    /// True once the session ended for good (no more reconnecting).
    pub fn is_over(&self) -> bool {
        self.over
    }

    /// Own peer id once joined.
    pub fn peer_id(&self) -> Option<u32> {
        (self.joined && self.peer_id != 0).then_some(self.peer_id)
    }

    /// A peer's name (own name for own id).
    pub fn peer_name(&self, peer: u32) -> Option<&str> {
        if self.joined && peer == self.peer_id {
            return Some(&self.cfg.name);
        }
        self.peers.get(&peer).map(|p| p.name.as_str())
    }

    /// The room's state as last received.
    pub fn state(&self, key: &str) -> Option<&Bytes> {
        self.state.get(key).map(|(_, v)| v)
    }

    /// Present peers.
    pub fn peers(&self) -> &BTreeMap<u32, PeerView> {
        &self.peers
    }

    /// Hub time now, as estimated from WELCOME.
    pub fn hub_time(&self, now: Instant) -> i64 {
        micros_at(now).saturating_add(self.clock_offset_us)
    }

    /// True while events wait for the application beyond the limit: stop reading the link.
    pub fn wants_pause(&self) -> bool {
        self.link == Link::Live
            && (self.event_bytes > EVENT_BYTES_LIMIT || self.events.len() > EVENT_COUNT_LIMIT)
    }

    /// True while the link is joined (snapshot arriving or live) and the session not over.
    pub fn is_live(&self) -> bool {
        !self.over && matches!(self.link, Link::Syncing | Link::Live)
    }

    /// Queue an event for the application (poses, clock and blobs: `client_io/ext.rs`).
    pub fn push_event(&mut self, e: Event) {
        self.emit(e);
    }

    /// True while a link exists or is being set up.
    pub fn link_up(&self) -> bool {
        self.link != Link::Down
    }

    /// The hub broke the protocol: the session ends with DISCONNECTED(PROTOCOL).
    pub fn on_violation(&mut self, now: Instant) {
        self.finish(event_kind::DISCONNECTED, reason::PROTOCOL, now);
    }

    /// The glue stopped reading because the application is not polling: the hub's silence
    /// is ours, not a dead link.
    pub fn note_paused(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// Number of events waiting.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Take up to `max` events, oldest first.
    pub fn take_events(&mut self, max: usize) -> Vec<Event> {
        let n = max.min(self.events.len());
        let v: Vec<Event> = self.events.drain(..n).collect();
        for e in &v {
            self.event_bytes -= e
                .payload
                .as_ref()
                .map_or(0, |p| p.len())
                .min(self.event_bytes);
        }
        v
    }

    fn emit(&mut self, e: Event) {
        self.event_bytes += e.payload.as_ref().map_or(0, |p| p.len());
        self.events.push_back(e);
    }

    fn emit_local(&mut self, kind: u32, why: i32, flags: u32, size: u64, now: Instant) {
        let t = self.hub_time(now);
        self.emit(Event {
            kind,
            peer: 0,
            reason: why,
            flags,
            payload: None,
            size,
            time_us: t,
        });
    }

    /// The link is connected: say HELLO (resuming if this session has joined before).
    pub fn on_connected(&mut self, now: Instant) {
        self.outbox.clear();
        let (resume_peer, resume_key) = if self.joined {
            (self.peer_id, self.resume_key)
        } else {
            (0, 0)
        };
        let hello = wire::encode(&Frame::Hello(wire::Hello {
            version: wire::PROTOCOL_VERSION,
            resume_peer,
            resume_key,
            ack: self.received,
            room: &self.cfg.room,
            name: &self.cfg.name,
            token: &self.cfg.token,
        }));
        self.outbox.push_control(hello.into());
        self.last_sent = now;
        self.link = Link::Hello(now);
    }

    /// The glue started connecting.
    pub fn on_connecting(&mut self, now: Instant) {
        self.link = Link::Connecting(now);
    }

    /// End the session for good with a DISCONNECTED (or REJECTED before the first JOINED).
    fn finish(&mut self, kind: u32, why: i32, now: Instant) {
        if self.over {
            return;
        }
        self.over = true;
        self.link = Link::Down;
        self.retry_at = None;
        self.outbox.clear();
        self.retained.clear();
        self.retained_bytes = 0;
        self.want = Want {
            drop_link: true,
            connect: false,
        };
        self.emit_local(kind, why, 0, 0, now);
    }

    /// The link failed or broke (connect error, end of stream, silence, BYE(SLOW_PEER)).
    pub fn on_link_lost(&mut self, why: i32, now: Instant) {
        if self.over || self.link == Link::Down {
            return;
        }
        self.link = Link::Down;
        self.staging = None;
        self.outbox.clear();
        self.want.drop_link = true;
        if !self.joined || self.grace.is_none() {
            return self.finish(event_kind::DISCONNECTED, why, now);
        }
        if self.broken_since.is_none() {
            self.broken_since = Some(now);
            self.backoff = BACKOFF_MIN;
            self.emit_local(event_kind::DISCONNECTED, why, event_flag::RESUMING, 0, now);
        }
        self.retry_at = Some(now + self.backoff);
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
    }

    /// Housekeeping; call every few tens of milliseconds.
    pub fn tick(&mut self, now: Instant) {
        if self.over {
            return;
        }
        match self.link {
            Link::Connecting(t) | Link::Hello(t)
                if now.duration_since(t) >= self.cfg.connect_timeout =>
            {
                self.on_link_lost(reason::NETWORK, now);
            }
            Link::Syncing | Link::Live
                if now.duration_since(self.last_heard) >= self.stale_after =>
            {
                self.on_link_lost(reason::NETWORK, now);
            }
            Link::Live | Link::Syncing => {
                let idle = now.duration_since(self.last_sent) >= self.heartbeat;
                if self.received > self.ack_sent || idle {
                    self.send_ack(now);
                }
            }
            Link::Down if self.retry_at.is_some_and(|at| now >= at) => {
                let grace_end = self.grace.map(|g| self.last_heard + g);
                if grace_end.is_some_and(|end| now >= end) {
                    return self.finish(event_kind::DISCONNECTED, reason::TIMEOUT, now);
                }
                self.retry_at = None;
                self.want.connect = true;
            }
            _ => {}
        }
    }

    fn send_ack(&mut self, now: Instant) {
        self.ack_sent = self.received;
        self.unacked_bytes = 0;
        self.outbox.push_control(
            wire::encode(&Frame::Ack {
                count: self.received,
            })
            .into(),
        );
        self.last_sent = now;
    }

    /// A whole frame arrived.
    pub fn on_frame(&mut self, k: u8, payload: &[u8], now: Instant) -> Result<(), Violation> {
        let frame = match wire::decode(k, payload) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Violation(format!("malformed frame of kind 0x{k:02x}: {e}"))),
        };
        if self.over || self.link == Link::Down {
            return Ok(()); // bytes of a link already given up
        }
        self.last_heard = now;
        match (self.link, frame) {
            (Link::Hello(_), Frame::Welcome(w)) => self.welcomed(&w, now),
            (Link::Hello(_), Frame::Reject { reason: why, .. }) => {
                let kind = if self.joined {
                    event_kind::DISCONNECTED
                } else {
                    event_kind::REJECTED
                };
                self.finish(kind, why, now);
            }
            (
                Link::Syncing,
                Frame::Peer {
                    what: peer_what::PRESENT,
                    flags,
                    peer,
                    name,
                    ..
                },
            ) => {
                if let Some(s) = self.staging.as_mut() {
                    let stale = flags & wire::PEER_FLAG_STALE != 0;
                    s.peers.insert(
                        peer,
                        PeerView {
                            name: name.to_string(),
                            stale,
                        },
                    );
                }
            }
            (
                Link::Syncing,
                Frame::State {
                    flags,
                    writer,
                    key,
                    value,
                    ..
                },
            ) if flags & state_flag::SNAPSHOT != 0 => {
                if let Some(s) = self.staging.as_mut() {
                    s.state.insert(key.to_string(), (writer, value.into()));
                }
            }
            (Link::Syncing, Frame::SnapshotEnd { time_us, .. }) => self.synced(time_us),
            (
                Link::Live,
                Frame::Peer {
                    what,
                    peer,
                    reason: why,
                    time_us,
                    name,
                    ..
                },
            ) => self.live_peer(what, peer, why, time_us, name)?,
            (
                Link::Live,
                Frame::State {
                    flags,
                    writer,
                    time_us,
                    key,
                    value,
                },
            ) if flags & state_flag::SNAPSHOT == 0 => {
                let kb: Bytes = key.as_bytes().into();
                let deleted = flags & state_flag::DELETED != 0;
                if deleted {
                    self.state.remove(key);
                } else {
                    self.state.insert(key.to_string(), (writer, value.into()));
                }
                let f = if deleted {
                    event_flag::STATE_DELETED
                } else {
                    0
                };
                let size = kb.len() as u64;
                self.emit(Event {
                    kind: event_kind::STATE_CHANGED,
                    peer: writer,
                    reason: 0,
                    flags: f,
                    payload: Some(kb),
                    size,
                    time_us,
                });
            }
            (
                Link::Live | Link::Syncing,
                Frame::Msg {
                    flags,
                    from,
                    time_us,
                    payload,
                },
            ) => {
                self.received += 1;
                let f = if flags & wire::MSG_FLAG_DIRECT != 0 {
                    event_flag::DIRECT
                } else {
                    0
                };
                let size = payload.len() as u64;
                self.emit(Event {
                    kind: event_kind::MESSAGE,
                    peer: from,
                    reason: 0,
                    flags: f,
                    payload: Some(payload.into()),
                    size,
                    time_us,
                });
                self.unacked_bytes += payload.len();
                if self.received - self.ack_sent >= ACK_EVERY || self.unacked_bytes >= ACK_BYTES {
                    self.send_ack(now);
                }
            }
            (Link::Live | Link::Syncing, Frame::Ack { count }) => {
                let sent_total = self.acked + self.retained.len() as u64;
                if count < self.acked || count > sent_total {
                    return Err(Violation(format!(
                        "ACK {count} outside {}..={sent_total}",
                        self.acked
                    )));
                }
                while self.acked < count {
                    if let Some(f) = self.retained.pop_front() {
                        self.retained_bytes -= f.len();
                    }
                    self.acked += 1;
                }
            }
            (Link::Live | Link::Syncing, Frame::Bye { reason: why }) => {
                if why == reason::SLOW_PEER {
                    self.on_link_lost(why, now);
                } else {
                    self.finish(event_kind::DISCONNECTED, why, now);
                }
            }
            (_, f) => {
                return Err(Violation(format!(
                    "unexpected frame {f:?} in state {:?}",
                    self.link
                )))
            }
        }
        Ok(())
    }

    fn check_usable(&self) -> Result<(), Error> {
        if self.over {
            return Err(Error::Closed(
                "the session has ended (see its last event)".into(),
            ));
        }
        if !self.joined {
            return Err(Error::State(
                "the session has not joined its room yet (wait for JOINED)".into(),
            ));
        }
        Ok(())
    }

    fn queue_counted(&mut self, f: Vec<u8>, now: Instant) -> Result<(), Error> {
        if self.retained_bytes + f.len() > self.cfg.queue_limit {
            return Err(Error::WouldBlock {
                queued: self.retained_bytes,
                limit: self.cfg.queue_limit,
            });
        }
        let f: Bytes = f.into();
        self.retained_bytes += f.len();
        self.retained.push_back(f.clone());
        if matches!(self.link, Link::Syncing | Link::Live) {
            self.outbox.push_data(f);
            self.last_sent = now;
        }
        Ok(())
    }

    /// Queue a reliable message to one peer (`to` ≥ 1) or every other peer (`to` = 0).
    pub fn send(&mut self, to: u32, payload: &[u8], now: Instant) -> Result<(), Error> {
        self.check_usable()?;
        if payload.len() > limits::MAX_MESSAGE {
            return Err(Error::MessageTooLarge {
                len: payload.len(),
                max: limits::MAX_MESSAGE,
            });
        }
        if to == self.peer_id {
            return Err(Error::InvalidArgument(format!(
                "peer {to} is this session (messages never echo)"
            )));
        }
        if to != 0 && !self.peers.contains_key(&to) {
            return Err(Error::NotFound(format!("peer {to} is not in the room")));
        }
        self.queue_counted(wire::encode(&Frame::Send { to, payload }), now)
    }

    /// Queue a state write (`value` None = delete).
    pub fn set_state(
        &mut self,
        key: &str,
        value: Option<&[u8]>,
        now: Instant,
    ) -> Result<(), Error> {
        check_key(key)?;
        if let Some(v) = value {
            if v.len() > limits::MAX_VALUE {
                return Err(Error::InvalidArgument(format!(
                    "state value of {} bytes; the limit is {} bytes",
                    v.len(),
                    limits::MAX_VALUE
                )));
            }
        }
        self.check_usable()?;
        if value.is_some() && !self.state.contains_key(key) && self.state.len() >= limits::MAX_KEYS
        {
            return Err(Error::State(format!(
                "the room's state has {} keys, the limit",
                limits::MAX_KEYS
            )));
        }
        let (flags, value) = match value {
            Some(v) => (0, v),
            None => (state_flag::DELETED, &[][..]),
        };
        self.queue_counted(wire::encode(&Frame::SetState { flags, key, value }), now)
    }

    /// Close: a BYE goes out after what is queued (if the link is up).
    pub fn close(&mut self) {
        let up = matches!(self.link, Link::Syncing | Link::Live);
        if up && !self.over {
            self.outbox.push_data(
                wire::encode(&Frame::Bye {
                    reason: reason::LOCAL_CLOSE,
                })
                .into(),
            );
        }
        self.over = true;
        self.link = Link::Down;
        self.retry_at = None;
    }
}

/// Check a state key: 1–255 bytes.
pub fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > limits::MAX_KEY {
        return Err(Error::InvalidArgument(format!(
            "state key of {} bytes; keys have 1 to {} bytes",
            key.len(),
            limits::MAX_KEY
        )));
    }
    Ok(())
}

impl From<super::stream::StreamError> for Violation {
    fn from(e: super::stream::StreamError) -> Self {
        Violation(e.0)
    }
}

mod view;

#[cfg(test)]
mod tests;
