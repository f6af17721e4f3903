//! Message mode: whole messages of every size, the size limit, buffer-too-small, vectored
//! sends, coalescing that keeps boundaries, mode mixing, and non-blocking sends.

mod common;
use common::*;
use std::ptr::null_mut;
use std::thread;
use std::time::Duration;

#[test]
fn round_trips_of_sizes_0_1_64_64k_and_16m() {
    let (_server, client, accepted) = pair();
    let sizes = [0usize, 1, 64, 64 * 1024, 16 * 1024 * 1024];
    let sender = thread::spawn(move || {
        for (i, &n) in sizes.iter().enumerate() {
            send_msg(client, &pattern(i as u64, n));
        }
        // And back the other way.
        for (i, &n) in sizes.iter().enumerate() {
            assert_eq!(
                recv_msg(client, n),
                pattern(100 + i as u64, n),
                "echo of {n} bytes"
            );
        }
    });
    for (i, &n) in sizes.iter().enumerate() {
        let got = recv_msg(accepted, 16 * 1024 * 1024);
        assert_eq!(got.len(), n);
        assert!(
            got == pattern(i as u64, n),
            "content of the {n}-byte message"
        );
    }
    for (i, &n) in sizes.iter().enumerate() {
        send_msg(accepted, &pattern(100 + i as u64, n));
    }
    within(Duration::from_secs(60), move || sender.join().unwrap());
}

#[test]
fn buffer_too_small_reports_the_size_and_keeps_the_message() {
    let (_server, client, accepted) = pair();
    send_msg(client, b"0123456789");
    send_msg(client, b"next");
    let mut small = [0u8; 4];
    let mut n = 0;
    let st = arsock_client_recv_msg(accepted, small.as_mut_ptr(), 4, 5000, &mut n);
    assert_eq!(st, ARSOCK_ERR_BUFFER_TOO_SMALL);
    assert_eq!(n, 10, "needed size is written on BUFFER_TOO_SMALL");
    // (NULL, 0) asks for the size the same way.
    let mut n2 = 0;
    assert_eq!(
        arsock_client_recv_msg(accepted, null_mut(), 0, 0, &mut n2),
        ARSOCK_ERR_BUFFER_TOO_SMALL
    );
    assert_eq!(n2, 10);
    assert_eq!(recv_msg(accepted, n), b"0123456789");
    assert_eq!(recv_msg(accepted, 4), b"next");
}

#[test]
fn empty_messages_arrive_as_empty_messages_even_with_no_buffer() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_send_msg(client, std::ptr::null(), 0));
    let mut n = 99;
    ok(arsock_client_recv_msg(
        accepted,
        null_mut(),
        0,
        5000,
        &mut n,
    ));
    assert_eq!(n, 0);
}

#[test]
fn sending_more_than_the_limit_is_rejected_and_nothing_is_sent() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_max_message(client, 100));
    let big = [1u8; 101];
    assert_eq!(
        arsock_client_send_msg(client, big.as_ptr(), 101),
        ARSOCK_ERR_MESSAGE_TOO_LARGE
    );
    assert!(last_error().contains("101"), "{}", last_error());
    send_msg(client, &big[..100]); // inclusive limit
    assert_eq!(recv_msg(accepted, 200).len(), 100);
    let (st, _) = recv_msg_status(accepted, 200, 50);
    assert_eq!(
        st, ARSOCK_ERR_TIMEOUT,
        "the rejected message must not have been sent"
    );
}

#[test]
fn receiving_more_than_the_limit_is_a_protocol_error_then_closed() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_max_message(accepted, 10));
    send_msg(client, &[5u8; 11]);
    let (st, _) = recv_msg_status(accepted, 64, 5000);
    assert_eq!(st, ARSOCK_ERR_PROTOCOL, "{}", last_error());
    let (st, _) = recv_msg_status(accepted, 64, 0);
    assert_eq!(st, ARSOCK_ERR_CLOSED);
    assert_eq!(
        arsock_client_send_msg(accepted, b"x".as_ptr(), 1),
        ARSOCK_ERR_CLOSED
    );
}

