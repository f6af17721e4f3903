//! The hex test vectors of docs/PROTOCOL.md (tests/vectors/), checked against the real
//! encoder and against the real decoder (bytes fed to an arsock connection over loopback).

mod common;
use arsock::frame;
use common::*;
use std::io::Write;
use std::net::TcpStream;

fn vector_lines(name: &str) -> Vec<String> {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    let s = s.trim();
    if s == "-" {
        return Vec::new();
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An accepted arsock handle fed by a raw TCP peer.
fn decoder() -> (arsock_handle, TcpStream) {
    let (server, port) = listen();
    let peer = TcpStream::connect(("127.0.0.1", port)).unwrap();
    (accept(server), peer)
}

#[test]
fn valid_frames_encode_and_decode() {
    let lines = vector_lines("frames.txt");
    assert!(lines.len() >= 5);
    for line in lines {
        let f: Vec<&str> = line.split('|').collect();
        let (name, payload, wire) = (f[0].trim(), unhex(f[1]), unhex(f[2]));
        assert_eq!(frame::encode_frame(&payload), wire, "encode {name}");
        let (h, mut peer) = decoder();
        peer.write_all(&wire).unwrap();
        assert_eq!(recv_msg(h, 1024), payload, "decode {name}");
        // And what arsock sends is exactly the vector on the wire.
        let (server, port) = listen();
        let sender = connect("127.0.0.1", port);
        let raw_end = accept(server);
        send_msg(sender, &payload);
        assert_eq!(
            recv_raw_exact(raw_end, wire.len()),
            wire,
            "wire bytes of {name}"
        );
    }
}

#[test]
fn a_stream_with_an_extension_frame_yields_the_application_messages() {
    let lines = vector_lines("stream.txt");
    let (h, mut peer) = decoder();
    peer.write_all(&unhex(&lines[0])).unwrap();
    for expected in &lines[1..] {
        assert_eq!(recv_msg(h, 1024), unhex(expected));
    }
}

#[test]
fn invalid_streams_are_protocol_errors() {
    let lines = vector_lines("invalid.txt");
    assert!(lines.len() >= 5);
    for line in lines {
        let f: Vec<&str> = line.split('|').collect();
        let (name, bytes, word) = (f[0].trim(), unhex(f[1]), f[2].trim());
        let (h, mut peer) = decoder();
        peer.write_all(&bytes).unwrap();
        let (st, _) = recv_msg_status(h, 1024, 5000);
        assert_eq!(st, ARSOCK_ERR_PROTOCOL, "{name}: {}", last_error());
        assert!(last_error().contains(word), "{name}: {}", last_error());
    }
}
