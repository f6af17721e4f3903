//! Resume through a proxy the test controls: a cut link (both socket ends shut down) resumes
//! with the same peer id, no PEER_LEFT, and no message lost or duplicated either way; a silent
//! link is announced stale and then resumed.

mod sessions;
use sessions::proxy::Proxy;
use sessions::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// Send `n` numbered messages to `to` (paced), while collecting events until `expect` numbered
/// messages from `from` have arrived. Returns the numbers received and every other event.
fn exchange(mut d: Dev, to: u32, n: u32, from: u32, expect: u32) -> (Dev, Vec<u32>, Vec<Ev>) {
    let mut got = Vec::new();
    let mut other = Vec::new();
    let mut sent = 0;
    let end = Instant::now() + T;
    while (sent < n || (got.len() as u32) < expect) && Instant::now() < end {
        if sent < n {
            let st = d.try_send(to, &sent.to_le_bytes());
            if st == ARSOCK_ERR_WOULD_BLOCK {
                std::thread::sleep(Duration::from_millis(1));
                continue;
            }
            if st != ARSOCK_OK {
                let rest: Vec<Ev> = d
                    .drain(Duration::from_millis(200))
                    .into_iter()
                    .filter(|e| e.kind != ARSOCK_EVENT_MESSAGE)
                    .collect();
                panic!("send failed with {st:?}; events: {other:?} then {rest:?}");
            }
            sent += 1;
            if sent % 50 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        while let Some(e) = d.next(Duration::from_millis(if sent < n { 0 } else { 50 })) {
            if e.kind == ARSOCK_EVENT_MESSAGE && e.peer == from {
                got.push(u32::from_le_bytes(e.payload[..4].try_into().unwrap()));
            } else {
                other.push(e);
            }
            if sent < n {
                break;
            }
        }
    }
    (d, got, other)
}

#[test]
fn a_cut_link_resumes_with_the_same_id_and_loses_or_duplicates_nothing_either_way() {
    within(Duration::from_secs(90), || {
        let (hub, port) = hub();
        let proxy = Proxy::start(port);
        let mut a = Dev::join(port, "cut", "direct");
        let b = Dev::join(proxy.port, "cut", "proxied");
        a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == b.id);
        let (ida, idb) = (a.id, b.id);
        const N: u32 = 3000;
        let ta = std::thread::spawn(move || exchange(a, idb, N, idb, N));
        let tb = std::thread::spawn(move || exchange(b, ida, N, ida, N));
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(150));
            proxy.cut();
        }
        let (a, got_a, ev_a) = ta.join().unwrap();
        let (mut b, got_b, mut ev_b) = tb.join().unwrap();
        // The last cut may have come after the last message: let that resume finish too.
        let count = |ev: &[Ev], k: u32| ev.iter().filter(|e| e.kind == k).count();
        if count(&ev_b, ARSOCK_EVENT_DISCONNECTED) > count(&ev_b, ARSOCK_EVENT_RECONNECTED) {
            ev_b.extend(b.until(T, |e| e.kind == ARSOCK_EVENT_RECONNECTED));
        }
        assert_eq!(
            got_b,
            (0..N).collect::<Vec<_>>(),
            "b: a's messages in order, once each"
        );
        assert_eq!(
            got_a,
            (0..N).collect::<Vec<_>>(),
            "a: b's messages in order, once each"
        );
        assert!(
            !ev_a.iter().any(|e| e.kind == ARSOCK_EVENT_PEER_LEFT),
            "{ev_a:?}"
        );
        let disc: Vec<&Ev> = ev_b
            .iter()
            .filter(|e| e.kind == ARSOCK_EVENT_DISCONNECTED)
            .collect();
        let reco: Vec<&Ev> = ev_b
            .iter()
            .filter(|e| e.kind == ARSOCK_EVENT_RECONNECTED)
            .collect();
        assert!(!disc.is_empty(), "b noticed no cut: {ev_b:?}");
        assert!(disc
            .iter()
            .all(|e| e.flags & ARSOCK_DISCONNECTED_RESUMING != 0));
        assert_eq!(disc.len(), reco.len(), "{ev_b:?}");
        assert!(reco.iter().all(|e| e.size == 0), "the hub dropped nothing");
        let mut id = 0;
        ok(unsafe { arsock_session_peer_id(b.h, &mut id) });
        assert_eq!(id, idb);
        println!("cuts noticed by the proxied device: {}", disc.len());
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_silent_link_is_announced_stale_and_resumed_when_heard_again() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub_with(|c| {
            c.heartbeat_ms = 100;
            c.stale_after_ms = 600;
        });
        let proxy = Proxy::start(port);
        let mut a = Dev::join(port, "quiet", "direct");
        let mut b = Dev::join(proxy.port, "quiet", "proxied");
        a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == b.id);
        proxy.silence(true);
        let silenced = Instant::now();
        a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_STALE && e.peer == b.id);
        println!(
            "stale after {:?} of silence (stale_after_ms 600)",
            silenced.elapsed()
        );
        proxy.silence(false);
        let seen = a.until(T, |e| e.peer == b.id && e.kind != ARSOCK_EVENT_PEER_STALE);
        let last = seen.last().unwrap();
        assert_eq!(last.kind, ARSOCK_EVENT_PEER_RESUMED, "{seen:?}");
        // b found the hub silent too, reconnected and resumed.
        let ev = b.until(T, |e| e.kind == ARSOCK_EVENT_RECONNECTED);
        assert!(ev.iter().any(|e| e.kind == ARSOCK_EVENT_DISCONNECTED));
        b.send(a.id, b"still here");
        let m = a
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!((m.peer, m.payload.as_slice()), (b.id, &b"still here"[..]));
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}
