//! The v0.1 contract through the C functions: bind/listen/accept/connect, raw bytes,
//! timeouts, address families, statuses and versions.

mod common;
use common::*;
use std::ffi::CStr;
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn raw_round_trip_both_directions_on_ipv4() {
    let (server, client, accepted) = pair();
    send_raw(client, b"device update: pose 1 2 3");
    assert_eq!(recv_raw_exact(accepted, 25), b"device update: pose 1 2 3");
    send_raw(accepted, b"ar content: anchor 42");
    assert_eq!(recv_raw_exact(client, 21), b"ar content: anchor 42");
    for h in [client, accepted, server] {
        ok(arsock_close(h));
    }
}

#[test]
fn ipv6_loopback_and_localhost_names_work() {
    let (server, port) = listen_on("::1");
    let client = connect("::1", port);
    let accepted = accept(server);
    send_raw(client, b"v6");
    assert_eq!(recv_raw_exact(accepted, 2), b"v6");
    let bracketed = connect("[::1]", port);
    ok(arsock_close(bracketed));

    let (server4, port4) = listen_on("127.0.0.1");
    // "localhost" may resolve to ::1 first; connect tries every address in turn.
    let by_name = connect("localhost", port4);
    let accepted4 = accept(server4);
    send_raw(by_name, b"name");
    assert_eq!(recv_raw_exact(accepted4, 4), b"name");
    for h in [client, accepted, server, by_name, accepted4, server4] {
        ok(arsock_close(h));
    }
}

#[test]
fn server_bound_by_name_accepts() {
    let (server, port) = listen_on("localhost");
    let mut client = 0;
    ok(arsock_client_connect(
        cstr("localhost").as_ptr(),
        port,
        5000,
        &mut client,
    ));
    let accepted = accept(server);
    send_raw(accepted, b"hi");
    assert_eq!(recv_raw_exact(client, 2), b"hi");
}

#[test]
fn tcp_nodelay_is_on_for_connected_and_accepted_sockets() {
    let server = arsock::Server::bind("127.0.0.1", 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let c = arsock::Connection::connect("127.0.0.1", port, arsock::Timeout::Forever).unwrap();
    let a = server.accept(arsock::Timeout::Forever).unwrap();
    assert!(c.nodelay().unwrap());
    assert!(a.nodelay().unwrap());
}

#[test]
fn recv_returns_closed_only_after_all_data_is_read() {
    let (_server, client, accepted) = pair();
    send_raw(client, b"last words");
    ok(arsock_close(client));
    assert_eq!(recv_raw_exact(accepted, 10), b"last words");
    let mut buf = [0u8; 16];
    let mut n = 0;
    let st = arsock_client_recv(accepted, buf.as_mut_ptr(), buf.len(), 5000, &mut n);
    assert_eq!(st, ARSOCK_ERR_CLOSED, "{}", last_error());
    // And it keeps saying so.
    let st = arsock_client_recv(accepted, buf.as_mut_ptr(), buf.len(), 0, &mut n);
    assert_eq!(st, ARSOCK_ERR_CLOSED);
}

#[test]
fn recv_timeouts_poll_wait_and_keep_the_handle_usable() {
    let (_server, client, accepted) = pair();
    let mut buf = [0u8; 8];
    let mut n = 0;
    assert_eq!(
        arsock_client_recv(accepted, buf.as_mut_ptr(), 8, 0, &mut n),
        ARSOCK_ERR_TIMEOUT
    );
    let t = Instant::now();
    assert_eq!(
        arsock_client_recv(accepted, buf.as_mut_ptr(), 8, 50, &mut n),
        ARSOCK_ERR_TIMEOUT
    );
    assert!(
        t.elapsed() >= Duration::from_millis(50),
        "returned before the timeout"
    );
    send_raw(client, b"after");
    assert_eq!(recv_raw_exact(accepted, 5), b"after");
}

#[test]
fn recv_forever_returns_when_data_arrives() {
    let (_server, client, accepted) = pair();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 8];
        let mut n = 0;
        let st = arsock_client_recv(accepted, buf.as_mut_ptr(), 8, -1, &mut n);
        (st, buf[..n].to_vec())
    });
    std::thread::sleep(Duration::from_millis(50));
    send_raw(client, b"late");
    let (st, got) = reader.join().unwrap();
    assert_eq!(st, ARSOCK_OK);
    assert_eq!(got, b"late");
}

#[test]
fn accept_timeouts_poll_and_wait() {
    let (server, _port) = listen();
    let mut c = 7;
    assert_eq!(arsock_server_accept(server, 0, &mut c), ARSOCK_ERR_TIMEOUT);
    assert_eq!(arsock_server_accept(server, 30, &mut c), ARSOCK_ERR_TIMEOUT);
    assert_eq!(c, 7, "out-param written on failure");
}

#[test]
fn accepted_and_connected_handles_are_distinct_and_nonzero() {
    let (server, client, accepted) = pair();
    assert!(server != 0 && client != 0 && accepted != 0);
    assert!(server != client && client != accepted && server != accepted);
}

