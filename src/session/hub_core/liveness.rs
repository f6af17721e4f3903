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
        // What a snapshot of this room may put in an outbox (computed only when needed).
        let mut snapshot_bytes = None;
        let n_peers = r.peers.len();
        for (&id, p) in r.peers.iter_mut() {
            let silent = now.duration_since(p.last_heard);
            // Without grace a peer leaves as soon as it would go stale.
            if silent >= cfg.grace.unwrap_or(cfg.stale_after) {
                gone.push(id);
                continue;
            }
            if !p.stale && silent >= cfg.stale_after {
                p.stale = true;
                stale.push((id, p.name.clone(), silent));
            }
            let Some(c) = p.conn else { continue };
            // State changes and presence are queued but not kept for resume: bound them too.
            let queued = self.conns.get(&c).map_or(0, |conn| conn.outbox.len());
            let flooded = queued > p.hard_limit
                && queued - p.hard_limit
                    > *snapshot_bytes.get_or_insert_with(|| snapshot_size(&r.state, n_peers));
            let too_slow = p
                .over_since
                .is_some_and(|t| now.duration_since(t) >= cfg.slow_peer)
                || p.retained_bytes > p.hard_limit
                || flooded;
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

/// Bytes of the frames of a snapshot of a room with `state` and `peers` peers (an upper bound).
fn snapshot_size(
    state: &std::collections::BTreeMap<String, super::StateEntry>,
    peers: usize,
) -> usize {
    use crate::session::limits;
    const FRAME: usize = crate::frame::HEADER_LEN + 32;
    let entries: usize = state
        .iter()
        .map(|(k, e)| FRAME + k.len() + e.value.len())
        .sum();
    entries + peers * (FRAME + limits::MAX_NAME) + 4 * FRAME
}
