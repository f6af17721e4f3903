//! Housekeeping: acknowledgements, heartbeats, stale and departed peers, slow peers,
//! late handshakes, empty rooms.

use super::observe::ObservedKind;
use super::{ConnId, HubCore};
use crate::session::reason;
use crate::session::wire::{self, peer_what, Frame};
use std::sync::Arc;
use std::time::Instant;

impl HubCore {
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

    pub(super) fn tick_room(&mut self, room: &Arc<str>, now: Instant) {
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
                p.unacked_bytes = 0;
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
}
