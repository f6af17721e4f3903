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

/// mio's Windows backend (AFD polling through ntdll), which arsock's reactor uses: a
/// non-blocking loopback connection reports writable, then readable once the peer sends.
#[test]
fn mio_reports_readiness_of_a_loopback_connection() {
    use mio::net::{TcpListener as MioListener, TcpStream as MioStream};
    use mio::{Events, Interest, Poll, Token};
    let mut poll = Poll::new().expect("mio Poll");
    let mut listener = MioListener::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let addr = listener.local_addr().expect("addr");
    poll.registry()
        .register(&mut listener, Token(0), Interest::READABLE)
        .expect("register listener");
    let mut client = MioStream::connect(addr).expect("connect");
    poll.registry()
        .register(
            &mut client,
            Token(1),
            Interest::READABLE | Interest::WRITABLE,
        )
        .expect("register client");
    let mut events = Events::with_capacity(16);
    let (mut accepted, mut writable, mut readable) = (None, false, false);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !readable && std::time::Instant::now() < deadline {
        poll.poll(&mut events, Some(Duration::from_millis(100)))
            .expect("poll");
        for e in events.iter() {
            match e.token() {
                Token(0) => {
                    if let Ok((mut s, _)) = listener.accept() {
                        s.write_all(b"pose").expect("peer writes");
                        accepted = Some(s);
                    }
                }
                Token(1) if e.is_writable() && !writable => writable = true,
                _ => {}
            }
            if e.token() == Token(1) && e.is_readable() {
                let mut buf = [0u8; 4];
                readable = matches!(client.read(&mut buf), Ok(4)) && &buf == b"pose";
            }
        }
    }
    assert!(
        accepted.is_some(),
        "the listener never reported the connection"
    );
    assert!(writable, "the client never became writable");
    assert!(readable, "the client never read what the peer sent");
}
