use super::*;
use crate::frame::HEADER_LEN;
use crate::session::limits;
use crate::session::wire::{kind, state_flag, Hello};

/// Drain a connection's outbox into decoded (kind, payload) frames.
pub(crate) fn drain(out: &mut Outbox) -> Vec<(u8, Vec<u8>)> {
    let mut bytes = Vec::new();
    loop {
        let s = out.slices(16);
        if s.is_empty() {
            break;
        }
        let chunk: Vec<u8> = s.iter().flat_map(|x| x.iter().copied()).collect();
        drop(s);
        out.advance(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let mut frames = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= HEADER_LEN {
        let len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]) as usize;
        frames.push((rest[2], rest[HEADER_LEN..HEADER_LEN + len].to_vec()));
        rest = &rest[HEADER_LEN + len..];
    }
    frames
}

struct H {
    core: HubCore,
    now: Instant,
}

impl H {
    fn new(cfg: HubConfig) -> H {
        H {
            core: HubCore::new(cfg),
            now: Instant::now(),
        }
    }
    fn frame(&mut self, c: ConnId, f: &Frame<'_>) -> Result<(), Violation> {
        let b = wire::encode(f);
        self.core.on_frame(c, b[2], &b[HEADER_LEN..], self.now)
    }
    fn out(&mut self, c: ConnId) -> Vec<(u8, Vec<u8>)> {
        let mut v = match self.core.outbox(c) {
            Some(o) => drain(o),
            None => Vec::new(),
        };
        for (id, mut o) in self.core.take_closed() {
            if id == c {
                v.extend(drain(&mut o));
            }
        }
        v
    }
    fn join(&mut self, c: ConnId, room: &str) -> u32 {
        self.core.on_connect(c, self.now);
        let hello = Hello {
            version: 1,
            resume_peer: 0,
            resume_key: 0,
            ack: 0,
            room,
            name: "n",
            token: b"",
        };
        self.frame(c, &Frame::Hello(hello)).unwrap();
        let out = self.out(c);
        match wire::decode(out[0].0, &out[0].1) {
            Ok(Some(Frame::Welcome(w))) => w.peer,
            other => panic!("expected WELCOME, got {other:?}"),
        }
    }
    fn advance(&mut self, ms: u64) {
        self.now += Duration::from_millis(ms);
        self.core.tick(self.now);
    }
}

fn kinds(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
    frames.iter().map(|f| f.0).collect()
}

