//! The poller's contract (issue 9) through the C functions: level-triggered readiness,
//! fairness beyond `cap`, close while waiting, one poller per handle, server and client
//! handles, raw and message mode, argument checks.

mod common;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

const WATCHDOG: Duration = Duration::from_secs(20);

fn poller() -> arsock_handle {
    let mut p = 0;
    ok(arsock_poller_new(&mut p));
    p
}

/// One wait; returns (status, events) with the events sorted by handle.
fn wait(
    p: arsock_handle,
    cap: usize,
    timeout_ms: i32,
) -> (arsock_status, Vec<(arsock_handle, u32)>) {
    let mut out = vec![arsock_poll_event::default(); cap];
    let mut n = usize::MAX;
    let st = arsock_poller_wait(p, out.as_mut_ptr(), cap, timeout_ms, &mut n);
    if st != ARSOCK_OK {
        assert_eq!(n, usize::MAX, "a failed wait must leave *out_n untouched");
        return (st, Vec::new());
    }
    assert!(n >= 1 && n <= cap, "n = {n}");
    let mut evs: Vec<_> = out[..n].iter().map(|e| (e.handle, e.events)).collect();
    assert!(out[..n].iter().all(|e| e.reserved == 0));
    evs.sort();
    (st, evs)
}

fn wait_ok(p: arsock_handle, cap: usize) -> Vec<(arsock_handle, u32)> {
    let (st, evs) = wait(p, cap, 5000);
    assert_eq!(st, ARSOCK_OK, "last error: {}", last_error());
    evs
}

fn message_mode(h: arsock_handle) {
    let (st, _) = recv_msg_status(h, 16, 0);
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
}

#[test]
fn a_message_is_reported_until_it_is_received_level_triggered() {
    let (_s, client, accepted) = pair();
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    assert_eq!(wait(p, 8, 0).0, ARSOCK_ERR_TIMEOUT);
    send_msg(client, b"pose");
    assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
    // Not received yet: reported again.
    assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_msg(accepted, 16), b"pose");
    assert_eq!(wait(p, 8, 30).0, ARSOCK_ERR_TIMEOUT);
    // Two messages: reported until both are received.
    send_msg(client, b"a");
    send_msg(client, b"b");
    assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
    let first = recv_msg(accepted, 16);
    if first == b"a" {
        let (st, _) = recv_msg_status(accepted, 16, 0);
        if st == ARSOCK_ERR_TIMEOUT {
            // "b" not here yet: the poller reports it when it is.
            assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
            assert_eq!(recv_msg(accepted, 16), b"b");
        }
    }
    assert_eq!(wait(p, 8, 30).0, ARSOCK_ERR_TIMEOUT);
    ok(arsock_close(p));
}

#[test]
fn a_partial_message_or_an_extension_frame_alone_is_not_in() {
    let (server, port) = listen();
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted = accept(server);
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    // An extension frame (kind 0x80) with 3 bytes of payload.
    peer.write_all(&[0xA5, 1, 0x80, 0, 3, 0, 0, 0, 9, 9, 9])
        .unwrap();
    // Half of a message.
    let frame = arsock::frame::encode_frame(b"hello");
    peer.write_all(&frame[..6]).unwrap();
    assert_eq!(wait(p, 8, 200).0, ARSOCK_ERR_TIMEOUT);
    peer.write_all(&frame[6..]).unwrap();
    assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_msg(accepted, 16), b"hello");
    ok(arsock_close(p));
}

