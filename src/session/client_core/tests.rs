//! The session state machine against the real hub state machine, linked by a virtual network
//! that can cut the link at any point: no sockets, no sleeping.

use super::*;
use crate::frame::HEADER_LEN;
use crate::session::hub_core::{ConnId, HubConfig, HubCore};
use crate::session::stream::{Flow, FrameReader};

fn bytes_of(out: &mut Outbox) -> Vec<u8> {
    let mut v = Vec::new();
    loop {
        let s = out.slices(16);
        if s.is_empty() {
            break;
        }
        let chunk: Vec<u8> = s.iter().flat_map(|x| x.iter().copied()).collect();
        drop(s);
        out.advance(chunk.len());
        v.extend_from_slice(&chunk);
    }
    v
}

struct Net {
    hub: HubCore,
    devs: Vec<(ClientCore, Option<ConnId>)>,
    next_conn: ConnId,
    now: Instant,
}

impl Net {
    fn new(cfg: HubConfig) -> Net {
        Net {
            hub: HubCore::new(cfg),
            devs: Vec::new(),
            next_conn: 1,
            now: Instant::now(),
        }
    }

    fn add(&mut self, name: &str) -> usize {
        let cfg = ClientConfig {
            room: "r".into(),
            name: name.into(),
            token: Vec::new(),
            connect_timeout: Duration::from_secs(5),
            queue_limit: limits::QUEUE_LIMIT,
        };
        self.devs.push((ClientCore::new(cfg, self.now), None));
        self.devs.len() - 1
    }

    /// Move bytes both ways until quiet; obey the devices' wants.
    fn run(&mut self) {
        for _ in 0..50 {
            let mut moved = false;
            for i in 0..self.devs.len() {
                let want = self.devs[i].0.take_want();
                if want.drop_link {
                    if let Some(c) = self.devs[i].1.take() {
                        self.hub.on_closed(c, self.now);
                    }
                }
                if want.connect {
                    let c = self.next_conn;
                    self.next_conn += 1;
                    self.hub.on_connect(c, self.now);
                    self.devs[i].1 = Some(c);
                    self.devs[i].0.on_connecting(self.now);
                    self.devs[i].0.on_connected(self.now);
                }
                let Some(c) = self.devs[i].1 else { continue };
                let up = bytes_of(self.devs[i].0.outbox());
                if !up.is_empty() {
                    moved = true;
                    let mut r = FrameReader::new(1 << 20);
                    let now = self.now;
                    let hub = &mut self.hub;
                    let res = r.feed(&up, &mut |k, p| {
                        hub.on_frame(c, k, p, now)?;
                        Ok::<_, crate::session::hub_core::Violation>(Flow::Continue)
                    });
                    if res.is_err() {
                        self.hub.fail(c, now);
                    }
                }
            }
            let mut closed = self.hub.take_closed();
            for i in 0..self.devs.len() {
                let Some(c) = self.devs[i].1 else { continue };
                let mut down = match self.hub.outbox(c) {
                    Some(o) => bytes_of(o),
                    None => Vec::new(),
                };
                let mut ended = false;
                if let Some(pos) = closed.iter().position(|(id, _)| *id == c) {
                    let (_, mut o) = closed.swap_remove(pos);
                    down.extend(bytes_of(&mut o));
                    ended = true;
                }
                if !down.is_empty() {
                    moved = true;
                    self.deliver(i, &down);
                }
                if ended {
                    self.devs[i].1 = None;
                    self.devs[i].0.on_link_lost(reason::NETWORK, self.now);
                }
            }
            self.hub.take_dirty();
            if !moved {
                return;
            }
        }
    }

    fn deliver(&mut self, i: usize, down: &[u8]) {
        let mut rest = down;
        while rest.len() >= HEADER_LEN {
            let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
            let (k, p) = (rest[2], &rest[HEADER_LEN..HEADER_LEN + len]);
            self.devs[i].0.on_frame(k, p, self.now).unwrap();
            rest = &rest[HEADER_LEN + len..];
        }
    }

    /// Cut device i's link: both ends see it end; frames in flight are lost.
    fn cut(&mut self, i: usize) {
        if let Some(c) = self.devs[i].1.take() {
            self.hub.on_closed(c, self.now);
        }
        self.devs[i].0.on_link_lost(reason::NETWORK, self.now);
        self.devs[i].0.take_want();
    }

    fn advance(&mut self, ms: u64) {
        for _ in 0..ms / 50 {
            self.now += Duration::from_millis(50);
            self.hub.tick(self.now);
            for d in &mut self.devs {
                d.0.tick(self.now);
            }
            self.run();
        }
    }

    fn events(&mut self, i: usize) -> Vec<Event> {
        self.devs[i].0.take_events(usize::MAX)
    }
}

