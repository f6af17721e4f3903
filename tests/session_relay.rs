//! Reliable relay through the C API: 100k messages among 8 devices (none lost, duplicated or
//! echoed; per-sender order), a frozen device that does not hold the others back, and a late
//! joiner whose snapshot equals the room's state before any live message.

mod sessions;
use sessions::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// A numbered message: sender's own sequence number, then filler.
fn msg(seq: u32, len: usize) -> Vec<u8> {
    let mut m = seq.to_le_bytes().to_vec();
    m.resize(len.max(4), (seq % 251) as u8);
    m
}

/// Check what a device received from each sender: sequence numbers strictly increasing.
/// Returns the count per sender.
fn check_order(me: u32, got: &[(u32, u32)]) -> BTreeMap<u32, u32> {
    let mut next: BTreeMap<u32, u32> = BTreeMap::new();
    for &(from, seq) in got {
        assert_ne!(from, me, "device {me} got its own message back");
        let n = next.entry(from).or_insert(0);
        assert_eq!(
            seq, *n,
            "device {me}: from {from} expected #{n}, got #{seq} (lost or duplicated)"
        );
        *n += 1;
    }
    next
}

/// Send `n` broadcast messages while receiving, until `expect` messages arrived.
fn run_device(
    mut d: Dev,
    n: u32,
    len: usize,
    expect: u64,
    pace: Option<Duration>,
) -> (Dev, Vec<(u32, u32)>, Duration) {
    let start = Instant::now();
    let mut got = Vec::with_capacity(expect as usize);
    let mut sent = 0;
    let end = start + Duration::from_secs(120);
    let mut evs = [arsock_event::default(); 256];
    let mut buf = vec![0u8; 64 * 1024];
    while (sent < n || (got.len() as u64) < expect) && Instant::now() < end {
        while sent < n {
            let m = msg(sent, len);
            if d.try_send(0, &m) != ARSOCK_OK {
                break; // WOULD_BLOCK: receive, then try again
            }
            sent += 1;
            if let Some(p) = pace {
                std::thread::sleep(p);
                break;
            }
        }
        let mut k = 0;
        let st = unsafe { arsock_session_poll(d.h, evs.as_mut_ptr(), evs.len(), 1, &mut k) };
        if st == ARSOCK_ERR_TIMEOUT {
            continue;
        }
        ok(st);
        for e in &evs[..k] {
            if e.kind == ARSOCK_EVENT_MESSAGE {
                let mut len = 0;
                ok(unsafe {
                    arsock_session_read(d.h, e.payload, buf.as_mut_ptr(), buf.len(), &mut len)
                });
                got.push((e.peer, u32::from_le_bytes(buf[..4].try_into().unwrap())));
            } else {
                d.backlog.push_back(Ev {
                    kind: e.kind,
                    peer: e.peer,
                    reason: e.reason,
                    flags: e.flags,
                    size: e.size,
                    time_us: e.time_us,
                    payload: Vec::new(),
                });
            }
        }
    }
    (d, got, start.elapsed())
}

fn join_all(port: u16, room: &str, n: usize) -> Vec<Dev> {
    let mut devs: Vec<Dev> = (0..n)
        .map(|i| Dev::join(port, room, &format!("d{i}")))
        .collect();
    for d in devs.iter_mut() {
        let mut seen = 0;
        while seen < n - 1 {
            if d.next(T).expect("presence").kind == ARSOCK_EVENT_PEER_JOINED {
                seen += 1;
            }
        }
    }
    devs
}

#[test]
fn a_hundred_thousand_messages_among_eight_devices_arrive_once_each_in_sender_order_never_echoed() {
    within(Duration::from_secs(300), || {
        let (hub, port) = hub();
        let devs = join_all(port, "relay", 8);
        const PER: u32 = 12_500; // 8 × 12,500 = 100,000 messages, each to the 7 others
        let threads: Vec<_> = devs
            .into_iter()
            .map(|d| std::thread::spawn(move || run_device(d, PER, 16, 7 * PER as u64, None)))
            .collect();
        let mut total = 0u64;
        let mut slowest = Duration::ZERO;
        for t in threads {
            let (d, got, took) = t.join().unwrap();
            let counts = check_order(d.id, &got);
            assert_eq!(
                counts.len(),
                7,
                "device {} heard from {} senders",
                d.id,
                counts.len()
            );
            assert!(
                counts.values().all(|&c| c == PER),
                "device {}: {counts:?}",
                d.id
            );
            total += got.len() as u64;
            slowest = slowest.max(took);
            d.close();
        }
        assert_eq!(total, 7 * 100_000);
        println!("relay: 100,000 messages to 7 peers each ({total} deliveries) in {slowest:?}");
        ok(arsock_close(hub));
    });
}