#[test]
fn raw_and_undetermined_mode_connections_report_in_on_any_byte() {
    let (_s, client, accepted) = pair();
    let (_s2, client2, accepted2) = pair();
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN)); // mode not fixed yet
    ok(arsock_poller_add(p, accepted2, ARSOCK_POLL_IN));
    send_raw(accepted2, b"x"); // fixes raw mode on accepted2
    assert_eq!(recv_raw_exact(client2, 1), b"x");
    assert_eq!(wait(p, 8, 0).0, ARSOCK_ERR_TIMEOUT);
    // One byte of what would be a frame header is enough while the mode is not fixed.
    ok(arsock_client_send(client, [0xA5u8].as_ptr(), 1));
    send_raw(client2, b"y");
    let mut evs = wait_ok(p, 8);
    if evs.len() < 2 {
        thread::sleep(Duration::from_millis(50));
        evs = wait_ok(p, 8);
    }
    let mut expect = vec![(accepted, ARSOCK_POLL_IN), (accepted2, ARSOCK_POLL_IN)];
    expect.sort();
    assert_eq!(evs, expect);
    assert_eq!(recv_raw_exact(accepted2, 1), b"y");
    assert_eq!(wait_ok(p, 8), vec![(accepted, ARSOCK_POLL_IN)]);
    ok(arsock_close(p));
}

#[test]
fn more_ready_handles_than_cap_rotate_so_none_starves() {
    let p = poller();
    let mut pairs = Vec::new();
    for i in 0..5u8 {
        let (s, client, accepted) = pair();
        message_mode(accepted);
        ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
        send_msg(client, &[i]);
        pairs.push((s, client, accepted));
    }
    let all: Vec<_> = pairs.iter().map(|t| t.2).collect();
    // Wait until all five are ready (arrival is asynchronous).
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        for (h, ev) in wait_ok(p, 2) {
            assert_eq!(ev, ARSOCK_POLL_IN);
            seen.insert(h);
        }
        if seen.len() == 5 {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        5,
        "every ready handle is reported within a few waits"
    );
    // Now all are ready: with cap 2, three consecutive waits cover all five.
    let mut covered = std::collections::BTreeSet::new();
    for _ in 0..3 {
        let evs = wait_ok(p, 2);
        assert_eq!(evs.len(), 2);
        covered.extend(evs.into_iter().map(|e| e.0));
    }
    assert_eq!(covered.into_iter().collect::<Vec<_>>().len(), 5, "{all:?}");
    ok(arsock_close(p));
}

#[test]
fn closing_the_poller_wakes_a_blocked_wait_with_closed() {
    let p = poller();
    let (_s, _client, accepted) = pair();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    let waiter = thread::spawn(move || wait(p, 4, -1).0);
    thread::sleep(Duration::from_millis(100));
    ok(arsock_close(p));
    let st = within(WATCHDOG, move || waiter.join().unwrap());
    assert_eq!(st, ARSOCK_ERR_CLOSED);
    // The handle left the closed poller: it can join another.
    let p2 = poller();
    ok(arsock_poller_add(p2, accepted, ARSOCK_POLL_IN));
    ok(arsock_close(p2));
}

