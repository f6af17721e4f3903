//! Defects 1 and 2 of issue 9, each with the test that failed before the fix: a receive
//! honours its own timeout whatever other threads do; a closed server's port is free when
//! close returns. Close wakes every blocked call at once. (Fork: tests/fork.rs, a binary of
//! its own, since a fork copies the descriptors of tests running in parallel.)

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const WATCHDOG: Duration = Duration::from_secs(10);

#[test]
fn a_receive_with_a_timeout_returns_while_another_thread_blocks_in_a_receive() {
    let (_s, client, accepted) = pair();
    let blocked = thread::spawn(move || recv_msg_status(accepted, 64, -1).0);
    thread::sleep(Duration::from_millis(100)); // let it block inside the receive
    for timeout in [0, 50] {
        let (st, _) = within(WATCHDOG, move || recv_msg_status(accepted, 64, timeout));
        assert_eq!(st, ARSOCK_ERR_TIMEOUT, "timeout {timeout}");
    }
    // Raw mode too, on another pair.
    let (_s2, client2, accepted2) = pair();
    let blocked2 = thread::spawn(move || {
        let mut b = [0u8; 8];
        let mut n = 0;
        arsock_client_recv(accepted2, b.as_mut_ptr(), 8, -1, &mut n)
    });
    thread::sleep(Duration::from_millis(100));
    let st = within(WATCHDOG, move || {
        let mut b = [0u8; 8];
        let mut n = 0;
        arsock_client_recv(accepted2, b.as_mut_ptr(), 8, 20, &mut n)
    });
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
    // The blocked receives still get their data.
    send_msg(client, b"for the blocked one");
    assert_eq!(within(WATCHDOG, move || blocked.join().unwrap()), ARSOCK_OK);
    send_raw(client2, b"x");
    assert_eq!(
        within(WATCHDOG, move || blocked2.join().unwrap()),
        ARSOCK_OK
    );
}

#[test]
fn a_receive_waiting_for_another_receive_gets_the_next_message_in_time() {
    let (_s, client, accepted) = pair();
    let first = thread::spawn(move || recv_msg_status(accepted, 64, 5000));
    thread::sleep(Duration::from_millis(50));
    let second = thread::spawn(move || recv_msg_status(accepted, 64, 5000));
    thread::sleep(Duration::from_millis(50));
    send_msg(client, b"1");
    send_msg(client, b"2");
    let a = within(WATCHDOG, move || first.join().unwrap());
    let b = within(WATCHDOG, move || second.join().unwrap());
    assert_eq!((a.0, b.0), (ARSOCK_OK, ARSOCK_OK));
    let mut got = vec![a.1, b.1];
    got.sort();
    assert_eq!(got, vec![b"1".to_vec(), b"2".to_vec()]);
}

#[test]
fn a_closed_servers_port_is_free_when_close_returns_even_during_a_blocked_accept() {
    for _ in 0..20 {
        let (server, port) = listen();
        let acceptor = thread::spawn(move || {
            let mut c = 0;
            arsock_server_accept(server, -1, &mut c)
        });
        thread::sleep(Duration::from_millis(50)); // let it block in accept
        ok(arsock_close(server));
        // Nobody listens any more: a connect is refused, and the port binds again at once.
        let mut c = 0;
        let st = arsock_client_connect(cstr("127.0.0.1").as_ptr(), port, 1000, &mut c);
        assert_eq!(st, ARSOCK_ERR_CONNECTION_REFUSED);
        let mut again = 0;
        ok(arsock_server_bind(
            cstr("127.0.0.1").as_ptr(),
            port,
            &mut again,
        ));
        ok(arsock_server_listen(again, 0));
        let st = within(WATCHDOG, move || acceptor.join().unwrap());
        // INVALID_HANDLE only if the thread was so late that it started after the close.
        assert!(
            st == ARSOCK_ERR_CLOSED || st == ARSOCK_ERR_INVALID_HANDLE,
            "{st:?}"
        );
        ok(arsock_close(again));
    }
}

#[test]
fn close_wakes_a_blocked_accept_receive_and_send_at_once() {
    let (server, _port) = listen();
    let t0 = Instant::now();
    let acceptor = thread::spawn(move || {
        let mut c = 0;
        arsock_server_accept(server, -1, &mut c)
    });
    let (_s, _peer, accepted) = pair();
    let receiver = thread::spawn(move || recv_msg_status(accepted, 64, -1).0);
    // A sender blocked on a full queue (the peer never reads).
    let (_s2, client, _unread) = pair();
    ok(arsock_client_set_send_queue_limit(client, 1024));
    let filled = Arc::new(AtomicBool::new(false));
    let f2 = filled.clone();
    let sender = thread::spawn(move || {
        let chunk = vec![1u8; 64 * 1024];
        loop {
            f2.store(true, Ordering::SeqCst);
            let st = arsock_client_send_msg(client, chunk.as_ptr(), chunk.len());
            if st != ARSOCK_OK {
                return st;
            }
        }
    });
    thread::sleep(Duration::from_millis(300));
    assert!(filled.load(Ordering::SeqCst));
    ok(arsock_close(server));
    ok(arsock_close(accepted));
    ok(arsock_close(client));
    assert_eq!(
        within(WATCHDOG, move || acceptor.join().unwrap()),
        ARSOCK_ERR_CLOSED
    );
    assert_eq!(
        within(WATCHDOG, move || receiver.join().unwrap()),
        ARSOCK_ERR_CLOSED
    );
    let st = within(WATCHDOG, move || sender.join().unwrap());
    assert!(
        st == ARSOCK_ERR_CLOSED || st == ARSOCK_ERR_INVALID_HANDLE,
        "{st:?}"
    );
    assert!(t0.elapsed() < WATCHDOG);
}
