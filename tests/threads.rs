//! Issue 9: the library starts no thread per connection, per close or per blocked call. Bursts
//! on many connections (which coalesce, so their queues are written in the background), and
//! closing them all with undelivered data, leave only the one I/O thread; name lookups share a
//! pool of at most two threads. One binary of its own so the thread count is ours.

mod common;
use common::*;
use std::time::Duration;

/// arsock's threads other than the name resolvers (the other test of this file runs those).
fn io_threads() -> Vec<String> {
    arsock_threads()
        .into_iter()
        .filter(|n| !n.starts_with("arsock-resolve"))
        .collect()
}

fn arsock_threads() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let comm = task.unwrap().path().join("comm");
        let name = std::fs::read_to_string(comm).unwrap_or_default();
        if name.starts_with("arsock") {
            names.push(name.trim().to_string());
        }
    }
    names
}

#[test]
fn bursts_and_closes_on_many_connections_start_no_thread_per_connection() {
    let (server, port) = listen();
    let mut pairs = Vec::new();
    for _ in 0..100 {
        let c = connect("127.0.0.1", port);
        let a = accept(server);
        pairs.push((c, a));
    }
    let msg = [5u8; 64];
    for &(c, a) in &pairs {
        for _ in 0..200 {
            send_msg(c, &msg); // a burst: coalesced, written in the background
        }
        let big = vec![1u8; 512 << 10];
        ok(arsock_client_send(a, big.as_ptr(), big.len())); // raw, more than the peer reads
    }
    std::thread::sleep(Duration::from_millis(200));
    let during = io_threads();
    assert!(during.len() <= 1, "{during:?}");
    for &(c, a) in &pairs {
        ok(arsock_close(c)); // the unread raw data makes this close linger
        ok(arsock_close(a));
    }
    let after = io_threads();
    assert!(after.len() <= 1, "{after:?}");
    ok(arsock_close(server));
}

#[test]
fn concurrent_name_lookups_share_a_pool_of_at_most_two_threads() {
    let (server, port) = listen_on("127.0.0.1");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut most = 0;
        while !s2.load(std::sync::atomic::Ordering::Relaxed) {
            let n = arsock_threads()
                .iter()
                .filter(|n| n.starts_with("arsock-resolve"))
                .count();
            most = most.max(n);
            std::thread::sleep(Duration::from_micros(200));
        }
        most
    });
    let workers: Vec<_> = (0..16)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let mut c = 0;
                    let st = arsock_client_connect(cstr("localhost").as_ptr(), port, 5000, &mut c);
                    if st == ARSOCK_OK {
                        ok(arsock_close(c));
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.join().unwrap();
    assert!(most <= 2, "{most} resolver threads at once");
    ok(arsock_close(server));
}