#[test]
fn a_handle_is_in_one_poller_and_added_once() {
    let (server, _client, accepted) = pair();
    let p = poller();
    let q = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    assert_eq!(
        arsock_poller_add(p, accepted, ARSOCK_POLL_IN),
        ARSOCK_ERR_STATE
    );
    assert_eq!(
        arsock_poller_add(q, accepted, ARSOCK_POLL_IN),
        ARSOCK_ERR_STATE
    );
    ok(arsock_poller_remove(p, accepted));
    assert_eq!(arsock_poller_remove(p, accepted), ARSOCK_ERR_STATE);
    assert_eq!(arsock_poller_modify(p, accepted, 0), ARSOCK_ERR_STATE);
    ok(arsock_poller_add(q, accepted, ARSOCK_POLL_IN));
    ok(arsock_poller_add(p, server, ARSOCK_POLL_IN));
    assert_eq!(
        arsock_poller_add(p, p, ARSOCK_POLL_IN),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(
        arsock_poller_add(p, 0, ARSOCK_POLL_IN),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(
        arsock_poller_add(accepted, server, ARSOCK_POLL_IN),
        ARSOCK_ERR_INVALID_HANDLE
    );
    ok(arsock_close(p));
    ok(arsock_close(q));
}

#[test]
fn unknown_bits_and_cap_zero_are_invalid_arguments() {
    let (_s, _client, accepted) = pair();
    let p = poller();
    assert_eq!(
        arsock_poller_add(p, accepted, 8),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_poller_add(p, accepted, 0x100 | ARSOCK_POLL_IN),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    ok(arsock_poller_add(
        p,
        accepted,
        ARSOCK_POLL_IN | ARSOCK_POLL_CLOSED,
    ));
    assert_eq!(
        arsock_poller_modify(p, accepted, 16),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    let mut out = [arsock_poll_event::default(); 1];
    let mut n = 77usize;
    assert_eq!(
        arsock_poller_wait(p, out.as_mut_ptr(), 0, 0, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_poller_wait(p, std::ptr::null_mut(), 1, 0, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_poller_wait(p, out.as_mut_ptr(), 1, -2, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(n, 77);
    assert_eq!(
        arsock_poller_new(std::ptr::null_mut()),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    ok(arsock_close(p));
    assert_eq!(
        arsock_poller_wait(p, out.as_mut_ptr(), 1, 0, &mut n),
        ARSOCK_ERR_INVALID_HANDLE
    );
}

#[test]
fn mask_zero_reports_only_closed_and_closed_waits_for_unread_messages() {
    let (_s, client, accepted) = pair();
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, 0));
    send_msg(client, b"last words");
    assert_eq!(wait(p, 4, 200).0, ARSOCK_ERR_TIMEOUT, "mask 0: no IN");
    ok(arsock_client_send_msg(client, b"!".as_ptr(), 1));
    ok(arsock_close(client));
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_CLOSED)]);
    // With IN watched, CLOSED is held back while whole messages remain.
    ok(arsock_poller_modify(p, accepted, ARSOCK_POLL_IN));
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_msg(accepted, 32), b"last words");
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_msg(accepted, 32), b"!");
    assert_eq!(
        wait_ok(p, 4),
        vec![(accepted, ARSOCK_POLL_IN | ARSOCK_POLL_CLOSED)]
    );
    assert_eq!(recv_msg_status(accepted, 32, 0).0, ARSOCK_ERR_CLOSED);
    ok(arsock_close(p));
}

#[test]
fn a_reset_or_a_protocol_error_is_closed() {
    let (server, port) = listen();
    let mut peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted = accept(server);
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    peer.write_all(b"GET / HTTP/1.1\r\n").unwrap();
    assert_eq!(
        wait_ok(p, 4),
        vec![(accepted, ARSOCK_POLL_IN | ARSOCK_POLL_CLOSED)]
    );
    assert_eq!(recv_msg_status(accepted, 32, 0).0, ARSOCK_ERR_PROTOCOL);
    ok(arsock_close(p));
}

#[test]
fn a_raw_peer_closing_is_in_then_closed() {
    let (_s, client, accepted) = pair();
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    send_raw(client, b"zz");
    ok(arsock_close(client));
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_raw_exact(accepted, 2), b"zz");
    assert_eq!(
        wait_ok(p, 4),
        vec![(accepted, ARSOCK_POLL_IN | ARSOCK_POLL_CLOSED)]
    );
    ok(arsock_close(p));
}

#[test]
fn a_server_is_in_while_a_connection_waits_to_be_accepted() {
    let (server, port) = listen();
    let p = poller();
    ok(arsock_poller_add(
        p,
        server,
        ARSOCK_POLL_IN | ARSOCK_POLL_OUT,
    ));
    assert_eq!(wait(p, 4, 0).0, ARSOCK_ERR_TIMEOUT);
    let client = connect("127.0.0.1", port);
    assert_eq!(wait_ok(p, 4), vec![(server, ARSOCK_POLL_IN)]);
    assert_eq!(
        wait_ok(p, 4),
        vec![(server, ARSOCK_POLL_IN)],
        "level-triggered"
    );
    let accepted = accept(server);
    assert_eq!(wait(p, 4, 50).0, ARSOCK_ERR_TIMEOUT);
    ok(arsock_close(client));
    ok(arsock_close(accepted));
    ok(arsock_close(p));
}

#[test]
fn out_is_reported_while_the_send_queue_is_below_its_limit() {
    let (_s, client, _accepted) = pair();
    let p = poller();
    ok(arsock_poller_add(p, client, ARSOCK_POLL_OUT));
    assert_eq!(wait_ok(p, 4), vec![(client, ARSOCK_POLL_OUT)]);
    // Fill the queue (the peer does not read): OUT stops.
    ok(arsock_client_set_send_timeout(client, 0));
    // First give the kernel more than its buffers can ever hold (loopback buffers grow to tens
    // of MiB on some machines), so that what stays queued cannot drain while we look.
    ok(arsock_client_set_send_queue_limit(client, 128 << 20));
    let big = vec![7u8; 1 << 20];
    for _ in 0..64 {
        ok(arsock_client_send_msg(client, big.as_ptr(), big.len()));
    }
    ok(arsock_client_set_send_queue_limit(client, 64 * 1024));
    let chunk = vec![7u8; 16 * 1024];
    // The I/O thread keeps writing the queue while the OS takes more (its buffers grow for a
    // while): fill up again until the queue stays at its limit.
    let mut full_and_quiet = false;
    for _ in 0..200 {
        while arsock_client_send_msg(client, chunk.as_ptr(), chunk.len()) == ARSOCK_OK {}
        // Top it up to the limit with small messages.
        while arsock_client_send_msg(client, chunk.as_ptr(), 1) == ARSOCK_OK {}
        let mut queued = 0;
        ok(arsock_client_send_queue_len(client, &mut queued));
        assert!(queued >= 64 * 1024 - 9, "{queued}");
        if wait(p, 4, 20).0 == ARSOCK_ERR_TIMEOUT {
            full_and_quiet = true;
            break;
        }
    }
    assert!(full_and_quiet, "a full queue never stopped reporting OUT");
    ok(arsock_close(p));
}

#[test]
fn a_wait_wakes_on_another_threads_modify_and_on_a_new_message() {
    let (_s, client, accepted) = pair();
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, client, 0));
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    let waiter = thread::spawn(move || wait(p, 4, -1));
    thread::sleep(Duration::from_millis(100));
    ok(arsock_poller_modify(p, client, ARSOCK_POLL_OUT));
    let (st, evs) = within(WATCHDOG, move || waiter.join().unwrap());
    assert_eq!(st, ARSOCK_OK);
    assert_eq!(evs, vec![(client, ARSOCK_POLL_OUT)]);
    ok(arsock_poller_modify(p, client, 0));
    let waiter = thread::spawn(move || wait(p, 4, -1));
    thread::sleep(Duration::from_millis(100));
    send_msg(client, b"wake");
    let (st, evs) = within(WATCHDOG, move || waiter.join().unwrap());
    assert_eq!(st, ARSOCK_OK);
    assert_eq!(evs, vec![(accepted, ARSOCK_POLL_IN)]);
    ok(arsock_close(p));
}

