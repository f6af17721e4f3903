//! Threads: close from another thread wakes blocked calls; send and receive on one
//! connection from two threads at once; many threads on many handles.

mod common;
use common::*;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Bound for "woke up": generous, so a slow CI machine does not fail it, yet far below the
/// forever the call would otherwise wait. The wake latency itself is printed, not asserted.
const WAKE_BOUND: Duration = Duration::from_secs(5);

fn close_while_blocked(
    call: impl FnOnce() -> arsock_status + Send + 'static,
    handle: arsock_handle,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let st = call();
        let _ = tx.send((st, Instant::now()));
    });
    thread::sleep(Duration::from_millis(100)); // let it block
    assert!(
        rx.try_recv().is_err(),
        "the call returned before it was closed"
    );
    let closed_at = Instant::now();
    ok(arsock_close(handle));
    let (st, woke_at) = rx
        .recv_timeout(WAKE_BOUND)
        .expect("blocked call was not woken by close");
    println!(
        "woken {:?} after close",
        woke_at.saturating_duration_since(closed_at)
    );
    assert_eq!(st, ARSOCK_ERR_CLOSED, "{}", last_error());
}

#[test]
fn close_wakes_a_blocked_raw_recv() {
    let (_server, _client, accepted) = pair();
    close_while_blocked(
        move || {
            let mut buf = [0u8; 8];
            let mut n = 0;
            arsock_client_recv(accepted, buf.as_mut_ptr(), 8, -1, &mut n)
        },
        accepted,
    );
}

#[test]
fn close_wakes_a_blocked_message_recv_with_a_long_timeout() {
    let (_server, _client, accepted) = pair();
    close_while_blocked(
        move || {
            let mut buf = [0u8; 8];
            let mut n = 0;
            arsock_client_recv_msg(accepted, buf.as_mut_ptr(), 8, 600_000, &mut n)
        },
        accepted,
    );
}

#[test]
fn close_wakes_a_blocked_accept() {
    let (server, _port) = listen();
    close_while_blocked(
        move || {
            let mut h = 0;
            arsock_server_accept(server, -1, &mut h)
        },
        server,
    );
}

#[test]
fn close_wakes_a_send_blocked_on_a_full_queue() {
    let (_server, client, _accepted) = pair();
    ok(arsock_client_set_send_queue_limit(client, 64 * 1024));
    // The peer never reads: fill socket buffers and queue until a send blocks.
    close_while_blocked(
        move || {
            let chunk = vec![7u8; 64 * 1024];
            loop {
                let st = arsock_client_send_msg(client, chunk.as_ptr(), chunk.len());
                if st != ARSOCK_OK {
                    return st;
                }
            }
        },
        client,
    );
}

#[test]
fn send_and_recv_on_one_connection_from_two_threads_at_once() {
    let (_server, client, accepted) = pair();
    const N: u32 = 20_000;
    // Echo on the accepted side.
    let echo = thread::spawn(move || {
        for _ in 0..N {
            let m = recv_msg(accepted, 64);
            send_msg(accepted, &m);
        }
    });
    let sender = thread::spawn(move || {
        for i in 0..N {
            send_msg(client, &i.to_le_bytes());
        }
    });
    let receiver = thread::spawn(move || {
        for i in 0..N {
            assert_eq!(recv_msg(client, 64), i.to_le_bytes());
        }
    });
    within(Duration::from_secs(60), move || {
        sender.join().unwrap();
        receiver.join().unwrap();
        echo.join().unwrap();
    });
}

#[test]
fn concurrent_senders_each_deliver_whole_messages() {
    let (_server, client, accepted) = pair();
    const THREADS: usize = 4;
    const PER: usize = 2_000;
    let barrier = Arc::new(Barrier::new(THREADS));
    let senders: Vec<_> = (0..THREADS)
        .map(|t| {
            let b = barrier.clone();
            thread::spawn(move || {
                b.wait();
                for i in 0..PER {
                    let body = pattern((t * PER + i) as u64, 1 + (i % 300));
                    let mut m = vec![t as u8];
                    m.extend_from_slice(&(i as u32).to_le_bytes());
                    m.extend_from_slice(&body);
                    send_msg(client, &m);
                }
            })
        })
        .collect();
    let mut next = [0u32; THREADS];
    for _ in 0..THREADS * PER {
        let m = recv_msg(accepted, 512);
        let t = m[0] as usize;
        let i = u32::from_le_bytes([m[1], m[2], m[3], m[4]]);
        assert_eq!(i, next[t], "thread {t}'s messages out of order");
        assert_eq!(
            &m[5..],
            pattern((t * PER + i as usize) as u64, 1 + (i as usize % 300))
        );
        next[t] += 1;
    }
    for s in senders {
        s.join().unwrap();
    }
}

#[test]
fn many_threads_opening_using_and_closing_handles() {
    let threads: Vec<_> = (0..8)
        .map(|t| {
            thread::spawn(move || {
                for i in 0..25 {
                    let (server, client, accepted) = pair();
                    let m = [t as u8, i as u8];
                    send_msg(client, &m);
                    assert_eq!(recv_msg(accepted, 4), m);
                    // Close in varying orders, and close the same handle from a racing thread.
                    let racer = thread::spawn(move || arsock_close(client));
                    let mine = arsock_close(client);
                    let theirs = racer.join().unwrap();
                    assert!(
                        (mine == ARSOCK_OK) != (theirs == ARSOCK_OK),
                        "exactly one close succeeds: {mine:?} {theirs:?}"
                    );
                    ok(arsock_close(server));
                    ok(arsock_close(accepted));
                }
            })
        })
        .collect();
    within(Duration::from_secs(60), move || {
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn closing_a_handle_releases_its_socket() {
    // The peer sees end-of-stream promptly after close, so the socket really was shut.
    let (_server, client, accepted) = pair();
    ok(arsock_close(client));
    let mut buf = [0u8; 4];
    let mut n = 0;
    let st = arsock_client_recv(accepted, buf.as_mut_ptr(), 4, 5000, &mut n);
    assert_eq!(st, ARSOCK_ERR_CLOSED);
}

#[test]
fn a_handle_closed_by_another_thread_is_invalid_here_even_after_recent_use() {
    let (_server, client, accepted) = pair();
    send_msg(client, b"warm"); // this thread has just used the handle
    assert_eq!(recv_msg(accepted, 8), b"warm");
    thread::spawn(move || ok(arsock_close(client)))
        .join()
        .unwrap();
    assert_eq!(
        arsock_client_send_msg(client, b"x".as_ptr(), 1),
        ARSOCK_ERR_INVALID_HANDLE
    );
    // And the socket really went away: the peer sees the end of the stream.
    let (st, _) = recv_msg_status(accepted, 8, 5000);
    assert_eq!(st, ARSOCK_ERR_CLOSED);
}
