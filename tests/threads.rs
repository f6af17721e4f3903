//! Issue 9: the library starts no thread per connection, per close or per blocked call. Bursts
//! on many connections (which coalesce, so their queues are written in the background), and
//! closing them all with undelivered data, leave at most the one I/O thread (plus at most one
//! name resolver, not used here). One binary of its own so the thread count is ours.

mod common;
use common::*;
use std::time::Duration;

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
    let during = arsock_threads();
    assert!(during.len() <= 2, "{during:?}");
    for &(c, a) in &pairs {
        ok(arsock_close(c)); // the unread raw data makes this close linger
        ok(arsock_close(a));
    }
    let after = arsock_threads();
    assert!(after.len() <= 2, "{after:?}");
    ok(arsock_close(server));
}
