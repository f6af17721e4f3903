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

fn recv_batch(
    h: arsock_handle,
    cap: usize,
    max: usize,
    timeout_ms: i32,
) -> (arsock_status, Vec<Vec<u8>>, Vec<arsock_buf>) {
    let mut buf = vec![0u8; cap];
    let mut msgs = vec![
        arsock_buf {
            data: std::ptr::null(),
            len: usize::MAX
        };
        max.max(1)
    ];
    let mut count = usize::MAX;
    let st = arsock_client_recv_msgs(
        h,
        buf.as_mut_ptr(),
        cap,
        msgs.as_mut_ptr(),
        max,
        timeout_ms,
        &mut count,
    );
    let mut got = Vec::new();
    if st == ARSOCK_OK {
        for m in &msgs[..count] {
            got.push(unsafe { std::slice::from_raw_parts(m.data, m.len) }.to_vec());
        }
    }
    (st, got, msgs)
}

#[test]
fn batch_receive_takes_every_whole_message_that_fits_and_leaves_the_rest_queued() {
    let (_server, client, accepted) = pair();
    let bodies: Vec<Vec<u8>> = (0..10).map(|i| pattern(i, 10 * i as usize)).collect();
    for b in &bodies {
        send_msg(client, b);
    }
    send_msg(client, b"sync");
    // Wait until everything has arrived: the "sync" message comes last.
    let mut all = Vec::new();
    while all.last().map(|m: &Vec<u8>| m.as_slice()) != Some(b"sync") {
        // Room for 3 messages at most: the rest stays queued, in order.
        let (st, got, _) = recv_batch(accepted, 1 << 16, 3, 5000);
        assert_eq!(st, ARSOCK_OK, "{}", last_error());
        assert!(!got.is_empty() && got.len() <= 3);
        all.extend(got);
    }
    assert_eq!(all.len(), 11);
    assert_eq!(&all[..10], &bodies[..]);
}

#[test]
fn batch_receive_stops_at_the_first_message_that_does_not_fit() {
    let (_server, client, accepted) = pair();
    send_msg(client, &[1u8; 40]);
    send_msg(client, &[2u8; 40]);
    send_msg(client, &[3u8; 10]);
    send_msg(client, b"end");
    let mut seen = Vec::new();
    while seen.last().map(|m: &Vec<u8>| m.as_slice()) != Some(b"end") {
        let (st, got, _) = recv_batch(accepted, 60, 16, 5000);
        assert_eq!(st, ARSOCK_OK, "{}", last_error());
        assert!(got.iter().map(Vec::len).sum::<usize>() <= 60);
        seen.extend(got);
    }
    assert_eq!(
        seen,
        vec![vec![1u8; 40], vec![2u8; 40], vec![3u8; 10], b"end".to_vec()]
    );
}

#[test]
fn batch_receive_reports_the_size_needed_when_the_first_message_is_too_big() {
    let (_server, client, accepted) = pair();
    send_msg(client, &[7u8; 100]);
    let (st, _, msgs) = recv_batch(accepted, 10, 4, 5000);
    assert_eq!(st, ARSOCK_ERR_BUFFER_TOO_SMALL);
    assert!(msgs[0].data.is_null());
    assert_eq!(msgs[0].len, 100);
    let (st, got, _) = recv_batch(accepted, 100, 4, 5000);
    assert_eq!(st, ARSOCK_OK);
    assert_eq!(got, vec![vec![7u8; 100]]);
}

#[test]
fn batch_receive_times_out_and_rejects_bad_arguments() {
    let (_server, _client, accepted) = pair();
    let (st, _, _) = recv_batch(accepted, 64, 4, 0);
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
    let (st, _, _) = recv_batch(accepted, 64, 4, 30);
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
    let mut buf = [0u8; 8];
    let mut msgs = [arsock_buf {
        data: std::ptr::null(),
        len: 0,
    }; 2];
    let mut count = 5;
    let bm = buf.as_mut_ptr();
    assert_eq!(
        arsock_client_recv_msgs(accepted, bm, 8, msgs.as_mut_ptr(), 0, 0, &mut count),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv_msgs(accepted, bm, 8, null_mut(), 2, 0, &mut count),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv_msgs(accepted, bm, 8, msgs.as_mut_ptr(), 2, 0, null_mut()),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv_msgs(accepted, null_mut(), 8, msgs.as_mut_ptr(), 2, 0, &mut count),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv_msgs(0, bm, 8, msgs.as_mut_ptr(), 2, 0, &mut count),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(count, 5);
}

#[test]
fn batch_receive_keeps_boundaries_of_a_coalesced_stream() {
    let (_server, client, accepted) = pair();
    const N: u64 = 20_000;
    let sender = thread::spawn(move || {
        for i in 0..N {
            send_msg(client, &pattern(i, (i % 97) as usize));
        }
    });
    let mut i = 0;
    while i < N {
        let (st, got, _) = recv_batch(accepted, 64 * 1024, 256, 10_000);
        assert_eq!(st, ARSOCK_OK, "{}", last_error());
        for m in got {
            assert!(m == pattern(i, (i % 97) as usize), "message {i}");
            i += 1;
        }
    }
    sender.join().unwrap();
}

#[test]
fn data_accepted_before_close_arrives_even_if_the_peer_sent_data_never_read_here() {
    // Closing a socket with unread input makes the OS reset the connection, which throws away
    // what it had not delivered yet; arsock must hold the socket until the data is through.
    use std::io::{Read, Write};
    let (server, port) = listen();
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let h = accept(server);
    peer.write_all(&[0xA5, 1, 1, 0, 92, 0, 0, 0]).unwrap();
    peer.write_all(&[1u8; 92]).unwrap(); // a message arsock never reads
    let payload = pattern(77, 16 * 1024 * 1024);
    send_msg(h, &payload);
    ok(arsock_close(h));
    thread::sleep(Duration::from_millis(200)); // the peer is slow to read
    peer.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match peer.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => {
                assert_eq!(
                    got.len(),
                    8 + payload.len(),
                    "connection failed ({e}) before all data arrived"
                );
                break;
            }
        }
    }
    assert_eq!(got.len(), 8 + payload.len());
    assert!(got[8..] == payload[..]);
}

