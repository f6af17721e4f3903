//! Misuse through the C API: NULLs, bad strings, bad values, dead and wrong-kind handles.
//! Every case must be a clear status (and message), never a crash, and out-params must stay
//! untouched on failure.

mod common;
use common::*;
use std::ptr::{null, null_mut};

const SENTINEL: u64 = 0xDEAD_BEEF;

#[test]
fn null_pointers_are_invalid_arguments_and_out_params_stay_untouched() {
    let (server, client, _accepted) = pair();
    let host = cstr("127.0.0.1");
    let mut h = SENTINEL;
    let mut n: usize = 77;
    let mut buf = [0u8; 8];
    let cases: Vec<(&str, arsock_status)> = vec![
        ("bind host", arsock_server_bind(null(), 0, &mut h)),
        ("bind out", arsock_server_bind(host.as_ptr(), 0, null_mut())),
        ("accept out", arsock_server_accept(server, 0, null_mut())),
        (
            "local_port out",
            arsock_server_local_port(server, null_mut()),
        ),
        (
            "connect host",
            arsock_client_connect(null(), 1, 100, &mut h),
        ),
        (
            "connect out",
            arsock_client_connect(host.as_ptr(), 1, 100, null_mut()),
        ),
        ("send data", arsock_client_send(client, null(), 3)),
        (
            "recv buf",
            arsock_client_recv(client, null_mut(), 8, 0, &mut n),
        ),
        (
            "recv out",
            arsock_client_recv(client, buf.as_mut_ptr(), 8, 0, null_mut()),
        ),
        ("send_msg data", arsock_client_send_msg(client, null(), 1)),
        ("send_msgs msgs", arsock_client_send_msgs(client, null(), 2)),
        (
            "recv_msg buf",
            arsock_client_recv_msg(client, null_mut(), 8, 0, &mut n),
        ),
        (
            "recv_msg out",
            arsock_client_recv_msg(client, buf.as_mut_ptr(), 8, 0, null_mut()),
        ),
        (
            "queue_len out",
            arsock_client_send_queue_len(client, null_mut()),
        ),
    ];
    for (what, st) in cases {
        assert_eq!(st, ARSOCK_ERR_INVALID_ARGUMENT, "{what}");
    }
    assert_eq!((h, n), (SENTINEL, 77));
    assert!(last_error().contains("NULL"), "{}", last_error());
}

#[test]
fn null_with_zero_length_is_an_empty_send() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_send(client, null(), 0));
    send_raw(client, b"x");
    assert_eq!(recv_raw_exact(accepted, 1), b"x");
}

#[test]
fn null_with_zero_count_sends_no_messages() {
    let (_server, client, accepted) = pair();
    ok(arsock_client_send_msgs(client, null(), 0));
    send_msg(client, b"only");
    assert_eq!(recv_msg(accepted, 16), b"only");
}

#[test]
fn bad_utf8_hosts_are_invalid_arguments() {
    let bad = [0xC3u8, 0x28, 0];
    let mut h = SENTINEL;
    assert_eq!(
        arsock_server_bind(bad.as_ptr().cast(), 0, &mut h),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_connect(bad.as_ptr().cast(), 1, 10, &mut h),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("UTF-8"));
    assert_eq!(h, SENTINEL);
}