#[test]
fn vectored_send_delivers_every_message_in_order() {
    let (_server, client, accepted) = pair();
    let bodies: Vec<Vec<u8>> = (0..300)
        .map(|i| pattern(i, (i as usize * 37) % 700))
        .collect();
    let bufs: Vec<arsock_buf> = bodies
        .iter()
        .map(|b| arsock_buf {
            data: b.as_ptr(),
            len: b.len(),
        })
        .collect();
    ok(arsock_client_send_msgs(client, bufs.as_ptr(), bufs.len()));
    for b in &bodies {
        assert_eq!(&recv_msg(accepted, 1024), b);
    }
}

#[test]
fn vectored_send_is_all_or_nothing() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_max_message(client, 8));
    let ok_body = [1u8; 8];
    let too_big = [2u8; 9];
    let bufs = [
        arsock_buf {
            data: ok_body.as_ptr(),
            len: 8,
        },
        arsock_buf {
            data: too_big.as_ptr(),
            len: 9,
        },
    ];
    assert_eq!(
        arsock_client_send_msgs(client, bufs.as_ptr(), 2),
        ARSOCK_ERR_MESSAGE_TOO_LARGE
    );
    let bad = [
        arsock_buf {
            data: ok_body.as_ptr(),
            len: 8,
        },
        arsock_buf {
            data: std::ptr::null(),
            len: 3,
        },
    ];
    assert_eq!(
        arsock_client_send_msgs(client, bad.as_ptr(), 2),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("msgs[1]"), "{}", last_error());
    let (st, _) = recv_msg_status(accepted, 64, 50);
    assert_eq!(
        st, ARSOCK_ERR_TIMEOUT,
        "no part of a rejected batch may be sent"
    );
}

#[test]
fn boundaries_survive_coalescing_of_thousands_of_mixed_messages() {
    let (_server, client, accepted) = pair();
    const N: u64 = 20_000;
    let size = |i: u64| match i % 7 {
        0 => 0,
        1 => 1,
        2 => 64,
        3 => 7,
        4 => 1500,
        5 => 20_000, // crosses the large-write threshold
        _ => (i % 300) as usize,
    };
    let sender = thread::spawn(move || {
        for i in 0..N {
            send_msg(client, &pattern(i, size(i)));
            if i % 1000 == 0 {
                // a pause ends the burst: mixes direct writes and coalesced ones
                thread::sleep(Duration::from_millis(1));
            }
        }
    });
    for i in 0..N {
        let got = recv_msg(accepted, 32 * 1024);
        assert_eq!(got.len(), size(i), "message {i}");
        assert!(got == pattern(i, size(i)), "content of message {i}");
    }
    sender.join().unwrap();
}

#[test]
fn mixing_raw_and_message_calls_is_a_state_error() {
    let (_server, client, accepted) = pair();
    send_msg(client, b"m");
    assert_eq!(
        arsock_client_send(client, b"r".as_ptr(), 1),
        ARSOCK_ERR_STATE
    );
    assert!(last_error().contains("message mode"), "{}", last_error());
    let mut buf = [0u8; 4];
    let mut n = 0;
    ok(arsock_client_recv(
        accepted,
        buf.as_mut_ptr(),
        4,
        5000,
        &mut n,
    )); // raw on the other end is fine
    assert_eq!(
        arsock_client_recv_msg(accepted, buf.as_mut_ptr(), 4, 0, &mut n),
        ARSOCK_ERR_STATE
    );
    // The connection is still usable in its own mode.
    send_msg(client, b"again");
}

#[test]
fn nonblocking_send_queues_up_to_the_limit_then_would_block_without_partial_messages() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_send_timeout(client, 0));
    ok(arsock_client_set_send_queue_limit(client, 256 * 1024));
    // The peer does not read yet: sends fill the socket buffers, then the queue.
    let mut accepted_msgs = 0u64;
    let mut would_block = 0;
    for i in 0..100_000u64 {
        let m = pattern(i, 1000);
        match arsock_client_send_msg(client, m.as_ptr(), m.len()) {
            ARSOCK_OK => accepted_msgs += 1,
            ARSOCK_ERR_WOULD_BLOCK => {
                would_block += 1;
                break;
            }
            other => panic!("unexpected {other:?}: {}", last_error()),
        }
    }
    assert_eq!(would_block, 1, "the queue never filled");
    let mut queued = 0;
    ok(arsock_client_send_queue_len(client, &mut queued));
    assert!(queued > 0 && queued <= 256 * 1024, "queued {queued}");
    // The rejected message was not partly queued: exactly the accepted ones arrive, whole,
    // and the queue drains without any further call on the sending side.
    for i in 0..accepted_msgs {
        assert!(recv_msg(accepted, 2000) == pattern(i, 1000), "message {i}");
    }
    let (st, _) = recv_msg_status(accepted, 2000, 100);
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
}

