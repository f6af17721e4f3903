//! `arsock send` / `arsock recv` against each other, against plain std::net sockets and against
//! the arsock Rust API, on loopback. Every process is bounded by the watchdog in common/.

mod common;

use arsock::{Connection, Server, Timeout};
use common::{noise, run, Proc};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

const LOOPBACK: &str = "127.0.0.1";

#[test]
fn raw_bytes_from_send_reach_recv_unchanged_and_both_exit_zero() {
    let mut recv = Proc::spawn(&["recv", "--listen", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    let data = noise(3 << 20, 7);
    let mut send = Proc::spawn(&["send", &format!("{LOOPBACK}:{port}")]);
    let feeder = send.feed(data.clone());
    let sent = send.finish();
    feeder.join().unwrap();
    let got = recv.finish();
    assert!(sent.status.success(), "send: {}", sent.stderr);
    assert!(got.status.success(), "recv: {}", got.stderr);
    assert_eq!(got.stdout.len(), data.len());
    assert!(got.stdout == data, "received bytes differ from stdin");
}

#[test]
fn lines_sent_in_message_mode_come_out_as_the_same_lines() {
    let mut recv = Proc::spawn(&["recv", "--msg", "-l", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    let text = "pose 1\n\nanchor placed: ü\nlast line without newline";
    let mut send = Proc::spawn(&["send", "--msg", &format!("{LOOPBACK}:{port}")]);
    let feeder = send.feed(text.as_bytes().to_vec());
    let sent = send.finish();
    feeder.join().unwrap();
    let got = recv.finish();
    assert!(sent.status.success(), "send: {}", sent.stderr);
    assert!(got.status.success(), "recv: {}", got.stderr);
    assert_eq!(String::from_utf8(got.stdout).unwrap(), format!("{text}\n"));
}

#[test]
fn each_line_is_one_whole_message_for_an_arsock_server() {
    let server = Server::bind(LOOPBACK, 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let mut send = Proc::spawn(&["send", "--msg", &format!("{LOOPBACK}:{port}")]);
    let feeder = send.feed(b"first\nsecond message\n\nfourth\n".to_vec());
    let conn = server
        .accept(Timeout::After(Duration::from_secs(20)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while let Ok(n) = conn.recv_msg(&mut buf, Timeout::After(Duration::from_secs(20))) {
        got.push(String::from_utf8(buf[..n].to_vec()).unwrap());
    }
    feeder.join().unwrap();
    assert!(send.finish().status.success());
    assert_eq!(got, ["first", "second message", "", "fourth"]);
}

#[test]
fn send_prints_what_an_echo_server_sends_back() {
    let server = Server::bind(LOOPBACK, 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let echo = thread::spawn(move || {
        let conn = server
            .accept(Timeout::After(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 256];
        for _ in 0..2 {
            let n = conn
                .recv_msg(&mut buf, Timeout::After(Duration::from_secs(20)))
                .unwrap();
            let mut reply = b"echo: ".to_vec();
            reply.extend_from_slice(&buf[..n]);
            conn.send_msg(&reply).unwrap();
        }
        conn.close();
    });
    let mut send = Proc::spawn(&[
        "send",
        "--msg",
        "--wait-ms",
        "20000",
        &format!("{LOOPBACK}:{port}"),
    ]);
    let feeder = send.feed(b"a\nb\n".to_vec());
    let out = send.finish();
    feeder.join().unwrap();
    echo.join().unwrap();
    assert!(out.status.success(), "{}", out.stderr);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "echo: a\necho: b\n");
}

#[test]
fn recv_writes_what_a_plain_socket_sends_in_raw_and_message_mode() {
    let mut recv = Proc::spawn(&["recv", "-l", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    let data = noise(200_000, 3);
    let mut s = TcpStream::connect((LOOPBACK, port)).unwrap();
    s.write_all(&data).unwrap();
    drop(s);
    let got = recv.finish();
    assert!(got.status.success(), "{}", got.stderr);
    assert!(got.stdout == data);

    let mut recv = Proc::spawn(&["recv", "--msg", "-l", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    let mut s = TcpStream::connect((LOOPBACK, port)).unwrap();
    for m in [&b"hello"[..], b"", b"world"] {
        s.write_all(&arsock::frame::encode_frame(m)).unwrap();
    }
    drop(s);
    let got = recv.finish();
    assert!(got.status.success(), "{}", got.stderr);
    assert_eq!(got.stdout, b"hello\n\nworld\n");
}

#[test]
fn send_delivers_raw_stdin_to_a_plain_listener() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let data = noise(500_000, 11);
    let mut send = Proc::spawn(&["send", &format!("{LOOPBACK}:{port}")]);
    let feeder = send.feed(data.clone());
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    feeder.join().unwrap();
    assert!(send.finish().status.success());
    assert!(got == data);
}

#[test]
fn ipv6_loopback_works_with_brackets() {
    let Ok(probe) = TcpListener::bind("[::1]:0") else {
        eprintln!("no IPv6 loopback on this machine; nothing to check");
        return;
    };
    drop(probe);
    let mut recv = Proc::spawn(&["recv", "-l", "0", "--host", "::1"]);
    let port = recv.listening_port();
    let mut send = Proc::spawn(&["send", &format!("[::1]:{port}")]);
    let feeder = send.feed(b"over v6".to_vec());
    assert!(send.finish().status.success());
    feeder.join().unwrap();
    assert_eq!(recv.finish().stdout, b"over v6");
}

#[test]
fn a_refused_connection_is_reported_with_status_1() {
    // A port that was free a moment ago: nothing listens there.
    let port = TcpListener::bind((LOOPBACK, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for cmd in ["send", "recv"] {
        let out = run(&[cmd, &format!("{LOOPBACK}:{port}")]);
        assert_eq!(out.status.code(), Some(1), "{cmd}: {}", out.stderr);
        assert!(
            out.stderr.contains("connection refused"),
            "{cmd}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains(&format!("{LOOPBACK}:{port}")),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn bad_addresses_and_ports_are_usage_errors_with_status_2() {
    for (args, says) in [
        (&["send", "127.0.0.1"][..], "no port"),
        (&["send", "127.0.0.1:0"], "1-65535"),
        (&["recv", "127.0.0.1:65536"], "1-65535"),
        (&["send", "localhost:http"], "not a number"),
        (&["send", "::1:80"], "brackets"),
        (&["recv", "--listen", "70000"], "70000"),
        (&["send"], "HOST:PORT"),
        (
            &["send", "127.0.0.1:9", "--listen", "0"],
            "cannot be used with",
        ),
        (&["send", "--connect-timeout-ms", "0", "127.0.0.1:9"], "0"),
        (
            &["recv", "127.0.0.1:9", "--host", "127.0.0.1"],
            "needs --listen",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(says),
            "{args:?} should say {says:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn listening_on_a_port_in_use_fails_with_status_1() {
    let taken = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = run(&["recv", "-l", &port, "--host", LOOPBACK]);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("address in use"), "{}", out.stderr);
}

#[test]
fn a_line_longer_than_the_message_limit_is_refused_and_not_sent() {
    let server = Server::bind(LOOPBACK, 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let mut send = Proc::spawn(&[
        "send",
        "--msg",
        "--max-message",
        "8",
        &format!("{LOOPBACK}:{port}"),
    ]);
    let feeder = send.feed(b"12345678\n123456789\nnot sent\n".to_vec());
    let conn = server
        .accept(Timeout::After(Duration::from_secs(20)))
        .unwrap();
    let out = send.finish();
    feeder.join().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.contains("line 2") && out.stderr.contains("8 bytes"),
        "{}",
        out.stderr
    );
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while let Ok(n) = conn.recv_msg(&mut buf, Timeout::After(Duration::from_secs(20))) {
        got.push(buf[..n].to_vec());
    }
    assert_eq!(got, [b"12345678".to_vec()]);
}

#[test]
fn recv_reports_a_peer_that_breaks_the_message_framing() {
    let mut recv = Proc::spawn(&["recv", "--msg", "-l", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    let mut s = TcpStream::connect((LOOPBACK, port)).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let out = recv.finish();
    drop(s);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("protocol"), "{}", out.stderr);
}

#[test]
fn send_ends_cleanly_when_the_peer_closes_even_though_stdin_stays_open() {
    let server = Server::bind(LOOPBACK, 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let mut send = Proc::spawn(&["send", "--msg", &format!("{LOOPBACK}:{port}")]);
    let mut stdin = send.stdin.take().unwrap(); // kept open: stdin never ends
    stdin.write_all(b"bye\n").unwrap();
    let conn: Connection = server
        .accept(Timeout::After(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = conn
        .recv_msg(&mut buf, Timeout::After(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(&buf[..n], b"bye");
    conn.send_msg(b"see you").unwrap();
    conn.close();
    let out = send.finish();
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, b"see you\n");
}

#[test]
fn send_reports_a_reset_with_status_1() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut send = Proc::spawn(&["send", &format!("{LOOPBACK}:{port}")]);
    let stdin = send.stdin.take().unwrap(); // kept open
    let (s, _) = listener.accept().unwrap();
    // SO_LINGER 0: close sends a reset instead of a clean end.
    socket2::SockRef::from(&s)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(s);
    let out = send.finish();
    drop(stdin);
    assert_eq!(out.status.code(), Some(1), "{}", out.stderr);
    assert!(
        out.stderr.to_lowercase().contains("reset"),
        "{}",
        out.stderr
    );
}

#[test]
fn ctrl_c_while_listening_ends_recv_with_status_130() {
    let mut recv = Proc::spawn(&["recv", "-l", "0", "--host", LOOPBACK]);
    let port = recv.listening_port();
    recv.interrupt();
    let out = recv.finish();
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    assert!(out.stderr.contains("arsock: interrupted"), "{}", out.stderr);
    // The listener is gone with the process.
    assert!(TcpStream::connect((LOOPBACK, port)).is_err());
}

#[test]
fn ctrl_c_during_a_transfer_keeps_what_was_received_and_ends_with_130() {
    let listener = TcpListener::bind((LOOPBACK, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let recv = Proc::spawn(&["recv", &format!("{LOOPBACK}:{port}")]);
    let (mut s, _) = listener.accept().unwrap();
    s.write_all(b"first part, then silence").unwrap();
    recv.wait_stdout(24);
    recv.interrupt();
    let out = recv.finish();
    drop(s);
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    assert_eq!(out.stdout, b"first part, then silence");
}

#[test]
fn ctrl_c_ends_send_waiting_on_stdin_with_status_130() {
    let server = Server::bind(LOOPBACK, 0).unwrap();
    server.listen(0).unwrap();
    let port = server.local_addr().port();
    let mut send = Proc::spawn(&["send", "--msg", &format!("{LOOPBACK}:{port}")]);
    let mut stdin = send.stdin.take().unwrap(); // kept open
    stdin.write_all(b"one\n").unwrap();
    let conn = server
        .accept(Timeout::After(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 16];
    let n = conn
        .recv_msg(&mut buf, Timeout::After(Duration::from_secs(20)))
        .unwrap();
    assert_eq!(&buf[..n], b"one");
    send.interrupt();
    let out = send.finish();
    drop(stdin);
    assert_eq!(out.status.code(), Some(130), "{}", out.stderr);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
}