fn kinds(ev: &[Event]) -> Vec<u32> {
    ev.iter().map(|e| e.kind).collect()
}

fn messages(ev: &[Event]) -> Vec<Vec<u8>> {
    ev.iter()
        .filter(|e| e.kind == event_kind::MESSAGE)
        .map(|e| e.payload.as_ref().unwrap().to_vec())
        .collect()
}

#[test]
fn a_joiner_sees_joined_then_present_peers_then_state_then_live_traffic() {
    let mut n = Net::new(HubConfig::default());
    let a = n.add("a");
    n.run();
    n.devs[a].0.set_state("k1", Some(b"v1"), n.now).unwrap();
    n.devs[a].0.set_state("k2", Some(b"v2"), n.now).unwrap();
    n.run();
    let b = n.add("b");
    n.run();
    n.devs[a].0.send(0, b"live", n.now).unwrap();
    n.run();
    let ev = n.events(b);
    assert_eq!(
        kinds(&ev),
        [
            event_kind::JOINED,
            event_kind::PEER_JOINED,
            event_kind::STATE_CHANGED,
            event_kind::STATE_CHANGED,
            event_kind::MESSAGE
        ]
    );
    assert_eq!(
        n.devs[b].0.state("k2").map(|v| v.to_vec()),
        Some(b"v2".to_vec())
    );
    assert_eq!(n.devs[b].0.peer_name(1), Some("a"));
}

#[test]
fn sends_before_joined_are_refused_with_state() {
    let mut n = Net::new(HubConfig::default());
    let a = n.add("a");
    assert!(matches!(
        n.devs[a].0.send(0, b"x", n.now),
        Err(Error::State(_))
    ));
    n.run();
    assert!(n.devs[a].0.send(0, b"x", n.now).is_ok());
    assert!(matches!(
        n.devs[a].0.send(9, b"x", n.now),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        n.devs[a].0.send(1, b"x", n.now),
        Err(Error::InvalidArgument(_))
    ));
}

/// Cut the link at every point of a burst in both directions: after the resume, each side has
/// received every message exactly once, in order, and the peer id is unchanged.
#[test]
fn a_cut_at_any_moment_loses_and_duplicates_nothing_in_either_direction() {
    for cut_after in 0..12 {
        let mut n = Net::new(HubConfig::default());
        let a = n.add("a");
        let b = n.add("b");
        n.run();
        let (ida, idb) = (
            n.devs[a].0.peer_id().unwrap(),
            n.devs[b].0.peer_id().unwrap(),
        );
        n.events(a);
        n.events(b);
        let mut sent_a = Vec::new();
        let mut sent_b = Vec::new();
        for i in 0..12u8 {
            n.devs[a].0.send(idb, &[b'a', i], n.now).unwrap();
            n.devs[b].0.send(0, &[b'b', i], n.now).unwrap();
            sent_a.push(vec![b'a', i]);
            sent_b.push(vec![b'b', i]);
            if i == cut_after {
                // Some frames of this round are still in the outboxes: lost with the link.
                n.cut(b);
            } else {
                n.run();
            }
        }
        n.advance(3000);
        assert_eq!(n.devs[b].0.peer_id(), Some(idb));
        assert_eq!(n.devs[a].0.peer_id(), Some(ida));
        let eb = n.events(b);
        let ea = n.events(a);
        assert_eq!(
            messages(&eb),
            sent_a,
            "b got a's messages, cut after {cut_after}"
        );
        assert_eq!(
            messages(&ea),
            sent_b,
            "a got b's messages, cut after {cut_after}"
        );
        assert!(kinds(&eb).contains(&event_kind::RECONNECTED));
        assert!(
            !ea.iter().any(|e| e.kind == event_kind::PEER_LEFT),
            "{ea:?}"
        );
        assert!(ea
            .iter()
            .any(|e| e.kind == event_kind::PEER_STALE && e.peer == idb));
        assert!(ea
            .iter()
            .any(|e| e.kind == event_kind::PEER_RESUMED && e.peer == idb));
    }
}