#[test]
fn a_message_larger_than_the_queue_limit_is_accepted_into_an_empty_queue() {
    let (_server, client, accepted) = pair();
    const BIG: usize = 32 * 1024 * 1024; // more than the OS buffers take while the peer sleeps
    ok(arsock_client_set_max_message(client, BIG));
    ok(arsock_client_set_max_message(accepted, BIG));
    ok(arsock_client_set_send_timeout(client, 0));
    ok(arsock_client_set_send_queue_limit(client, 1024));
    let big = pattern(9, BIG);
    ok(arsock_client_send_msg(client, big.as_ptr(), big.len()));
    // Now the queue is not empty: another message past the limit is refused, not queued.
    assert_eq!(
        arsock_client_send_msg(client, b"x".as_ptr(), 1),
        ARSOCK_ERR_WOULD_BLOCK
    );
    assert!(recv_msg(accepted, big.len()) == big);
    let (st, _) = recv_msg_status(accepted, 16, 100);
    assert_eq!(
        st, ARSOCK_ERR_TIMEOUT,
        "the refused message must not arrive"
    );
}

#[test]
fn send_timeout_expires_with_nothing_of_the_message_queued() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_send_queue_limit(client, 64 * 1024));
    ok(arsock_client_set_send_timeout(client, 50));
    let mut sent = 0u64;
    loop {
        let m = pattern(sent, 4000);
        match arsock_client_send_msg(client, m.as_ptr(), m.len()) {
            ARSOCK_OK => sent += 1,
            ARSOCK_ERR_TIMEOUT => break,
            other => panic!("unexpected {other:?}: {}", last_error()),
        }
        assert!(sent < 100_000, "never timed out");
    }
    for i in 0..sent {
        assert!(recv_msg(accepted, 4096) == pattern(i, 4000), "message {i}");
    }
    let (st, _) = recv_msg_status(accepted, 4096, 100);
    assert_eq!(
        st, ARSOCK_ERR_TIMEOUT,
        "the timed-out message must not arrive"
    );
}

#[test]
fn queued_data_is_delivered_after_close_within_the_linger() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_send_timeout(client, 0));
    ok(arsock_client_set_send_queue_limit(client, 8 << 20));
    let mut sent = 0u64;
    while sent < 2000 {
        let m = pattern(sent, 2000);
        ok(arsock_client_send_msg(client, m.as_ptr(), m.len()));
        sent += 1;
    }
    let mut queued = 0;
    ok(arsock_client_send_queue_len(client, &mut queued));
    ok(arsock_close(client));
    for i in 0..sent {
        assert!(
            recv_msg(accepted, 4096) == pattern(i, 2000),
            "message {i} (queued at close: {queued})"
        );
    }
    let (st, _) = recv_msg_status(accepted, 4096, 5000);
    assert_eq!(st, ARSOCK_ERR_CLOSED);
}

#[test]
fn request_reply_round_trips_are_written_straight_through() {
    // A reply must not wait for coalescing: a 1000-step ping-pong finishes promptly. (The
    // bound only catches a reply stuck until some later flush; speed is in bench/.)
    let (_server, client, accepted) = pair();
    let echo = thread::spawn(move || {
        for _ in 0..1000 {
            let m = recv_msg(accepted, 64);
            send_msg(accepted, &m);
        }
    });
    within(Duration::from_secs(30), move || {
        for i in 0..1000u32 {
            send_msg(client, &i.to_le_bytes());
            assert_eq!(recv_msg(client, 64), i.to_le_bytes());
        }
    });
    echo.join().unwrap();
}