#[test]
fn zero_capacity_raw_recv_and_bad_timeouts_are_invalid_arguments() {
    let (server, client, _accepted) = pair();
    let mut buf = [0u8; 4];
    let mut n = 5;
    let mut h = SENTINEL;
    assert_eq!(
        arsock_client_recv(client, buf.as_mut_ptr(), 0, 0, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv(client, buf.as_mut_ptr(), 4, -2, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_recv_msg(client, buf.as_mut_ptr(), 4, -5, &mut n),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_server_accept(server, i32::MIN, &mut h),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_connect(cstr("127.0.0.1").as_ptr(), 1, -3, &mut h),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_set_send_timeout(client, -9),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_set_frame_timeout(client, 0),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_server_listen(server, -1),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(
        arsock_client_set_max_message(client, u32::MAX as usize + 1),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!((n, h), (5, SENTINEL));
}

#[test]
fn zero_never_issued_and_forged_handles_are_invalid() {
    let (server, client, _accepted) = pair();
    let mut n = 0;
    let mut buf = [0u8; 4];
    for h in [
        0,
        1,
        u64::MAX,
        client ^ (1 << 40),
        client + 1000,
        server.wrapping_add(1 << 32),
    ] {
        assert_eq!(
            arsock_client_send(h, buf.as_ptr(), 1),
            ARSOCK_ERR_INVALID_HANDLE,
            "{h:#x}"
        );
        assert_eq!(
            arsock_client_recv(h, buf.as_mut_ptr(), 4, 0, &mut n),
            ARSOCK_ERR_INVALID_HANDLE
        );
        assert_eq!(arsock_server_listen(h, 0), ARSOCK_ERR_INVALID_HANDLE);
        assert_eq!(arsock_close(h), ARSOCK_ERR_INVALID_HANDLE);
    }
    assert!(last_error().contains("not open"));
}

#[test]
fn wrong_kind_handles_are_invalid_and_stay_open() {
    let (server, client, accepted) = pair();
    let mut h = SENTINEL;
    let mut port = 0;
    let buf = [1u8; 4];
    assert_eq!(
        arsock_server_accept(client, 0, &mut h),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(
        arsock_server_local_port(accepted, &mut port),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert!(last_error().contains("is a client"), "{}", last_error());
    assert_eq!(
        arsock_client_send(server, buf.as_ptr(), 4),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(
        arsock_client_send_msg(server, buf.as_ptr(), 4),
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert!(last_error().contains("is a server"), "{}", last_error());
    assert_eq!(h, SENTINEL);
    // Both still work.
    ok(arsock_server_local_port(server, &mut port));
    send_raw(client, b"ok");
    assert_eq!(recv_raw_exact(accepted, 2), b"ok");
}

#[test]
fn closed_handles_are_invalid_and_double_close_is_an_error_not_a_crash() {
    let (server, client, accepted) = pair();
    ok(arsock_close(client));
    assert_eq!(arsock_close(client), ARSOCK_ERR_INVALID_HANDLE);
    assert_eq!(
        arsock_client_send(client, b"x".as_ptr(), 1),
        ARSOCK_ERR_INVALID_HANDLE
    );
    ok(arsock_close(server));
    assert_eq!(arsock_close(server), ARSOCK_ERR_INVALID_HANDLE);
    let mut h = 0;
    assert_eq!(
        arsock_server_accept(server, 0, &mut h),
        ARSOCK_ERR_INVALID_HANDLE
    );
    ok(arsock_close(accepted));
}

#[test]
fn handle_values_are_never_reused() {
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        let (server, _port) = listen();
        assert!(seen.insert(server), "handle {server:#x} issued twice");
        ok(arsock_close(server));
        assert_eq!(arsock_server_listen(server, 0), ARSOCK_ERR_INVALID_HANDLE);
    }
}

#[test]
fn accept_before_listen_and_listen_twice_are_state_errors() {
    let mut server = 0;
    ok(arsock_server_bind(
        cstr("127.0.0.1").as_ptr(),
        0,
        &mut server,
    ));
    let mut h = SENTINEL;
    assert_eq!(arsock_server_accept(server, 0, &mut h), ARSOCK_ERR_STATE);
    assert!(last_error().contains("before listen"));
    ok(arsock_server_listen(server, 4));
    assert_eq!(arsock_server_listen(server, 4), ARSOCK_ERR_STATE);
    assert_eq!(h, SENTINEL);
    ok(arsock_close(server));
}

#[test]
fn operations_after_the_peer_vanished_are_closed_not_crashes() {
    let (_server, client, accepted) = pair();
    ok(arsock_close(accepted));
    let mut last = ARSOCK_OK;
    // The first sends may still be accepted by the OS; once the reset arrives they fail.
    for _ in 0..200 {
        last = arsock_client_send(client, [0u8; 1024].as_ptr(), 1024);
        if last != ARSOCK_OK {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(last, ARSOCK_ERR_CLOSED, "{}", last_error());
}
