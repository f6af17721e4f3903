//! Blobs in a session through the C API: round trip, BLOB_AVAILABLE, NOT_FOUND while not
//! complete, BUFFER_TOO_SMALL, replace, delete, budget, and a late joiner's snapshot.

mod sessions;
use sessions::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

fn put(d: &Dev, key: &str, data: &[u8]) -> arsock_status {
    let k = cstr(key);
    unsafe { arsock_session_put_blob(d.h, k.as_ptr(), data.as_ptr(), data.len()) }
}

fn get(d: &Dev, key: &str) -> Result<Vec<u8>, arsock_status> {
    let k = cstr(key);
    let mut len = 0;
    let st = unsafe { arsock_session_get_blob(d.h, k.as_ptr(), std::ptr::null_mut(), 0, &mut len) };
    match st {
        ARSOCK_OK => return Ok(Vec::new()),
        ARSOCK_ERR_BUFFER_TOO_SMALL => {}
        s => return Err(s),
    }
    let mut buf = vec![0u8; len];
    let mut got = 0;
    let st =
        unsafe { arsock_session_get_blob(d.h, k.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut got) };
    if st != ARSOCK_OK {
        return Err(st);
    }
    assert_eq!(got, len);
    Ok(buf)
}

fn available(d: &mut Dev, key: &str) -> Ev {
    let evs = d.until(T, |e| {
        e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.payload == key.as_bytes()
    });
    evs.last().unwrap().clone()
}

fn body(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2654435761) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn a_5_mib_blob_reaches_every_peer_whole_and_is_not_found_before() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b1", "a");
        let mut b = Dev::join(port, "b1", "b");
        let data = body(5 * 1024 * 1024 + 17, 1);
        ok(put(&a, "world/map", &data));
        // The uploader's own copy counts only once the hub holds the whole blob.
        assert_eq!(get(&a, "world/map"), Err(ARSOCK_ERR_NOT_FOUND));
        let aid = a.id;
        for d in [&mut a, &mut b] {
            let e = available(d, "world/map");
            assert_eq!((e.peer, e.size, e.flags), (aid, data.len() as u64, 0));
            let got = get(d, "world/map").unwrap();
            assert!(got == data, "blob differs");
        }
        // BUFFER_TOO_SMALL as recv_msg: the size needed, nothing copied.
        let k = cstr("world/map");
        let mut small = vec![0u8; 10];
        let mut len = 0;
        let st =
            unsafe { arsock_session_get_blob(b.h, k.as_ptr(), small.as_mut_ptr(), 10, &mut len) };
        assert_eq!((st, len), (ARSOCK_ERR_BUFFER_TOO_SMALL, data.len()));
        assert_eq!(small, vec![0u8; 10]);
        assert_eq!(get(&b, "nothing"), Err(ARSOCK_ERR_NOT_FOUND));
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn replace_and_delete_reach_every_peer_and_messages_are_not_held_back() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b2", "a");
        let mut b = Dev::join(port, "b2", "b");
        ok(put(&a, "anchor", b"v1"));
        let e = available(&mut b, "anchor");
        assert_eq!((e.peer, e.size), (a.id, 2));
        let e = available(&mut a, "anchor");
        assert_eq!((e.peer, e.size), (a.id, 2), "the uploader is told too");
        ok(put(&b, "anchor", b"version 2"));
        let e = available(&mut a, "anchor");
        assert_eq!((e.peer, e.size), (b.id, 9));
        assert_eq!(get(&a, "anchor").unwrap(), b"version 2");
        // A big upload in flight does not hold a message back.
        let big = body(3 * 1024 * 1024, 2);
        ok(put(&a, "mesh", &big));
        a.send(b.id, b"after the put");
        let m = b
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!(m.payload, b"after the put");
        let e = available(&mut b, "mesh");
        assert_eq!(e.size, big.len() as u64);
        // Delete: everyone is told, and it is gone.
        let k = cstr("anchor");
        ok(unsafe { arsock_session_delete_blob(a.h, k.as_ptr()) });
        for d in [&mut a, &mut b] {
            let evs = d.until(T, |e| {
                e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.flags & ARSOCK_BLOB_DELETED != 0
            });
            assert_eq!(evs.last().unwrap().payload, b"anchor");
            assert_eq!(get(d, "anchor"), Err(ARSOCK_ERR_NOT_FOUND));
        }
        let k = cstr("never");
        assert_eq!(
            unsafe { arsock_session_delete_blob(a.h, k.as_ptr()) },
            ARSOCK_ERR_NOT_FOUND
        );
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn bad_blob_calls_get_clear_statuses() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "b3", "a");
        let long = "k".repeat(256);
        assert_eq!(put(&a, &long, b"x"), ARSOCK_ERR_INVALID_ARGUMENT);
        assert_eq!(put(&a, "", b"x"), ARSOCK_ERR_INVALID_ARGUMENT);
        let k = cstr("k");
        assert_eq!(
            unsafe { arsock_session_put_blob(a.h, k.as_ptr(), std::ptr::null(), 5) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            unsafe {
                arsock_session_put_blob(
                    a.h,
                    k.as_ptr(),
                    1 as *const u8,
                    ARSOCK_SESSION_MAX_BLOB + 1,
                )
            },
            ARSOCK_ERR_INVALID_ARGUMENT,
            "the size is checked before the data is read"
        );
        assert_eq!(
            unsafe { arsock_session_put_blob(a.h, std::ptr::null(), b"x".as_ptr(), 1) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            put(
                &Dev {
                    h: 0,
                    id: 0,
                    backlog: Default::default()
                },
                "k",
                b"x"
            ),
            ARSOCK_ERR_INVALID_HANDLE
        );
        a.close();
        assert_eq!(put(&a, "k", b"x"), ARSOCK_ERR_INVALID_HANDLE);
        ok(arsock_close(hub));
    });
}