#[test]
fn a_frozen_device_does_not_hold_back_the_others() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut devs = join_all(port, "frozen", 5);
        let mut frozen = devs.pop().unwrap();
        // The four others exchange paced 4 KiB messages for about 10 s while the fifth never
        // polls: its event queue fills, the hub's queue for it passes its limit, and after
        // slow_peer_ms (5 s), or at 8 times the limit, the hub disconnects it as SLOW_PEER (the
        // device, not reading, sees its link end: its own BYE cannot reach a full socket).
        const PER: u32 = 3300;
        let pace = Some(Duration::from_micros(3000));
        let threads: Vec<_> = devs
            .into_iter()
            .map(|d| std::thread::spawn(move || run_device(d, PER, 4096, 3 * PER as u64, pace)))
            .collect();
        let mut rates = Vec::new();
        for t in threads {
            let (d, got, took) = t.join().unwrap();
            let counts = check_order(d.id, &got);
            assert_eq!(counts.len(), 3);
            assert!(
                counts.values().all(|&c| c == PER),
                "device {}: {counts:?}",
                d.id
            );
            rates.push(got.len() as f64 / took.as_secs_f64());
            d.close();
        }
        println!("with one device frozen: others received {rates:.0?} msg/s each");
        // The frozen device thaws: what it gets is in order, once each, and every message is
        // either delivered or counted as dropped by the hub in RECONNECTED.
        let (dropped, got, events) = thaw(&mut frozen, 4 * PER as u64);
        let counts = check_order_with_gaps(frozen.id, &got);
        let received = got.len() as u64;
        println!(
            "frozen device: received {received} of {}, hub dropped {dropped}; events {events:?}",
            4 * PER
        );
        assert_eq!(received + dropped, 4 * PER as u64, "{counts:?}");
        frozen.close();
        ok(arsock_close(hub));
    });
}

/// Receive until `total` messages are delivered or dropped (or 30 s pass); returns the drop
/// count, the messages, and the kinds of the other events.
/// Messages as (sender, sequence number).
type Got = Vec<(u32, u32)>;

fn thaw(d: &mut Dev, total: u64) -> (u64, Got, Vec<(u32, i32)>) {
    let mut got = Vec::new();
    let mut dropped = 0;
    let mut events = Vec::new();
    let end = Instant::now() + Duration::from_secs(30);
    while (got.len() as u64 + dropped) < total && Instant::now() < end {
        let Some(e) = d.next(Duration::from_millis(200)) else {
            continue;
        };
        match e.kind {
            ARSOCK_EVENT_MESSAGE => got.push((
                e.peer,
                u32::from_le_bytes(e.payload[..4].try_into().unwrap()),
            )),
            ARSOCK_EVENT_RECONNECTED => {
                dropped += e.size;
                events.push((e.kind, e.reason));
            }
            k => events.push((k, e.reason)),
        }
    }
    (dropped, got, events)
}

/// Per-sender order with gaps allowed (messages the hub dropped): strictly increasing.
fn check_order_with_gaps(me: u32, got: &[(u32, u32)]) -> BTreeMap<u32, u32> {
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    let mut counts: BTreeMap<u32, u32> = BTreeMap::new();
    for &(from, seq) in got {
        assert_ne!(from, me);
        if let Some(&l) = last.get(&from) {
            assert!(
                seq > l,
                "device {me}: from {from} #{seq} after #{l} (duplicate or reordered)"
            );
        }
        last.insert(from, seq);
        *counts.entry(from).or_default() += 1;
    }
    counts
}

#[test]
fn a_late_joiner_gets_the_whole_state_before_any_live_message() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let devs = join_all(port, "late", 8);
        let mut expected = BTreeMap::new();
        for i in 0..100 {
            let key = format!("anchor/{i:03}");
            let value: Vec<u8> = (0..(i * 37 % 2000)).map(|j| (i + j) as u8).collect();
            devs[i % 8].set(&key, &value);
            expected.insert(key, value);
        }
        // Everyone has applied all 100 writes (the hub applied them first).
        let mut d0 = devs.into_iter().collect::<Vec<_>>();
        for d in d0.iter_mut() {
            let mut n = 0;
            while n < 100 {
                if d.next(T).expect("state").kind == ARSOCK_EVENT_STATE_CHANGED {
                    n += 1;
                }
            }
        }
        // Live traffic keeps flowing while the joiner arrives.
        let senders: Vec<_> = d0
            .into_iter()
            .map(|d| {
                std::thread::spawn(move || {
                    for s in 0..300u32 {
                        let _ = d.try_send(0, &msg(s, 8));
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    d
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(50));
        let mut j = Dev::join(port, "late", "joiner");
        let mut kinds = Vec::new();
        let mut state_keys = Vec::new();
        while state_keys.len() < 100 {
            let e = j.next(T).expect("snapshot");
            if e.kind == ARSOCK_EVENT_STATE_CHANGED {
                state_keys.push(String::from_utf8(e.payload.clone()).unwrap());
            }
            kinds.push(e.kind);
        }
        let peers = kinds
            .iter()
            .filter(|&&k| k == ARSOCK_EVENT_PEER_JOINED)
            .count();
        assert_eq!(peers, 8);
        assert!(
            !kinds.contains(&ARSOCK_EVENT_MESSAGE),
            "a live message came before the snapshot ended"
        );
        assert_eq!(kinds[..8], [ARSOCK_EVENT_PEER_JOINED; 8]);
        assert_eq!(state_keys, expected.keys().cloned().collect::<Vec<_>>());
        for (k, v) in &expected {
            assert_eq!(&j.get(k).unwrap(), v, "key {k}");
        }
        for t in senders {
            t.join().unwrap().close();
        }
        j.close();
        ok(arsock_close(hub));
    });
}
