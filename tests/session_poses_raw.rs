//! Poses from a hand-made device (any seq) and to a device that stops reading its socket.

mod sessions;
use arsock::pose::seq::seq_newer;
use arsock::pose::Pose;
use arsock::session::hub_core::HubConfig;
use arsock::session::Hub;
use sessions::raw::Raw;
use sessions::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn p(entity: u32, seq: u32, x: f32) -> Pose {
    Pose {
        entity,
        seq,
        time_us: 1_000 + seq as i64,
        position: [x, 0.0, 0.0],
        ..Pose::default()
    }
}

fn latest(h: arsock_handle) -> Vec<arsock_pose> {
    let mut out = vec![arsock_pose::default(); 1024];
    let mut n = 0;
    ok(unsafe { arsock_session_latest_poses(h, out.as_mut_ptr(), out.len(), &mut n) });
    out.truncate(n);
    out
}

#[test]
fn seq_older_and_equal_poses_are_never_surfaced_even_across_the_wrap() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let b = Dev::join(port, "r1", "b");
        let mut r = Raw::join(port, "r1");
        // x marks each pose; the ones marked negative must never be seen.
        let script = [
            p(1, 10, 10.0),
            p(1, 5, -5.0),
            p(1, 11, 11.0),
            p(1, 11, -99.0),
            p(1, 0, -1.0),
            p(2, u32::MAX - 1, 1.0),
            p(2, 1, 2.0),
            p(2, u32::MAX, -3.0),
            p(2, 0x8000_0002, -4.0),
            p(2, 3, 5.0),
        ];
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stop2 = stop.clone();
        let h = b.h;
        let watcher = std::thread::spawn(move || {
            let mut seen: Vec<(u32, u32, f32)> = Vec::new();
            while !stop2.load(std::sync::atomic::Ordering::SeqCst) {
                for q in latest(h) {
                    seen.push((q.entity, q.seq, q.position[0]));
                }
            }
            for q in latest(h) {
                seen.push((q.entity, q.seq, q.position[0]));
            }
            seen
        });
        for (i, q) in script.iter().enumerate() {
            if i % 2 == 0 {
                r.send_poses(&[*q]);
            } else {
                r.send_poses(&[*q, *q]);
            }
            std::thread::sleep(Duration::from_millis(15));
        }
        let end = Instant::now() + Duration::from_secs(10);
        while latest(b.h)
            .iter()
            .map(|q| (q.entity, q.seq))
            .collect::<Vec<_>>()
            != [(1, 11), (2, 3)]
        {
            assert!(Instant::now() < end, "{:?}", latest(b.h));
            std::thread::sleep(Duration::from_millis(2));
        }
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = watcher.join().unwrap();
        assert!(seen.iter().all(|s| s.2 > 0.0), "an older pose surfaced");
        for e in [1, 2] {
            let seqs: Vec<u32> = seen.iter().filter(|s| s.0 == e).map(|s| s.1).collect();
            for w in seqs.windows(2) {
                assert!(w[0] == w[1] || seq_newer(w[1], w[0]), "entity {e}: {w:?}");
            }
        }
        let last = latest(b.h);
        assert_eq!((last[0].position[0], last[1].position[0]), (11.0, 5.0));
        assert!(last.iter().all(|q| q.peer == r.id));
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_reader_that_stops_gets_the_newest_poses_not_a_backlog_and_the_hub_holds_one_batch() {
    within(Duration::from_secs(90), || {
        let hub = Hub::start("127.0.0.1", 0, HubConfig::default()).unwrap();
        let port = hub.local_addr().port();
        let mut r = Raw::join(port, "r2");
        let a = Dev::join(port, "r2", "a");
        let entities = 16u32;
        let rounds = 1500u32;
        let mut worst = arsock::session::ConnPoseMemory::default();
        // r reads nothing while a sends 1500 rounds of 16 poses (a heartbeat keeps it fresh).
        for round in 1..=rounds {
            let poses: Vec<arsock_pose> = (0..entities)
                .map(|e| arsock_pose {
                    entity: e,
                    position: [round as f32, e as f32, 0.0],
                    rotation: [0.0, 0.0, 0.0, 1.0],
                    ..Default::default()
                })
                .collect();
            ok(unsafe { arsock_session_send_poses(a.h, poses.as_ptr(), poses.len()) });
            if round % 100 == 0 {
                r.heartbeat();
            }
            if let Some(m) = hub.conn_memory("r2", r.id) {
                worst.pose_keys = worst.pose_keys.max(m.pose_keys);
                worst.pose_frame_bytes = worst.pose_frame_bytes.max(m.pose_frame_bytes);
                worst.outbox_bytes = worst.outbox_bytes.max(m.outbox_bytes);
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        // The hub held at most one key per entity and one batch for r.
        let batch_max = 8 + 10 + entities as usize * arsock::pose::wire::POSE_MAX_WIRE_LEN;
        assert!(worst.pose_keys <= entities as usize, "{worst:?}");
        assert!(worst.pose_frame_bytes <= batch_max, "{worst:?}");
        assert!(worst.outbox_bytes <= 4 * batch_max, "{worst:?}");
        // r reads again: it reaches the newest pose of every entity having received far
        // fewer poses than were sent (the kernel's buffers held the rest of what it missed).
        let mut newest = vec![0u32; entities as usize];
        let mut received = 0usize;
        while newest.iter().any(|&s| s != rounds) {
            let (k, payload) = r.frame();
            if k == arsock::session::ext_wire::kind::POSES {
                let mut v = Vec::new();
                arsock::pose::wire::decode_poses(&payload, 4096, &mut v).unwrap();
                for q in v {
                    received += 1;
                    assert_eq!(q.peer, a.id);
                    newest[q.entity as usize] = q.seq;
                }
            }
        }
        let sent = (entities * rounds) as usize;
        println!("poses sent {sent}, received by the paused reader {received}, worst {worst:?}");
        assert!(
            received < sent / 2,
            "received {received} of {sent}: a backlog"
        );
        a.close();
        hub.close();
    });
}

#[test]
fn a_malformed_pose_or_blob_frame_closes_only_that_link_with_protocol() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let mut b = Dev::join(port, "r3", "b");
        let bad_frames: [&[u8]; 4] = [
            // POSES: count 5, nothing follows.
            &[0xA5, 1, 0x90, 0, 10, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            // BLOB_CHUNK with an empty key.
            &[
                0xA5, 1, 0x94, 0, 18, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
            ],
            // PONG is not for the hub.
            &[
                0xA5, 1, 0x92, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0,
            ],
            // BLOB_BEGIN over 64 MiB.
            &[
                0xA5, 1, 0x93, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0, 0, 1, b'k',
            ],
        ];
        for bad in bad_frames {
            let mut r = Raw::join(port, "r3");
            let joined = b
                .until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED)
                .pop()
                .unwrap();
            assert_eq!(joined.peer, r.id);
            use std::io::Write;
            r.s.write_all(bad).unwrap();
            let left = b
                .until(T, |e| e.kind == ARSOCK_EVENT_PEER_LEFT)
                .pop()
                .unwrap();
            assert_eq!((left.peer, left.reason), (r.id, ARSOCK_REASON_PROTOCOL));
        }
        // b is untouched: it still sends and receives.
        let mut c = Raw::join(port, "r3");
        c.send_poses(&[p(4, 1, 4.0)]);
        let end = Instant::now() + Duration::from_secs(10);
        while latest(b.h).iter().all(|q| q.peer != c.id) {
            assert!(Instant::now() < end);
            std::thread::sleep(Duration::from_millis(2));
        }
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_peer_that_pings_without_reading_cannot_grow_the_hubs_memory() {
    within(Duration::from_secs(60), || {
        use std::io::Write;
        let hub = Hub::start("127.0.0.1", 0, HubConfig::default()).unwrap();
        let port = hub.local_addr().port();
        let mut r = Raw::join(port, "r4");
        let ping =
            arsock::session::ext_wire::encode(&arsock::session::ext_wire::ExtFrame::Ping { t0: 1 });
        let burst: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 1000)
            .collect();
        let mut worst = 0;
        for _ in 0..100 {
            r.s.write_all(&burst).unwrap(); // 100k pings, 1.6 MB, none of the pongs read
            if let Some(m) = hub.conn_memory("r4", r.id) {
                worst = worst.max(m.outbox_bytes);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
        let m = hub.conn_memory("r4", r.id).expect("still connected");
        worst = worst.max(m.outbox_bytes);
        println!("outbox of a peer pinging without reading: at most {worst} bytes");
        assert!(worst <= 256 * 1024 + 64, "{worst}");
        hub.close();
    });
}