#[test]
fn puts_over_the_256_mib_budget_would_block_and_store_nothing() {
    within(Duration::from_secs(180), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "b4", "a");
        let chunk = vec![7u8; ARSOCK_SESSION_MAX_BLOB];
        for i in 0..4 {
            ok(put(&a, &format!("big{i}"), &chunk));
        }
        assert_eq!(put(&a, "one-more", b"x"), ARSOCK_ERR_WOULD_BLOCK);
        assert!(
            last_error().contains(&ARSOCK_SESSION_BLOB_BUDGET.to_string()),
            "{}",
            last_error()
        );
        // Replacing a key counts its new size only.
        ok(put(&a, "big0", b"small now"));
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_late_joiners_snapshot_lists_blobs_state_and_poses_then_bodies_follow() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b5", "a");
        let one = body(1024 * 1024, 3);
        let five = body(5 * 1024 * 1024, 4);
        ok(put(&a, "one", &one));
        ok(put(&a, "five", &five));
        available(&mut a, "one");
        available(&mut a, "five");
        for i in 0..100 {
            a.set(&format!("key{i}"), format!("value{i}").as_bytes());
        }
        let poses: Vec<arsock_pose> = (0..32)
            .map(|e| arsock_pose {
                entity: e,
                rotation: [0.0, 0.0, 0.0, 1.0],
                ..Default::default()
            })
            .collect();
        ok(unsafe { arsock_session_send_poses(a.h, poses.as_ptr(), poses.len()) });
        a.until(T, |e| {
            e.kind == ARSOCK_EVENT_STATE_CHANGED && e.payload == b"key99"
        });
        std::thread::sleep(Duration::from_millis(100));
        let mut c = Dev::join(port, "b5", "c");
        // By JOINED: the poses; then the state; then both blobs become readable.
        let mut out = vec![arsock_pose::default(); 64];
        let mut n = 0;
        ok(unsafe { arsock_session_latest_poses(c.h, out.as_mut_ptr(), out.len(), &mut n) });
        assert_eq!(n, 32);
        let evs = c.until(T, |e| {
            e.kind == ARSOCK_EVENT_STATE_CHANGED && e.payload == b"key99"
        });
        assert_eq!(
            evs.iter()
                .filter(|e| e.kind == ARSOCK_EVENT_STATE_CHANGED)
                .count(),
            100
        );
        for i in 0..100 {
            assert_eq!(
                c.get(&format!("key{i}")).unwrap(),
                format!("value{i}").as_bytes()
            );
        }
        let mut seen = Vec::new();
        while seen.len() < 2 {
            let e = c
                .until(T, |e| e.kind == ARSOCK_EVENT_BLOB_AVAILABLE)
                .pop()
                .unwrap();
            assert_eq!(e.peer, a.id);
            seen.push(String::from_utf8(e.payload).unwrap());
        }
        seen.sort();
        assert_eq!(seen, ["five", "one"]);
        assert!(get(&c, "one").unwrap() == one);
        assert!(get(&c, "five").unwrap() == five);
        a.close();
        c.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn uploads_past_the_rooms_budget_are_refused_by_the_hub_and_reported_to_their_uploader() {
    within(Duration::from_secs(300), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b6", "a");
        let mut b = Dev::join(port, "b6", "b");
        let big = vec![1u8; ARSOCK_SESSION_MAX_BLOB];
        // 6 × 64 MiB asked for at once by two devices: the room holds 256 MiB.
        for i in 0..3 {
            ok(put(&a, &format!("a{i}"), &big));
            ok(put(&b, &format!("b{i}"), &big));
        }
        let (mut stored, mut refused) = (0, 0);
        for d in [&mut a, &mut b] {
            let me = d.id;
            let mut mine = 0;
            while mine < 3 {
                let e = d
                    .until(T, |e| e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.peer == me)
                    .pop()
                    .unwrap();
                mine += 1;
                if e.flags & ARSOCK_BLOB_REFUSED != 0 {
                    refused += 1;
                    assert_eq!(e.size, 0);
                    let key = String::from_utf8(e.payload).unwrap();
                    assert_eq!(get(d, &key), Err(ARSOCK_ERR_NOT_FOUND));
                } else {
                    stored += 1;
                }
            }
        }
        assert_eq!(stored + refused, 6);
        assert!(
            stored <= 4 && refused >= 2,
            "stored {stored}, refused {refused}"
        );
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn poses_and_an_upload_go_on_after_the_link_is_cut_and_resumed() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let proxy = sessions::proxy::Proxy::start(port);
        let mut a = Dev::join(proxy.port, "b7", "a (proxied)");
        let mut b = Dev::join(port, "b7", "b");
        let big = body(4 * 1024 * 1024, 9);
        ok(put(&a, "during-cut", &big));
        let pose = |x: f32| arsock_pose {
            entity: 1,
            position: [x, 0.0, 0.0],
            rotation: [0.0, 0.0, 0.0, 1.0],
            ..Default::default()
        };
        ok(unsafe { arsock_session_send_poses(a.h, &pose(1.0), 1) });
        proxy.cut();
        a.until(T, |e| e.kind == ARSOCK_EVENT_RECONNECTED);
        // After the resume: the newest pose arrives, and the upload (restarted from offset 0
        // if the cut came in its middle) completes.
        ok(unsafe { arsock_session_send_poses(a.h, &pose(2.0), 1) });
        let e = available(&mut b, "during-cut");
        assert_eq!((e.peer, e.size), (a.id, big.len() as u64));
        assert!(get(&b, "during-cut").unwrap() == big);
        let mut out = [arsock_pose::default(); 4];
        let mut n = 0;
        let end = std::time::Instant::now() + T;
        loop {
            ok(unsafe { arsock_session_latest_poses(b.h, out.as_mut_ptr(), 4, &mut n) });
            if n == 1 && out[0].position[0] == 2.0 {
                break;
            }
            assert!(std::time::Instant::now() < end, "{:?}", &out[..n]);
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(out[0].peer, a.id, "same peer id after the resume");
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_blob_deleted_while_a_device_was_away_is_gone_after_its_resume() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let proxy = sessions::proxy::Proxy::start(port);
        let mut a = Dev::join(proxy.port, "b8", "a (proxied)");
        let mut b = Dev::join(port, "b8", "b");
        ok(put(&b, "old", b"soon deleted"));
        ok(put(&b, "kept", b"still here"));
        available(&mut a, "old");
        available(&mut a, "kept");
        // a hears nothing while b deletes the blob, then its link is cut and it resumes.
        proxy.silence(true);
        let k = cstr("old");
        ok(unsafe { arsock_session_delete_blob(b.h, k.as_ptr()) });
        b.until(T, |e| {
            e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.flags & ARSOCK_BLOB_DELETED != 0
        });
        std::thread::sleep(Duration::from_millis(100)); // the proxy swallows what the hub sent a
        proxy.silence(false);
        proxy.cut();
        let evs = a.until(T, |e| {
            e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.flags & ARSOCK_BLOB_DELETED != 0
        });
        assert!(
            evs.iter().any(|e| e.kind == ARSOCK_EVENT_RECONNECTED),
            "{evs:?}"
        );
        assert_eq!(evs.last().unwrap().payload, b"old");
        assert_eq!(get(&a, "old"), Err(ARSOCK_ERR_NOT_FOUND));
        assert_eq!(get(&a, "kept").unwrap(), b"still here");
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_resumed_device_that_holds_a_blob_is_not_sent_its_body_again() {
    within(Duration::from_secs(120), || {
        use sessions::delay::{Delay, DelayProxy};
        use std::sync::atomic::Ordering;
        let (hub, port) = hub();
        let none = Delay {
            base_us: 0,
            jitter_us: 0,
        };
        let proxy = DelayProxy::start(port, none, none);
        let mut a = Dev::join(proxy.port, "b9", "a (proxied)");
        let b = Dev::join(port, "b9", "b");
        let big = body(8 * 1024 * 1024, 5);
        ok(put(&b, "map", &big));
        available(&mut a, "map");
        let before = proxy.down.load(Ordering::Relaxed);
        proxy.cut();
        a.until(T, |e| e.kind == ARSOCK_EVENT_RECONNECTED);
        // Let whatever the hub queued for a's new link arrive, then count it.
        std::thread::sleep(Duration::from_millis(500));
        let resent = proxy.down.load(Ordering::Relaxed) - before;
        println!(
            "bytes to the resumed device: {resent} (the blob has {})",
            big.len()
        );
        assert!(
            resent < big.len() as u64 / 4,
            "{resent} bytes: the body went again"
        );
        assert!(get(&a, "map").unwrap() == big);
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_loader_thread_puts_blobs_while_another_samples_poses_and_closes_from_a_third() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b10", "a");
        let b = Dev::join(port, "b10", "b");
        let pose = arsock_pose {
            entity: 1,
            rotation: [0.0, 0.0, 0.0, 1.0],
            ..Default::default()
        };
        ok(unsafe { arsock_session_send_poses(b.h, &pose, 1) });
        let h = a.h;
        let loader = std::thread::spawn(move || {
            let data = vec![7u8; 2 * 1024 * 1024];
            for i in 0..8 {
                let k = cstr(&format!("asset{i}"));
                let st =
                    unsafe { arsock_session_put_blob(h, k.as_ptr(), data.as_ptr(), data.len()) };
                assert_eq!(st, ARSOCK_OK, "{}", last_error());
            }
        });
        let mut out = [arsock_pose::default(); 8];
        let mut frames = 0;
        while !loader.is_finished() || frames < 1000 {
            let mut n = 0;
            ok(unsafe { arsock_session_sample_poses(a.h, 0, out.as_mut_ptr(), 8, &mut n) });
            frames += 1;
        }
        loader.join().unwrap();
        let mut seen = 0;
        while seen < 8 {
            a.until(T, |e| e.kind == ARSOCK_EVENT_BLOB_AVAILABLE);
            seen += 1;
        }
        // Close from another thread while this one samples.
        let closer = std::thread::spawn(move || ok(arsock_close(h)));
        loop {
            let mut n = 0;
            let st = unsafe { arsock_session_sample_poses(a.h, 0, out.as_mut_ptr(), 8, &mut n) };
            if st != ARSOCK_OK {
                assert_eq!(st, ARSOCK_ERR_INVALID_HANDLE);
                break;
            }
        }
        closer.join().unwrap();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_put_that_replaces_an_upload_in_progress_wins_everywhere() {
    within(Duration::from_secs(120), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "b11", "a");
        let mut b = Dev::join(port, "b11", "b");
        let v1 = body(4 * 1024 * 1024, 21);
        ok(put(&a, "scene", &v1));
        ok(put(&a, "scene", b"version two"));
        for d in [&mut a, &mut b] {
            let end = std::time::Instant::now() + T;
            loop {
                if let Ok(v) = get(d, "scene") {
                    if v == b"version two" {
                        break;
                    }
                }
                assert!(std::time::Instant::now() < end, "v2 never became the blob");
                d.drain(Duration::from_millis(20));
            }
        }
        // Nothing of v1 lingers: a third put is not over any budget and lands as well.
        ok(put(&a, "scene", b"three"));
        let e = b
            .until(T, |e| e.kind == ARSOCK_EVENT_BLOB_AVAILABLE && e.size == 5)
            .pop()
            .unwrap();
        assert_eq!(e.payload, b"scene");
        assert_eq!(get(&b, "scene").unwrap(), b"three");
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}