#[test]
fn plain_std_sockets_interoperate_with_raw_mode() {
    // A textbook listener and an arsock client...
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = connect("127.0.0.1", port);
    let (mut plain, _) = listener.accept().unwrap();
    send_raw(client, b"to plain");
    let mut got = [0u8; 8];
    std::io::Read::read_exact(&mut plain, &mut got).unwrap();
    assert_eq!(&got, b"to plain");
    // ...and a textbook client to an arsock server.
    let (server, sport) = listen();
    let mut plain_client = TcpStream::connect(("127.0.0.1", sport)).unwrap();
    let accepted = accept(server);
    std::io::Write::write_all(&mut plain_client, b"from plain").unwrap();
    assert_eq!(recv_raw_exact(accepted, 10), b"from plain");
}

#[test]
fn connect_to_a_port_nobody_listens_on_is_refused() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut c = 0;
    let st = arsock_client_connect(cstr("127.0.0.1").as_ptr(), port, 2000, &mut c);
    assert_eq!(st, ARSOCK_ERR_CONNECTION_REFUSED, "{}", last_error());
    assert_eq!(c, 0);
    assert!(!last_error().is_empty());
}

#[test]
fn binding_a_port_in_use_reports_address_in_use() {
    let (_server, port) = listen();
    let mut other = 0;
    let st = arsock_server_bind(cstr("127.0.0.1").as_ptr(), port, &mut other);
    let st = if st == ARSOCK_OK {
        arsock_server_listen(other, 0)
    } else {
        st
    };
    assert_eq!(st, ARSOCK_ERR_ADDRESS_IN_USE, "{}", last_error());
}

#[test]
fn unparseable_or_unknown_hosts_are_address_errors() {
    let mut h = 0;
    for host in ["", "999.1.1.1.1", "no such host.invalid"] {
        let st = arsock_client_connect(cstr(host).as_ptr(), 80, 3000, &mut h);
        assert_eq!(st, ARSOCK_ERR_ADDRESS, "{host:?}: {}", last_error());
        let st = arsock_server_bind(cstr(host).as_ptr(), 0, &mut h);
        assert_eq!(st, ARSOCK_ERR_ADDRESS, "{host:?}: {}", last_error());
    }
    assert_eq!(h, 0);
}

#[test]
fn every_status_has_a_static_text_and_unknown_values_are_safe() {
    for v in [
        0, -1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12, -13, -14, -15,
    ] {
        let s = unsafe { CStr::from_ptr(arsock_status_str(v)) }
            .to_str()
            .unwrap();
        assert!(!s.is_empty() && s != "unknown status", "{v}");
        assert_eq!(arsock_status::from_i32(v).map(|s| s as i32), Some(v));
    }
    for v in [1, -16, 42, i32::MIN, i32::MAX] {
        let s = unsafe { CStr::from_ptr(arsock_status_str(v)) }
            .to_str()
            .unwrap();
        assert_eq!(s, "unknown status");
    }
}

#[test]
fn versions_are_reported() {
    let v = unsafe { CStr::from_ptr(arsock_version()) }
        .to_str()
        .unwrap();
    assert_eq!(v, env!("CARGO_PKG_VERSION"));
    assert_eq!(arsock_abi_version(), ARSOCK_ABI_VERSION);
}

#[test]
fn header_constants_match_the_rust_core() {
    assert_eq!(ARSOCK_DEFAULT_MAX_MESSAGE, arsock::DEFAULT_MAX_MESSAGE);
    assert_eq!(
        ARSOCK_DEFAULT_SEND_QUEUE_LIMIT,
        arsock::DEFAULT_SEND_QUEUE_LIMIT
    );
    assert_eq!(ARSOCK_CLOSE_LINGER_MS as u128, arsock::LINGER.as_millis());
    assert_eq!(
        ARSOCK_DEFAULT_FRAME_TIMEOUT_MS as u128,
        arsock::DEFAULT_FRAME_TIMEOUT.as_millis()
    );
}

#[test]
fn last_error_is_per_thread() {
    let mut h = 0;
    assert_eq!(arsock_server_listen(0, 0), ARSOCK_ERR_INVALID_HANDLE);
    let here = last_error();
    assert!(here.contains("not open"), "{here}");
    let there = std::thread::spawn(last_error).join().unwrap();
    assert_eq!(there, "");
    assert_eq!(
        arsock_server_bind(std::ptr::null(), 0, &mut h),
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("host is NULL"));
}

#[test]
fn connect_by_name_with_timeout_zero_is_a_timeout_every_time() {
    let (_server, port) = listen();
    for _ in 0..20 {
        let mut c = 0;
        let st = arsock_client_connect(cstr("localhost").as_ptr(), port, 0, &mut c);
        assert_eq!(st, ARSOCK_ERR_TIMEOUT, "{}", last_error());
        assert_eq!(c, 0);
    }
}
