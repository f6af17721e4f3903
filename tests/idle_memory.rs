//! Issue 9: idle connections hold little memory. Receive buffers are allocated on demand and
//! given back when idle, send queues when drained: after bursts (small messages that coalesce,
//! and one 900 KiB message each way) and a few seconds idle, the heap held per connection is a
//! few KiB (it was 64 KiB of receive buffer, or 900 KiB after a large message). Heap use is
//! counted exactly by a counting allocator; one binary of its own so nothing else allocates.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::time::Duration;

struct Counting;
static CURRENT: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            CURRENT.fetch_add(l.size() as isize, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        CURRENT.fetch_sub(l.size() as isize, Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn idle_connections_give_their_buffers_back_after_bursts() {
    const PAIRS: usize = 50;
    let (server, port) = listen();
    let mut pairs = Vec::new();
    for _ in 0..PAIRS {
        let c = connect("127.0.0.1", port);
        let a = accept(server);
        pairs.push((c, a));
    }
    let small = [3u8; 200];
    let big = vec![9u8; 900 << 10];
    // Warm up everything that is allocated once per process (I/O thread, timers, caches).
    for &(c, a) in &pairs[..1] {
        send_msg(c, &small);
        assert_eq!(recv_msg(a, 1 << 20).len(), small.len());
    }
    std::thread::sleep(Duration::from_millis(100));
    let before = CURRENT.load(Relaxed);
    for &(c, a) in &pairs {
        for _ in 0..200 {
            send_msg(c, &small); // a burst: coalesced in the send queue
        }
        send_msg(c, &big);
        for _ in 0..200 {
            assert_eq!(recv_msg_status(a, 1 << 20, 5000).1.len(), small.len());
        }
        assert_eq!(recv_msg_status(a, 1 << 20, 5000).1.len(), big.len());
        send_msg(a, &big);
        assert_eq!(recv_msg(c, 1 << 20).len(), big.len());
    }
    // Idle: the I/O thread gives back what the bursts grew (after about 1-2 s).
    std::thread::sleep(Duration::from_millis(3500));
    let held = CURRENT.load(Relaxed) - before;
    let per_handle = held / (2 * PAIRS as isize);
    println!("heap held per idle connection after bursts: {per_handle} B");
    assert!(
        per_handle <= 8 << 10,
        "{per_handle} bytes of heap held per idle connection"
    );
}