fn peer_events(frames: &[(u8, Vec<u8>)]) -> Vec<(u8, u32, i32)> {
    frames
        .iter()
        .filter_map(|(k, p)| match wire::decode(*k, p) {
            Ok(Some(Frame::Peer {
                what, peer, reason, ..
            })) => Some((what, peer, reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn ids_start_at_one_and_are_never_reused_in_a_room() {
    let mut h = H::new(HubConfig::default());
    assert_eq!(h.join(1, "r"), 1);
    assert_eq!(h.join(2, "r"), 2);
    h.frame(
        2,
        &Frame::Bye {
            reason: reason::LOCAL_CLOSE,
        },
    )
    .unwrap();
    assert_eq!(h.join(3, "r"), 3);
    assert_eq!(h.join(4, "other"), 1);
}

#[test]
fn a_joiner_gets_welcome_then_peers_then_state_then_snapshot_end() {
    let mut h = H::new(HubConfig::default());
    h.join(1, "r");
    h.frame(
        1,
        &Frame::SetState {
            flags: 0,
            key: "a",
            value: b"1",
        },
    )
    .unwrap();
    h.join(2, "r");
    h.core.on_connect(3, h.now);
    let hello = Hello {
        version: 1,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room: "r",
        name: "c",
        token: b"",
    };
    h.frame(3, &Frame::Hello(hello)).unwrap();
    let out = h.out(3);
    assert_eq!(
        kinds(&out),
        [
            kind::WELCOME,
            kind::PEER,
            kind::PEER,
            kind::STATE,
            kind::SNAPSHOT_END
        ]
    );
}

#[test]
fn relay_never_echoes_and_keeps_per_sender_order() {
    let mut h = H::new(HubConfig::default());
    let a = h.join(1, "r");
    h.join(2, "r");
    h.join(3, "r");
    h.out(1);
    h.out(2);
    for i in 0..10u8 {
        h.frame(
            1,
            &Frame::Send {
                to: 0,
                payload: &[i],
            },
        )
        .unwrap();
    }
    assert!(
        h.out(1).iter().all(|(k, _)| *k != kind::MSG),
        "echoed to the sender"
    );
    for c in [2, 3] {
        let msgs: Vec<Vec<u8>> = h
            .out(c)
            .iter()
            .filter_map(|(k, p)| match wire::decode(*k, p) {
                Ok(Some(Frame::Msg { from, payload, .. })) if from == a => Some(payload.to_vec()),
                _ => None,
            })
            .collect();
        assert_eq!(msgs, (0..10u8).map(|i| vec![i]).collect::<Vec<_>>());
    }
}

#[test]
fn frames_before_hello_and_hub_only_frames_are_violations() {
    let mut h = H::new(HubConfig::default());
    h.core.on_connect(1, h.now);
    assert!(h
        .frame(
            1,
            &Frame::Send {
                to: 0,
                payload: b"x"
            }
        )
        .is_err());
    h.join(2, "r");
    assert!(h
        .frame(
            2,
            &Frame::Msg {
                flags: 0,
                from: 1,
                time_us: 0,
                payload: b""
            }
        )
        .is_err());
    assert!(h.core.on_frame(2, kind::ACK, &[1, 2], h.now).is_err());
    assert!(
        h.core.on_frame(2, 0x9F, &[1, 2], h.now).is_ok(),
        "unknown extension kinds are skipped"
    );
}

#[test]
fn a_wrong_token_is_rejected_with_auth() {
    let mut h = H::new(HubConfig {
        token: Some(b"secret".to_vec()),
        ..HubConfig::default()
    });
    h.core.on_connect(1, h.now);
    let hello = Hello {
        version: 1,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room: "r",
        name: "",
        token: b"nope",
    };
    h.frame(1, &Frame::Hello(hello)).unwrap();
    let out = h.out(1);
    assert!(matches!(
        wire::decode(out[0].0, &out[0].1),
        Ok(Some(Frame::Reject {
            reason: reason::AUTH,
            ..
        }))
    ));
    assert_eq!(h.core.conn_count(), 0);
}

#[test]
fn a_full_room_rejects_with_room_full() {
    let mut h = H::new(HubConfig {
        max_peers: 2,
        ..HubConfig::default()
    });
    h.join(1, "r");
    h.join(2, "r");
    h.core.on_connect(3, h.now);
    let hello = Hello {
        version: 1,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room: "r",
        name: "",
        token: b"",
    };
    h.frame(3, &Frame::Hello(hello)).unwrap();
    let out = h.out(3);
    assert!(matches!(
        wire::decode(out[0].0, &out[0].1),
        Ok(Some(Frame::Reject {
            reason: reason::ROOM_FULL,
            ..
        }))
    ));
}

#[test]
fn silence_makes_a_peer_stale_then_it_leaves_with_timeout_at_grace_end() {
    let cfg = HubConfig {
        grace: Some(Duration::from_millis(10_000)),
        ..HubConfig::default()
    };
    let mut h = H::new(cfg);
    h.join(1, "r");
    let b = h.join(2, "r");
    h.out(1);
    for _ in 0..5 {
        h.advance(500);
        h.frame(1, &Frame::Ack { count: 0 }).unwrap(); // a keeps talking, b is silent
    }
    assert_eq!(peer_events(&h.out(1)), [(peer_what::STALE, b, 0)]);
    for _ in 0..15 {
        h.advance(500);
        h.frame(1, &Frame::Ack { count: 0 }).unwrap();
    }
    assert_eq!(
        peer_events(&h.out(1)),
        [(peer_what::LEFT, b, reason::TIMEOUT)]
    );
    assert_eq!(h.core.room_peers("r"), [1]);
}

#[test]
fn a_lost_link_is_stale_at_once_and_without_grace_leaves_at_once() {
    let mut h = H::new(HubConfig::default());
    h.join(1, "r");
    let b = h.join(2, "r");
    h.out(1);
    h.core.on_closed(2, h.now);
    assert_eq!(peer_events(&h.out(1)), [(peer_what::STALE, b, 0)]);

    let mut h = H::new(HubConfig {
        grace: None,
        ..HubConfig::default()
    });
    h.join(1, "r");
    let b = h.join(2, "r");
    h.out(1);
    h.core.on_closed(2, h.now);
    assert_eq!(
        peer_events(&h.out(1)),
        [(peer_what::LEFT, b, reason::TIMEOUT)]
    );
}

#[test]
fn a_peer_over_its_queue_limit_for_slow_peer_ms_is_disconnected_and_others_are_not() {
    let cfg = HubConfig {
        queue_limit: 1000,
        slow_peer: Duration::from_millis(1000),
        ..HubConfig::default()
    };
    let mut h = H::new(cfg);
    h.join(1, "r");
    let slow = h.join(2, "r");
    h.join(3, "r");
    for _ in 0..20 {
        h.frame(
            1,
            &Frame::Send {
                to: 0,
                payload: &[0; 100],
            },
        )
        .unwrap();
    }
    assert!(h.core.peer_queue("r", slow).unwrap() > 1000);
    // Peer 3 acknowledges everything; peer 2 never does.
    h.out(3);
    h.frame(3, &Frame::Ack { count: 20 }).unwrap();
    assert_eq!(h.core.peer_queue("r", 3), Some(0));
    h.advance(600);
    h.frame(3, &Frame::Ack { count: 20 }).unwrap();
    assert!(h.core.outbox(2).is_some());
    h.advance(600);
    let out = h.out(2);
    assert!(out.iter().any(|(k, p)| *k == kind::BYE
        && wire::decode(*k, p)
            == Ok(Some(Frame::Bye {
                reason: reason::SLOW_PEER
            }))));
    assert!(h.core.outbox(2).is_none() && h.core.outbox(3).is_some());
    assert_eq!(h.core.room_peers("r"), [1, 2, 3], "a slow peer may resume");
}

#[test]
fn resume_resends_exactly_the_unacknowledged_messages_and_counts_drops() {
    let cfg = HubConfig {
        queue_limit: 300,
        ..HubConfig::default()
    };
    let mut h = H::new(cfg);
    h.join(1, "r");
    let b = h.join(2, "r");
    h.out(1);
    let key = {
        // Read b's resume key from its WELCOME (re-join output was drained; ask the core).
        let r = h.core.rooms.get("r").unwrap();
        r.peers.get(&b).unwrap().resume_key
    };
    for i in 0..3u8 {
        h.frame(
            1,
            &Frame::Send {
                to: 0,
                payload: &[i; 50],
            },
        )
        .unwrap();
    }
    h.out(2);
    h.frame(2, &Frame::Ack { count: 1 }).unwrap();
    h.core.on_closed(2, h.now);
    for i in 3..10u8 {
        h.frame(
            1,
            &Frame::Send {
                to: 0,
                payload: &[i; 50],
            },
        )
        .unwrap();
    }
    h.core.on_connect(5, h.now);
    // b had received 2 of the 3 before the cut.
    let hello = Hello {
        version: 1,
        resume_peer: b,
        resume_key: key,
        ack: 2,
        room: "r",
        name: "n",
        token: b"",
    };
    h.frame(5, &Frame::Hello(hello)).unwrap();
    let out = h.out(5);
    let Ok(Some(Frame::Welcome(w))) = wire::decode(out[0].0, &out[0].1) else {
        panic!()
    };
    assert_eq!((w.peer, w.resumed), (b, 1));
    let msgs: Vec<u8> = out
        .iter()
        .filter_map(|(k, p)| match wire::decode(*k, p) {
            Ok(Some(Frame::Msg { payload, .. })) => Some(payload[0]),
            _ => None,
        })
        .collect();
    // Kept: number 3 onwards up to the 300-byte limit (each frame is 71 bytes).
    let kept = msgs.len() as u64;
    assert_eq!(msgs, (2..2 + kept as u8).collect::<Vec<_>>());
    assert_eq!(w.dropped, 10 - 2 - kept, "dropped = the rest");
    assert_eq!(
        peer_events(&h.out(1)),
        [(peer_what::STALE, b, 0), (peer_what::RESUMED, b, 0)]
    );
}

#[test]
fn a_resume_with_a_wrong_key_is_refused() {
    let mut h = H::new(HubConfig::default());
    let a = h.join(1, "r");
    h.core.on_connect(2, h.now);
    let hello = Hello {
        version: 1,
        resume_peer: a,
        resume_key: 12345,
        ack: 0,
        room: "r",
        name: "",
        token: b"",
    };
    h.frame(2, &Frame::Hello(hello)).unwrap();
    let out = h.out(2);
    assert!(matches!(
        wire::decode(out[0].0, &out[0].1),
        Ok(Some(Frame::Reject {
            reason: reason::TIMEOUT,
            ..
        }))
    ));
}

#[test]
fn state_is_last_writer_wins_and_limited_in_keys() {
    let mut h = H::new(HubConfig::default());
    h.join(1, "r");
    h.join(2, "r");
    h.frame(
        1,
        &Frame::SetState {
            flags: 0,
            key: "k",
            value: b"a",
        },
    )
    .unwrap();
    h.frame(
        2,
        &Frame::SetState {
            flags: 0,
            key: "k",
            value: b"b",
        },
    )
    .unwrap();
    assert_eq!(
        h.core.room_state("r").unwrap(),
        [("k".to_string(), 2, b"b".to_vec())]
    );
    h.frame(
        1,
        &Frame::SetState {
            flags: state_flag::DELETED,
            key: "k",
            value: b"",
        },
    )
    .unwrap();
    assert!(h.core.room_state("r").unwrap().is_empty());
    for i in 0..limits::MAX_KEYS + 5 {
        h.frame(
            1,
            &Frame::SetState {
                flags: 0,
                key: &format!("k{i}"),
                value: b"",
            },
        )
        .unwrap();
    }
    assert_eq!(h.core.room_state("r").unwrap().len(), limits::MAX_KEYS);
}

#[test]
fn an_empty_room_is_removed_after_its_linger() {
    let mut h = H::new(HubConfig::default());
    h.join(1, "r");
    h.frame(
        1,
        &Frame::SetState {
            flags: 0,
            key: "k",
            value: b"a",
        },
    )
    .unwrap();
    h.frame(1, &Frame::Bye { reason: 1 }).unwrap();
    h.advance(29_000);
    assert!(h.core.room_state("r").is_some());
    h.advance(2_000);
    assert!(h.core.room_state("r").is_none());
}

/// Property test: random and mutated frame streams from many connections (joined or not)
/// never panic the hub; each offending connection is closed and the honest peer stays.
#[test]
fn fuzzed_streams_never_panic_the_hub_and_spare_the_honest_peer() {
    use crate::session::stream::{Flow, FrameReader};
    use crate::session::wire::tests::{mutant, samples, Rng};
    let samples = samples();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut h = H::new(HubConfig::default());
    let honest = h.join(1, "r");
    let runs = if cfg!(debug_assertions) {
        20_000
    } else {
        200_000
    };
    let mut conn = 100;
    let mut closed = 0;
    for i in 0..runs {
        if i % 20 == 0 {
            conn += 1;
            h.core.on_connect(conn, h.now);
            if rng.below(2) == 0 {
                let hello = Hello {
                    version: 1,
                    resume_peer: 0,
                    resume_key: 0,
                    ack: 0,
                    room: "r",
                    name: "f",
                    token: b"",
                };
                let _ = h.frame(conn, &Frame::Hello(hello));
            }
        }
        if h.core.outbox(conn).is_none() {
            continue;
        }
        let (k, p) = mutant(&mut rng, &samples);
        let mut bytes = vec![0xA5, 1, k, 0];
        bytes.extend_from_slice(&(p.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&p);
        if rng.below(50) == 0 {
            bytes = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
        }
        let mut r = FrameReader::new(wire::MAX_FRAME_PAYLOAD);
        let now = h.now;
        let core = &mut h.core;
        let res = r.feed(&bytes, &mut |k, p| {
            core.on_frame(conn, k, p, now)?;
            Ok::<_, Violation>(Flow::Continue)
        });
        if res.is_err() {
            h.core.fail(conn, now);
            closed += 1;
        }
        h.core.take_closed();
        h.core.take_dirty();
        if i % 500 == 0 {
            h.advance(50);
            h.frame(1, &Frame::Ack { count: 0 }).ok();
        }
    }
    println!(
        "hub fuzz: {runs} frames on {} connections, {closed} closed for protocol errors",
        conn - 100
    );
    assert!(
        h.core.room_peers("r").contains(&honest),
        "the honest peer was removed"
    );
    assert!(
        h.core.outbox(1).is_some(),
        "the honest peer's connection was closed"
    );
}

#[test]
fn the_number_of_rooms_is_bounded() {
    let mut h = H::new(HubConfig::default());
    for i in 0..MAX_ROOMS as u64 {
        h.core.on_connect(i + 1, h.now);
        let room = format!("r{i}");
        let hello = Hello {
            version: 1,
            resume_peer: 0,
            resume_key: 0,
            ack: 0,
            room: &room,
            name: "",
            token: b"",
        };
        h.frame(i + 1, &Frame::Hello(hello)).unwrap();
    }
    h.core.take_dirty();
    let c = MAX_ROOMS as u64 + 1;
    h.core.on_connect(c, h.now);
    let hello = Hello {
        version: 1,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room: "one more",
        name: "",
        token: b"",
    };
    h.frame(c, &Frame::Hello(hello)).unwrap();
    let out = h.out(c);
    assert!(matches!(
        wire::decode(out[0].0, &out[0].1),
        Ok(Some(Frame::Reject {
            reason: reason::ROOM_FULL,
            ..
        }))
    ));
    // An existing room still takes joiners.
    h.join(c + 1, "r7");
}
