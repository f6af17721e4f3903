//! The hub's observation API (`Hub::observe`, `Hub::take_observed_events`), as the `arsock hub`
//! command uses it: presence events with reasons in order, counters of what went through, and
//! the snapshot of rooms, peers, state and newest poses.

use arsock::pose::Pose;
use arsock::session::hub_core::observe::{ObservedEvent, ObservedKind};
use arsock::session::hub_core::HubConfig;
use arsock::session::{event_kind, reason, Event, Hub, Session, SessionConfig};
use arsock::Timeout;
use std::time::{Duration, Instant};

fn wait(s: &Session, kind: u32) -> Event {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no event of kind {kind}");
        if let Ok(evs) = s.poll(64, Timeout::After(Duration::from_millis(50))) {
            if let Some((e, _)) = evs.into_iter().find(|(e, _)| e.kind == kind) {
                return e;
            }
        }
    }
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The hub's event log as taken so far.
struct Log<'a> {
    hub: &'a Hub,
    events: Vec<ObservedEvent>,
}

impl Log<'_> {
    /// Wait for the `nth` (1-based) event of `kind` about `peer`.
    fn wait(&mut self, kind: ObservedKind, peer: u32, nth: usize) -> ObservedEvent {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            self.events
                .extend(self.hub.take_observed_events(usize::MAX));
            let found = self
                .events
                .iter()
                .filter(|e| e.kind == kind && e.peer == peer);
            if let Some(e) = found.clone().nth(nth - 1) {
                return e.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {kind:?} #{nth} of peer {peer}: {:?}",
                self.events
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn open(port: u16, name: &str, token: &str) -> Session {
    let cfg = SessionConfig {
        name: name.into(),
        token: Some(token.into()),
        ..SessionConfig::default()
    };
    Session::open("127.0.0.1", port, "r", cfg).unwrap()
}

#[test]
fn observation_logs_presence_with_reasons_counts_traffic_and_snapshots_rooms() {
    let cfg = HubConfig {
        token: Some(b"t".to_vec()),
        ..HubConfig::default()
    };
    let hub = Hub::start("127.0.0.1", 0, cfg).unwrap();
    let port = hub.local_addr().port();
    let alice = open(port, "alice", "t");
    assert_eq!(wait(&alice, event_kind::JOINED).peer, 1);
    let bob = open(port, "bob", "t");
    assert_eq!(wait(&bob, event_kind::JOINED).peer, 2);
    wait(&alice, event_kind::PEER_JOINED);
    let intruder = open(port, "eve", "wrong");
    assert_eq!(wait(&intruder, event_kind::REJECTED).reason, reason::AUTH);

    alice.send(0, b"to everyone").unwrap();
    alice.send(2, b"to bob").unwrap();
    alice
        .set_state("anchor/table", Some(b"{\"x\":1,\"z\":2}"))
        .unwrap();
    wait(&bob, event_kind::STATE_CHANGED);
    until("alice's room clock", || alice.room_time().is_ok());
    let (t, _) = alice.room_time().unwrap();
    let pose = Pose {
        entity: 0,
        time_us: t,
        position: [1.0, 1.6, -2.0],
        ..Pose::default()
    };
    alice.send_poses(&[pose]).unwrap();
    until("the hub holds alice's pose", || {
        hub.observe()
            .rooms
            .first()
            .is_some_and(|r| !r.poses.is_empty())
    });
    bob.close();
    wait(&alice, event_kind::PEER_LEFT);

    let events = hub.take_observed_events(usize::MAX);
    let summary: Vec<_> = events
        .iter()
        .map(|e| (e.kind, &*e.room, e.peer, e.name.as_str(), e.reason))
        .collect();
    assert_eq!(
        summary,
        [
            (ObservedKind::Joined, "r", 1, "alice", reason::NONE),
            (ObservedKind::Joined, "r", 2, "bob", reason::NONE),
            (ObservedKind::Rejected, "", 0, "", reason::AUTH),
            (ObservedKind::Left, "r", 2, "bob", reason::REMOTE_CLOSE),
        ]
    );
    assert!(events[2].text.contains("token"), "{:?}", events[2]);
    assert!(
        hub.take_observed_events(10).is_empty(),
        "events are taken once"
    );

    let obs = hub.observe();
    let c = obs.counters;
    assert_eq!((c.messages_in, c.messages_out), (2, 2), "{c:?}");
    assert_eq!((c.state_writes, c.joins, c.rejects), (1, 2, 1), "{c:?}");
    assert_eq!(c.poses_in, 1, "{c:?}");
    assert!(
        c.bytes_in > 0 && c.bytes_out > 0 && c.queue_high_water > 0,
        "{c:?}"
    );
    assert_eq!(obs.rooms.len(), 1);
    let room = &obs.rooms[0];
    assert_eq!(&*room.name, "r");
    assert_eq!(room.peers.len(), 1);
    let a = &room.peers[0];
    assert_eq!(
        (a.id, a.name.as_str(), a.stale, a.connected),
        (1, "alice", false, true)
    );
    // The capture time is the device's room-clock estimate, which may be ahead of the hub by up
    // to its error bound, so a fresh pose can arrive with a small negative age.
    assert!(a.pose_arrival_age_us.is_some(), "{a:?}");
    assert_eq!(room.state.len(), 1);
    assert_eq!(
        (room.state[0].0.as_str(), room.state[0].1),
        ("anchor/table", 1)
    );
    assert_eq!(room.poses.len(), 1);
    assert_eq!(
        (room.poses[0].peer, room.poses[0].position),
        (1, [1.0, 1.6, -2.0])
    );
    alice.close();
    hub.close();
}

#[test]
fn observation_names_silence_resumption_lost_links_grace_ends_and_protocol_errors() {
    use arsock::session::wire::{self, Frame, Hello};
    use std::io::Write;
    let cfg = HubConfig {
        stale_after: Duration::from_millis(600),
        grace: Some(Duration::from_millis(2000)),
        ..HubConfig::default()
    };
    let hub = Hub::start("127.0.0.1", 0, cfg).unwrap();
    let port = hub.local_addr().port();
    let hello = |name: &str| {
        wire::encode(&Frame::Hello(Hello {
            version: wire::PROTOCOL_VERSION,
            resume_peer: 0,
            resume_key: 0,
            ack: 0,
            room: "q",
            name,
            token: b"",
        }))
    };
    let mut log = Log {
        hub: &hub,
        events: Vec::new(),
    };
    // A device that joins and then says nothing goes stale (timeout) ...
    let mut quiet = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    quiet.write_all(&hello("quiet")).unwrap();
    let e = log.wait(ObservedKind::Stale, 1, 1);
    assert_eq!((e.reason, e.name.as_str()), (reason::TIMEOUT, "quiet"));
    assert!(e.text.starts_with("silent for "), "{e:?}");
    // ... is resumed when heard again ...
    quiet
        .write_all(&wire::encode(&Frame::Ack { count: 0 }))
        .unwrap();
    log.wait(ObservedKind::Resumed, 1, 1);
    // ... goes stale at once when its connection ends, and leaves when the grace ends.
    drop(quiet);
    let lost = log.wait(ObservedKind::Stale, 1, 2);
    assert_eq!(
        (lost.reason, lost.text.as_str()),
        (reason::NETWORK, "connection ended")
    );
    assert_eq!(log.wait(ObservedKind::Left, 1, 1).reason, reason::TIMEOUT);

    // A malformed frame of a known kind ends that peer with PROTOCOL.
    let mut bad = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    bad.write_all(&hello("bad")).unwrap();
    log.wait(ObservedKind::Joined, 2, 1);
    bad.write_all(&[0xA5, 1, wire::kind::SEND, 0, 1, 0, 0, 0, 0xFF])
        .unwrap();
    let e = log.wait(ObservedKind::Left, 2, 1);
    assert_eq!((e.reason, e.name.as_str()), (reason::PROTOCOL, "bad"));
    hub.close();
}