#[test]
fn changes_missed_while_away_arrive_as_a_diff_of_the_fresh_snapshot() {
    let mut n = Net::new(HubConfig::default());
    let a = n.add("a");
    let b = n.add("b");
    n.run();
    n.devs[a].0.set_state("gone", Some(b"1"), n.now).unwrap();
    n.devs[a].0.set_state("same", Some(b"1"), n.now).unwrap();
    n.run();
    n.events(b);
    n.cut(b);
    n.devs[a].0.set_state("gone", None, n.now).unwrap();
    n.devs[a].0.set_state("new", Some(b"2"), n.now).unwrap();
    let c = n.add("c");
    n.run();
    n.advance(1000);
    let ev = n.events(b);
    let changed: Vec<(String, u32)> = ev
        .iter()
        .filter(|e| e.kind == event_kind::STATE_CHANGED)
        .map(|e| {
            (
                String::from_utf8(e.payload.as_ref().unwrap().to_vec()).unwrap(),
                e.flags,
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("new".to_string(), 0),
            ("gone".to_string(), event_flag::STATE_DELETED)
        ]
    );
    let idc = n.devs[c].0.peer_id().unwrap();
    assert!(ev
        .iter()
        .any(|e| e.kind == event_kind::PEER_JOINED && e.peer == idc));
}

#[test]
fn without_grace_a_broken_link_ends_the_session() {
    let mut n = Net::new(HubConfig {
        grace: None,
        ..HubConfig::default()
    });
    let a = n.add("a");
    n.run();
    n.events(a);
    n.cut(a);
    let ev = n.events(a);
    assert_eq!(kinds(&ev), [event_kind::DISCONNECTED]);
    assert_eq!(ev[0].flags & event_flag::RESUMING, 0);
    assert!(n.devs[a].0.is_over());
}

#[test]
fn reconnecting_stops_with_timeout_when_the_grace_ends() {
    let mut n = Net::new(HubConfig {
        grace: Some(Duration::from_millis(3000)),
        ..HubConfig::default()
    });
    let a = n.add("a");
    n.run();
    n.events(a);
    n.cut(a);
    // The hub is unreachable: every attempt fails.
    for _ in 0..100 {
        n.now += Duration::from_millis(50);
        n.devs[a].0.tick(n.now);
        let w = n.devs[a].0.take_want();
        if w.connect {
            n.devs[a].0.on_connecting(n.now);
            n.devs[a].0.on_link_lost(reason::NETWORK, n.now);
        }
    }
    let ev = n.events(a);
    assert_eq!(
        kinds(&ev),
        [event_kind::DISCONNECTED, event_kind::DISCONNECTED]
    );
    assert_eq!(ev[0].flags, event_flag::RESUMING);
    assert_eq!((ev[1].reason, ev[1].flags), (reason::TIMEOUT, 0));
}

#[test]
fn an_unreachable_hub_gives_one_disconnected_network_before_joining() {
    let mut n = Net::new(HubConfig::default());
    let a = n.add("a");
    n.devs[a].0.take_want();
    n.devs[a].0.on_connecting(n.now);
    n.now += Duration::from_secs(6);
    n.devs[a].0.tick(n.now);
    let ev = n.events(a);
    assert_eq!(kinds(&ev), [event_kind::DISCONNECTED]);
    assert_eq!(ev[0].reason, reason::NETWORK);
    assert!(n.devs[a].0.is_over());
}

#[test]
fn the_send_queue_is_bounded_by_unacknowledged_bytes() {
    let mut n = Net::new(HubConfig::default());
    let a = n.add("a");
    n.run();
    n.cut(a); // nothing is acknowledged while away
    let msg = vec![0u8; 1000];
    let mut queued = 0;
    while n.devs[a].0.send(0, &msg, n.now).is_ok() {
        queued += 1;
    }
    assert!(matches!(
        n.devs[a].0.send(0, &msg, n.now),
        Err(Error::WouldBlock { .. })
    ));
    assert!((limits::QUEUE_LIMIT / 1100..=limits::QUEUE_LIMIT / 1000).contains(&queued));
}

/// Property test: mutated frames fed to sessions in every phase never panic; a violation is
/// reported as an error (the glue ends the session with PROTOCOL).
#[test]
fn fuzzed_frames_never_panic_a_session() {
    use crate::session::wire::tests::{mutant, samples, Rng};
    let samples = samples();
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    let runs = if cfg!(debug_assertions) {
        50_000
    } else {
        500_000
    };
    let mut errors = 0;
    let mut n = Net::new(HubConfig::default());
    for i in 0..runs {
        if i % 100 == 0 {
            n = Net::new(HubConfig::default());
            let d = n.add("f");
            if rng.below(2) == 0 {
                n.run(); // joined and live; else still before HELLO's answer
            } else {
                n.devs[d].0.take_want();
                n.devs[d].0.on_connecting(n.now);
                n.devs[d].0.on_connected(n.now);
            }
        }
        let (k, p) = mutant(&mut rng, &samples);
        if n.devs[0].0.on_frame(k, &p, n.now).is_err() {
            errors += 1;
            n.devs[0].0.on_violation(n.now);
        }
        n.devs[0].0.take_events(usize::MAX);
    }
    println!("session fuzz: {runs} frames, {errors} violations");
    assert!(errors > 0);
}