#[test]
fn a_send_refused_by_validation_does_not_fix_the_connection_mode() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_max_message(client, 4));
    assert_eq!(
        arsock_client_send_msg(client, [0u8; 5].as_ptr(), 5),
        ARSOCK_ERR_MESSAGE_TOO_LARGE
    );
    send_raw(client, b"raw ok");
    assert_eq!(recv_raw_exact(accepted, 6), b"raw ok");
}

#[test]
fn batch_receive_of_empty_messages_into_no_buffer_points_at_the_callers_null() {
    let (_server, client, accepted) = pair();
    send_msg(client, b"");
    send_msg(client, b"");
    let mut msgs = [arsock_buf {
        data: 1 as *const u8,
        len: 9,
    }; 4];
    let mut count = 0;
    ok(arsock_client_recv_msgs(
        accepted,
        null_mut(),
        0,
        msgs.as_mut_ptr(),
        4,
        5000,
        &mut count,
    ));
    assert!(count >= 1);
    for m in &msgs[..count] {
        assert!(m.data.is_null() && m.len == 0);
    }
}

#[test]
fn a_large_message_arriving_in_pieces_survives_receive_timeouts_midway() {
    // A timeout in the middle of a large message must keep what arrived, so the next call
    // (with any buffer) carries on without loss.
    use std::io::Write;
    let (server, port) = listen();
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let h = accept(server);
    let payload = pattern(3, 300_000);
    let mut wire = vec![0xA5, 1, 1, 0];
    wire.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    wire.extend_from_slice(&payload);
    let pieces = [
        0..5000,
        5000..120_000,
        120_000..200_000,
        200_000..wire.len(),
    ];
    let mut buf = vec![0u8; 400_000];
    let mut n = 0;
    for (i, piece) in pieces.iter().enumerate() {
        peer.write_all(&wire[piece.clone()]).unwrap();
        if i + 1 < pieces.len() {
            // Alternate a big buffer (direct reads) and a small one (buffered path).
            let cap = if i % 2 == 0 { buf.len() } else { 1000 };
            let st = arsock_client_recv_msg(h, buf.as_mut_ptr(), cap, 50, &mut n);
            assert_eq!(st, ARSOCK_ERR_TIMEOUT, "piece {i}: {}", last_error());
        }
    }
    ok(arsock_client_recv_msg(
        h,
        buf.as_mut_ptr(),
        buf.len(),
        5000,
        &mut n,
    ));
    assert_eq!(n, payload.len());
    assert!(buf[..n] == payload[..]);
}

#[test]
fn a_receive_that_times_out_leaves_the_callers_buffer_untouched() {
    // A render loop keeps showing the last message from its buffer; a half-arrived large
    // message must not tear it.
    use std::io::Write;
    let (server, port) = listen();
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let h = accept(server);
    let mut wire = vec![0xA5, 1, 1, 0];
    wire.extend_from_slice(&100_000u32.to_le_bytes());
    wire.extend_from_slice(&pattern(8, 60_000)); // 60 KB of a 100 KB message
    peer.write_all(&wire).unwrap();
    let mut buf = vec![0xEEu8; 200_000];
    let mut n = 7;
    for timeout in [0, 50] {
        let st = arsock_client_recv_msg(h, buf.as_mut_ptr(), buf.len(), timeout, &mut n);
        assert_eq!(st, ARSOCK_ERR_TIMEOUT);
    }
    assert!(
        buf.iter().all(|&b| b == 0xEE),
        "the buffer was written by a failed call"
    );
    assert_eq!(n, 7);
}

#[test]
fn a_malformed_frame_after_good_ones_does_not_cost_the_good_ones_in_a_batch() {
    use std::io::Write;
    let (server, port) = listen();
    let mut peer = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let h = accept(server);
    let mut wire = arsock::frame::encode_frame(b"first");
    wire.extend_from_slice(&arsock::frame::encode_frame(b"second"));
    wire.extend_from_slice(&[0xAB; 8]);
    peer.write_all(&wire).unwrap();
    let mut got = Vec::new();
    loop {
        let (st, batch, _) = recv_batch(h, 1024, 16, 5000);
        if st != ARSOCK_OK {
            assert_eq!(st, ARSOCK_ERR_PROTOCOL, "{}", last_error());
            break;
        }
        got.extend(batch);
    }
    assert_eq!(got, vec![b"first".to_vec(), b"second".to_vec()]);
}