#[test]
fn messages_left_buffered_by_a_receive_outside_the_poller_are_reported() {
    let (_s, client, accepted) = pair();
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    let msgs = [
        arsock_buf {
            data: b"one".as_ptr(),
            len: 3,
        },
        arsock_buf {
            data: b"two".as_ptr(),
            len: 3,
        },
    ];
    ok(arsock_client_send_msgs(client, msgs.as_ptr(), 2));
    // Received without the poller: both messages arrive in one read, one is taken.
    assert_eq!(recv_msg(accepted, 8), b"one");
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_IN)]);
    assert_eq!(recv_msg(accepted, 8), b"two");
    assert_eq!(wait(p, 4, 30).0, ARSOCK_ERR_TIMEOUT);
    ok(arsock_close(p));
}

#[test]
fn closing_a_handle_removes_it_from_its_poller() {
    let (_s, client, accepted) = pair();
    message_mode(accepted);
    let p = poller();
    ok(arsock_poller_add(p, accepted, ARSOCK_POLL_IN));
    send_msg(client, b"x");
    assert_eq!(wait_ok(p, 4), vec![(accepted, ARSOCK_POLL_IN)]);
    ok(arsock_close(accepted));
    assert_eq!(wait(p, 4, 50).0, ARSOCK_ERR_TIMEOUT);
    assert_eq!(
        arsock_poller_modify(p, accepted, ARSOCK_POLL_IN),
        ARSOCK_ERR_STATE
    );
    ok(arsock_close(p));
}
