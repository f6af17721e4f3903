//! Reliable relay (per-peer counted queues with limits) and the room's shared state.

use super::{ConnId, HubCore, StateEntry};
use crate::session::stream::Bytes;
use crate::session::wire::{self, state_flag, Frame};
use crate::session::{limits, micros_at};
use std::sync::Arc;
use std::time::Instant;

impl HubCore {
    /// Queue a counted frame for a peer: kept until acknowledged; while the peer is away, only
    /// up to the queue limit (the rest is dropped and counted).
    pub(super) fn deliver(&mut self, room: &Arc<str>, to: u32, f: &Bytes, now: Instant) {
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

    pub(super) fn relay(
        &mut self,
        room: &Arc<str>,
        from: u32,
        to: u32,
        payload: &[u8],
        now: Instant,
    ) {
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

    pub(super) fn set_state(
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
            // The room's state is full (sessions check first, but two may race for the last
            // key): the write is refused, and its writer alone learns the key stays absent.
            let Some(c) = r.peers.get(&writer).and_then(|p| p.conn) else {
                return;
            };
            let f = wire::encode(&Frame::State {
                flags: state_flag::DELETED,
                writer: 0,
                time_us: micros_at(now),
                key,
                value: &[],
            });
            return self.push(c, f, false, now);
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
}
