//! Joining and resuming: HELLO, WELCOME and the snapshot.

use super::observe::ObservedKind;
use super::{ConnId, HubCore, Peer, Room, HARD_QUEUE_FACTOR, MAX_ROOMS};
use crate::session::stream::Bytes;
use crate::session::wire::{self, peer_what, state_flag, Frame, Hello};
use crate::session::{micros_at, reason};
use std::collections::VecDeque;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Instant;

impl HubCore {
    pub(super) fn new_resume_key(&mut self) -> u64 {
        self.key_counter += 1;
        let mut h = self.keys.build_hasher();
        h.write_u64(self.key_counter);
        h.write_u128(micros_at(Instant::now()) as u128);
        h.finish() | 1
    }

    pub(super) fn hello(&mut self, id: ConnId, h: &Hello<'_>, now: Instant) {
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
        if !self.rooms.contains_key(&room) && self.rooms.len() >= MAX_ROOMS {
            let text = format!("the hub has {MAX_ROOMS} rooms");
            return self.reject(id, reason::ROOM_FULL, &text, now);
        }
        let r = self.rooms.entry(room.clone()).or_insert_with(|| Room {
            empty_since: Some(now),
            ..Room::default()
        });
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
                unacked_bytes: 0,
            },
        );
        if let Some(c) = self.conns.get_mut(&id) {
            c.peer = Some((room.clone(), peer));
        }
        self.obs.event(ObservedKind::Joined, &room, peer, h.name);
        self.welcome(id, &room, peer, 0, false, now);
        self.announce(&room, peer, peer_what::JOINED, reason::NONE, now);
    }

    pub(super) fn resume(&mut self, id: ConnId, room: Arc<str>, h: &Hello<'_>, now: Instant) {
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
    pub(super) fn welcome(
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
}
