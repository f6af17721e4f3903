//! Defect 5 of issue 9: running out of memory while receiving a large message is a status
//! (ARSOCK_ERR_IO), never an abort, and the connection stays usable; the receive buffer grows
//! to exactly the size a frame needs (16 MiB + 8, not 32 MiB). An allocator that records the
//! largest request and can refuse large ones makes both observable. One binary of its own, so
//! that nothing else allocates meanwhile.

mod common;
use common::*;
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Mutex;
use std::thread;

struct Recording;
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Requests above this many bytes fail (usize::MAX: none fail).
static FAIL_ABOVE: AtomicUsize = AtomicUsize::new(usize::MAX);
static TRACK: AtomicBool = AtomicBool::new(false);
/// The tests of this file run one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if l.size() > FAIL_ABOVE.load(SeqCst) {
            return std::ptr::null_mut();
        }
        if TRACK.load(SeqCst) {
            LARGEST.fetch_max(l.size(), SeqCst);
        }
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        if l.size() > FAIL_ABOVE.load(SeqCst) {
            return std::ptr::null_mut();
        }
        if TRACK.load(SeqCst) {
            LARGEST.fetch_max(l.size(), SeqCst);
        }
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        if new_size > FAIL_ABOVE.load(SeqCst) {
            return std::ptr::null_mut();
        }
        if TRACK.load(SeqCst) {
            LARGEST.fetch_max(new_size, SeqCst);
        }
        unsafe { System.realloc(p, l, new_size) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
    }
}

#[global_allocator]
static A: Recording = Recording;

/// A plain TCP peer that writes one framed message of `len` bytes from its own thread.
fn peer_sending(port: u16, len: usize) -> thread::JoinHandle<()> {
    let frame = arsock::frame::encode_frame(&pattern(5, len));
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    thread::spawn(move || {
        let _ = peer.write_all(&frame);
        thread::sleep(std::time::Duration::from_secs(2)); // keep the stream open meanwhile
    })
}

#[test]
fn a_16_mib_message_grows_the_receive_buffer_to_exactly_its_frame_size() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (server, port) = listen();
    let len = 16 << 20;
    let writer = peer_sending(port, len);
    let accepted = accept(server);
    let mut out = vec![0u8; len];
    LARGEST.store(0, SeqCst);
    TRACK.store(true, SeqCst);
    let mut n = 0;
    // A finite timeout: the message is assembled in the receive buffer (not read straight
    // into `out`), which is the path that grows.
    let st = arsock_client_recv_msg(accepted, out.as_mut_ptr(), len, 20_000, &mut n);
    TRACK.store(false, SeqCst);
    ok(st);
    assert_eq!(n, len);
    assert!(out == pattern(5, len));
    let largest = LARGEST.load(SeqCst);
    assert!(
        largest <= len + 8,
        "largest allocation {largest} bytes; the frame needs {}",
        len + 8
    );
    writer.join().unwrap();
}

#[test]
fn running_out_of_memory_while_receiving_is_an_error_and_the_message_survives() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (server, port) = listen();
    let len = 40 << 20;
    let writer = peer_sending(port, len);
    let accepted = accept(server);
    ok(arsock_client_set_max_message(accepted, 64 << 20));
    let mut out = vec![0u8; len];
    let mut n = 0;
    FAIL_ABOVE.store(24 << 20, SeqCst);
    let st = arsock_client_recv_msg(accepted, out.as_mut_ptr(), len, 20_000, &mut n);
    FAIL_ABOVE.store(usize::MAX, SeqCst);
    assert_eq!(st, ARSOCK_ERR_IO);
    assert!(last_error().contains("cannot allocate"), "{}", last_error());
    // Memory is back: the same message arrives whole.
    ok(arsock_client_recv_msg(
        accepted,
        out.as_mut_ptr(),
        len,
        20_000,
        &mut n,
    ));
    assert_eq!(n, len);
    assert!(out == pattern(5, len));
    writer.join().unwrap();
}
