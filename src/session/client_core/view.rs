//! How a session's view of the room changes: WELCOME, the snapshot (first join, or a resume
//! reconciled against what the session saw before), and live presence.

use super::{ClientCore, Link, PeerView, Staging, Violation, BACKOFF_MIN};
use crate::session::stream::Bytes;
use crate::session::wire::{self, peer_what};
use crate::session::{event_flag, event_kind, micros_at, reason, Event};
use std::time::{Duration, Instant};

impl ClientCore {
    pub(super) fn welcomed(&mut self, w: &wire::Welcome, now: Instant) {
        if self.joined && (w.peer != self.peer_id || w.resumed == 0) {
            return self.finish(event_kind::DISCONNECTED, reason::PROTOCOL, now);
        }
        let sent_total = self.acked + self.retained.len() as u64;
        if w.ack < self.acked || w.ack > sent_total {
            return self.finish(event_kind::DISCONNECTED, reason::PROTOCOL, now);
        }
        while self.acked < w.ack {
            if let Some(f) = self.retained.pop_front() {
                self.retained_bytes -= f.len();
            }
            self.acked += 1;
        }
        self.peer_id = w.peer;
        self.resume_key = w.resume_key;
        self.heartbeat = Duration::from_millis(w.heartbeat_ms as u64);
        self.stale_after = Duration::from_millis(w.stale_ms as u64);
        self.grace = (w.grace_ms >= 0).then(|| Duration::from_millis(w.grace_ms as u64));
        self.clock_offset_us = w.time_us.saturating_sub(micros_at(now));
        self.staging = Some(Staging {
            dropped: w.dropped,
            ..Default::default()
        });
        self.link = Link::Syncing;
        // What the hub has not acknowledged goes again, in order, then new sends follow.
        for f in &self.retained {
            self.outbox.push_data(f.clone());
        }
        self.last_sent = now;
    }

    pub(super) fn synced(&mut self, time_us: i64) {
        let Some(s) = self.staging.take() else {
            return;
        };
        self.link = Link::Live;
        self.broken_since = None;
        self.retry_at = None;
        self.backoff = BACKOFF_MIN;
        let old_peers = std::mem::take(&mut self.peers);
        let old_state = std::mem::take(&mut self.state);
        if !self.joined {
            self.joined = true;
            let id = self.peer_id;
            self.emit(Event {
                kind: event_kind::JOINED,
                peer: id,
                reason: 0,
                flags: 0,
                payload: None,
                size: 0,
                time_us,
            });
        } else {
            self.emit(Event {
                kind: event_kind::RECONNECTED,
                peer: 0,
                reason: 0,
                flags: 0,
                payload: None,
                size: s.dropped,
                time_us,
            });
        }
        for (&id, p) in &s.peers {
            match old_peers.get(&id) {
                None => {
                    self.emit(Event {
                        kind: event_kind::PEER_JOINED,
                        peer: id,
                        reason: 0,
                        flags: 0,
                        payload: None,
                        size: 0,
                        time_us,
                    });
                    if p.stale {
                        self.emit(Event {
                            kind: event_kind::PEER_STALE,
                            peer: id,
                            reason: 0,
                            flags: 0,
                            payload: None,
                            size: 0,
                            time_us,
                        });
                    }
                }
                Some(o) if o.stale != p.stale => {
                    let k = if p.stale {
                        event_kind::PEER_STALE
                    } else {
                        event_kind::PEER_RESUMED
                    };
                    self.emit(Event {
                        kind: k,
                        peer: id,
                        reason: 0,
                        flags: 0,
                        payload: None,
                        size: 0,
                        time_us,
                    });
                }
                Some(_) => {}
            }
        }
        for &id in old_peers.keys().filter(|id| !s.peers.contains_key(id)) {
            self.emit(Event {
                kind: event_kind::PEER_LEFT,
                peer: id,
                reason: reason::NONE,
                flags: 0,
                payload: None,
                size: 0,
                time_us,
            });
        }
        for (key, (writer, value)) in &s.state {
            if old_state.get(key).is_none_or_differs(value) {
                let kb: Bytes = key.as_bytes().into();
                let size = kb.len() as u64;
                self.emit(Event {
                    kind: event_kind::STATE_CHANGED,
                    peer: *writer,
                    reason: 0,
                    flags: 0,
                    payload: Some(kb),
                    size,
                    time_us,
                });
            }
        }
        for key in old_state.keys().filter(|k| !s.state.contains_key(*k)) {
            let kb: Bytes = key.as_bytes().into();
            let size = kb.len() as u64;
            self.emit(Event {
                kind: event_kind::STATE_CHANGED,
                peer: 0,
                reason: 0,
                flags: event_flag::STATE_DELETED,
                payload: Some(kb),
                size,
                time_us,
            });
        }
        self.peers = s.peers;
        self.state = s.state;
    }

    pub(super) fn live_peer(
        &mut self,
        what: u8,
        peer: u32,
        why: i32,
        time_us: i64,
        name: &str,
    ) -> Result<(), Violation> {
        let kind = match what {
            peer_what::JOINED => {
                self.peers.insert(
                    peer,
                    PeerView {
                        name: name.to_string(),
                        stale: false,
                    },
                );
                event_kind::PEER_JOINED
            }
            peer_what::STALE => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.stale = true;
                }
                event_kind::PEER_STALE
            }
            peer_what::RESUMED => {
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.stale = false;
                }
                event_kind::PEER_RESUMED
            }
            peer_what::LEFT => {
                self.peers.remove(&peer);
                event_kind::PEER_LEFT
            }
            _ => return Err(Violation("PEER PRESENT outside a snapshot".into())),
        };
        let why = if what == peer_what::LEFT { why } else { 0 };
        self.emit(Event {
            kind,
            peer,
            reason: why,
            flags: 0,
            payload: None,
            size: 0,
            time_us,
        });
        Ok(())
    }
}

trait Differs {
    fn is_none_or_differs(&self, v: &Bytes) -> bool;
}

impl Differs for Option<&(u32, Bytes)> {
    fn is_none_or_differs(&self, v: &Bytes) -> bool {
        self.map_or(true, |(_, old)| old != v)
    }
}
