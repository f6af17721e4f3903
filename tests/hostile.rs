//! Hostile peers against message mode: each gets ARSOCK_ERR_PROTOCOL (then CLOSED) on its own
//! connection, promptly, while the server keeps serving others.

mod common;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

/// An arsock server with a raw TCP peer connected to it: (server, accepted handle, peer).
fn hostile_pair() -> (arsock_handle, arsock_handle, TcpStream) {
    let (server, port) = listen();
    let peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let accepted = accept(server);
    (server, accepted, peer)
}

fn expect_protocol_then_closed(h: arsock_handle, what: &str) -> String {
    let (st, _) = recv_msg_status(h, 1024, 10_000);
    assert_eq!(st, ARSOCK_ERR_PROTOCOL, "{what}: {}", last_error());
    let why = last_error();
    let (st, _) = recv_msg_status(h, 1024, 0);
    assert_eq!(st, ARSOCK_ERR_CLOSED, "{what}: later calls say CLOSED");
    assert!(last_error().contains("protocol error"), "{}", last_error());
    why
}

#[test]
fn announcing_4_gib_is_rejected_from_the_header_alone() {
    let (_s, h, mut peer) = hostile_pair();
    peer.write_all(&[0xA5, 1, 1, 0, 0xFF, 0xFF, 0xFF, 0xFF])
        .unwrap();
    let why = expect_protocol_then_closed(h, "4 GiB announcement");
    assert!(why.contains("4294967295"), "{why}");
}

#[test]
fn a_truncated_frame_followed_by_a_vanished_peer_is_a_protocol_error() {
    let (_s, h, mut peer) = hostile_pair();
    peer.write_all(&[0xA5, 1, 1, 0, 100, 0, 0, 0]).unwrap();
    peer.write_all(&[1; 10]).unwrap();
    drop(peer);
    let why = expect_protocol_then_closed(h, "truncated frame");
    assert!(why.contains("middle of a frame"), "{why}");
}

#[test]
fn a_peer_trickling_one_byte_per_second_hits_the_frame_timeout() {
    let (_s, h, mut peer) = hostile_pair();
    ok(arsock_client_set_frame_timeout(h, 1500));
    let trickler = thread::spawn(move || {
        for b in [0xA5u8, 1, 1, 0, 8, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8] {
            if peer.write_all(&[b]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(1));
        }
    });
    let t = Instant::now();
    let why = expect_protocol_then_closed(h, "trickle");
    assert!(why.contains("frame timeout"), "{why}");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "the whole frame would have arrived by now"
    );
    trickler.join().unwrap();
}

#[test]
fn the_frame_timeout_also_applies_to_a_receiver_polling_with_timeout_zero() {
    let (_s, h, mut peer) = hostile_pair();
    ok(arsock_client_set_frame_timeout(h, 200));
    peer.write_all(&[0xA5, 1, 1, 0, 50, 0, 0, 0, 1, 2]).unwrap();
    let start = Instant::now();
    loop {
        let (st, _) = recv_msg_status(h, 1024, 0);
        if st == ARSOCK_ERR_PROTOCOL {
            break;
        }
        assert_eq!(st, ARSOCK_ERR_TIMEOUT);
        assert!(start.elapsed() < Duration::from_secs(10), "never failed");
        thread::sleep(Duration::from_millis(16)); // a render loop's frame
    }
}

#[test]
fn random_garbage_is_a_protocol_error() {
    let (_s, h, mut peer) = hostile_pair();
    peer.write_all(&pattern(0xBAD, 4096)).unwrap();
    let why = expect_protocol_then_closed(h, "garbage");
    assert!(why.contains("magic"), "{why}");
}

#[test]
fn unknown_versions_kinds_and_flags_are_protocol_errors() {
    for (bytes, expect) in [
        ([0xA5u8, 2, 1, 0, 1, 0, 0, 0], "version"),
        ([0xA5, 1, 0x02, 0, 1, 0, 0, 0], "kind"),
        ([0xA5, 1, 1, 0x01, 1, 0, 0, 0], "flags"),
    ] {
        let (_s, h, mut peer) = hostile_pair();
        peer.write_all(&bytes).unwrap();
        peer.write_all(&[0]).unwrap();
        let why = expect_protocol_then_closed(h, expect);
        assert!(why.contains(expect), "{why}");
    }
}

#[test]
fn extension_frames_are_skipped_so_newer_peers_can_talk_to_this_version() {
    let (_s, h, mut peer) = hostile_pair();
    peer.write_all(&[0xA5, 1, 0x80, 0, 3, 0, 0, 0, 9, 9, 9])
        .unwrap();
    peer.write_all(&[0xA5, 1, 0x01, 0, 2, 0, 0, 0, b'o', b'k'])
        .unwrap();
    assert_eq!(recv_msg(h, 16), b"ok");
}

#[test]
fn a_hostile_connection_does_not_disturb_other_clients_of_the_server() {
    let (server, port) = listen();
    let mut bad = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let bad_h = accept(server);
    bad.write_all(&[0xA5, 1, 1, 0, 0xFF, 0xFF, 0xFF, 0x7F])
        .unwrap();
    let good = connect("127.0.0.1", port);
    let good_h = accept(server);
    let (st, _) = recv_msg_status(bad_h, 64, 5000);
    assert_eq!(st, ARSOCK_ERR_PROTOCOL);
    send_msg(good, b"still fine");
    assert_eq!(recv_msg(good_h, 64), b"still fine");
    send_msg(good_h, b"and back");
    assert_eq!(recv_msg(good, 64), b"and back");
}

#[test]
fn a_receiver_pause_longer_than_the_frame_timeout_does_not_fail_a_healthy_sender() {
    // The app stops reading mid-message (a hitch, backgrounding); the sender is only held back
    // by flow control and streams on at full speed once reading resumes.
    let (_server, client, accepted) = pair();
    ok(arsock_client_set_frame_timeout(accepted, 300));
    const BIG: usize = 64 << 20; // far more than the OS buffers hold while the app pauses
    ok(arsock_client_set_max_message(client, BIG));
    ok(arsock_client_set_max_message(accepted, BIG));
    let payload = pattern(5, BIG);
    let expect = payload.clone();
    let sender = thread::spawn(move || send_msg(client, &payload));
    thread::sleep(Duration::from_millis(100));
    let (st, _) = recv_msg_status(accepted, 16, 0); // sees the start of the frame
    assert_eq!(st, ARSOCK_ERR_TIMEOUT);
    thread::sleep(Duration::from_secs(1));
    let got = recv_msg(accepted, expect.len());
    assert!(got == expect);
    sender.join().unwrap();
}
