//! Proves the Windows toolchain of scripts/platforms/windows.sh on this machine, before and
//! apart from arsock: built with `rustc --test --target x86_64-pc-windows-gnu` (MinGW linker)
//! and run under wine with the ProcessPrng stub (bcryptprimitives_stub.c) beside it. Each test
//! uses a piece of std that arsock's tests rely on.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

#[link(name = "bcryptprimitives", kind = "raw-dylib")]
extern "system" {
    fn ProcessPrng(data: *mut u8, len: usize) -> i32;
}

/// The stub (or Windows' own ProcessPrng) fills buffers with fresh random bytes.
#[test]
fn process_prng_fills_buffers_with_fresh_random_bytes() {
    let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
    // SAFETY: each pointer is valid for writes of the length passed.
    let ok = unsafe { ProcessPrng(a.as_mut_ptr(), a.len()) & ProcessPrng(b.as_mut_ptr(), b.len()) };
    assert_eq!(ok, 1, "ProcessPrng returns TRUE");
    assert_ne!(a, [0u8; 64]);
    assert_ne!(a, b);
}

/// HashMap's RandomState seeds each thread from ProcessPrng: two threads hash alike only if
/// the generator gave them the same seed.
#[test]
fn hashmap_seeds_differ_between_threads() {
    use std::hash::{BuildHasher, RandomState};
    let hashes = || {
        (0..8u64)
            .map(|i| RandomState::new().hash_one(i))
            .collect::<Vec<_>>()
    };
    let a = std::thread::spawn(hashes).join().expect("thread a");
    let b = std::thread::spawn(hashes).join().expect("thread b");
    assert_ne!(a, b, "two threads got the same HashMap seed");
    let mut m = HashMap::new();
    m.insert("pose", 28);
    assert_eq!(m["pose"], 28);
}

/// Winsock through std: a loopback TCP echo between two threads.
#[test]
fn loopback_tcp_echo_between_threads() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf).expect("read");
        s.write_all(&buf).expect("write");
    });
    let mut c = TcpStream::connect(addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    c.write_all(b"hello").expect("write");
    let mut buf = [0u8; 5];
    c.read_exact(&mut buf).expect("read");
    server.join().expect("server thread");
    assert_eq!(&buf, b"hello");
}

/// A read with a timeout on a silent peer ends with TimedOut/WouldBlock, not a hang.
#[test]
fn read_timeout_on_a_silent_peer_expires() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let mut c = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
    let _peer = listener.accept().expect("accept");
    c.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let err = c.read(&mut [0u8; 1]).expect_err("nothing was sent");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
        ),
        "{err:?}"
    );
}
