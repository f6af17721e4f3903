//! 100 hostile connections at once: each fails on its own, the server keeps serving a good
//! client, and memory stays bounded. Heap use is measured exactly with a counting allocator
//! (RSS alone would miss lazily-mapped allocations); RSS growth is checked as well.
//! This file holds one test so that nothing else allocates while it measures.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::thread;
use std::time::Duration;

struct Counting;
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(l.size(), Relaxed) + l.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size(), Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

fn rss_kib() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Heap growth allowed for 100 hostile connections: each may hold one 64 KiB receive buffer
/// plus bookkeeping. Allocating what peers announce (25 x 16 MiB + 25 x 4 GiB) breaks it.
const HEAP_BOUND: usize = 32 << 20;
const RSS_BOUND_KIB: usize = 96 << 10;

#[test]
fn a_hundred_hostile_connections_fail_alone_and_memory_stays_bounded() {
    let (server, port) = listen();
    let heap_before = CURRENT.load(Relaxed);
    PEAK.store(heap_before, Relaxed);
    let rss_before = rss_kib();

    // Serve every connection on its own thread, as a simple server would.
    let acceptor = thread::spawn(move || {
        let mut workers = Vec::new();
        for _ in 0..101 {
            let h = accept(server);
            ok(arsock_client_set_frame_timeout(h, 1000));
            workers.push(thread::spawn(move || {
                let mut buf = vec![0u8; 256];
                loop {
                    let mut n = 0;
                    let st = arsock_client_recv_msg(h, buf.as_mut_ptr(), buf.len(), 20_000, &mut n);
                    if st == ARSOCK_ERR_BUFFER_TOO_SMALL {
                        buf.resize(n, 0); // a real server grows its buffer and asks again
                        continue;
                    }
                    if st != ARSOCK_OK {
                        let _ = arsock_close(h);
                        return (st, n);
                    }
                    // A well-behaved client gets an echo.
                    ok(arsock_client_send_msg(h, buf.as_ptr(), n));
                }
            }));
        }
        workers
            .into_iter()
            .map(|w| w.join().unwrap().0)
            .collect::<Vec<_>>()
    });

    let mut peers = Vec::new();
    for i in 0..100 {
        let mut p = TcpStream::connect(("127.0.0.1", port)).unwrap();
        match i % 4 {
            0 => p
                .write_all(&[0xA5, 1, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF])
                .unwrap(), // 4 GiB
            1 => {
                p.write_all(&[0xA5, 1, 1, 0, 0, 0, 0, 1]).unwrap(); // exactly 16 MiB: allowed...
                p.write_all(&[0u8; 1000]).unwrap(); // ...then stall: frame timeout
            }
            2 => p.write_all(&pattern(i, 512)).unwrap(), // garbage
            _ => {
                p.write_all(&[0xA5, 1, 1, 0, 0, 0, 0, 1, 1, 2, 3]).unwrap();
                p.shutdown(std::net::Shutdown::Both).unwrap(); // truncated and gone
            }
        }
        peers.push(p);
    }
    // A good client is served while all that goes on.
    let good = connect("127.0.0.1", port);
    for i in 0..100u32 {
        send_msg(good, &i.to_le_bytes());
        assert_eq!(recv_msg(good, 16), i.to_le_bytes());
    }
    ok(arsock_close(good));

    let statuses = within(Duration::from_secs(60), move || acceptor.join().unwrap());
    let peak_growth = PEAK.load(Relaxed).saturating_sub(heap_before);
    let rss_growth = rss_kib().saturating_sub(rss_before);
    println!(
        "heap peak growth {} KiB, RSS growth {} KiB",
        peak_growth >> 10,
        rss_growth
    );
    let protocol = statuses
        .iter()
        .filter(|s| **s == ARSOCK_ERR_PROTOCOL)
        .count();
    let closed = statuses.iter().filter(|s| **s == ARSOCK_ERR_CLOSED).count();
    assert_eq!(
        protocol, 100,
        "every hostile connection fails with PROTOCOL: {statuses:?}"
    );
    assert_eq!(closed, 1, "the good client ends with CLOSED");
    assert!(peak_growth < HEAP_BOUND, "heap grew by {peak_growth} bytes");
    assert!(rss_growth < RSS_BOUND_KIB, "RSS grew by {rss_growth} KiB");
    drop(peers);
}
