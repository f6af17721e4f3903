//! Hostile bytes against the hub and a session: malformed frames of known kinds, frames before
//! the handshake, garbage and huge length announcements close that one connection (BYE with
//! reason PROTOCOL where the framing still allows it) and touch no one else.

mod sessions;
use arsock::session::wire::{self, Frame, Hello};
use sessions::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn raw(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(T)).unwrap();
    s
}

/// Read frames until end of stream; returns (kind, payload) of each.
fn read_to_end(mut s: TcpStream) -> Vec<(u8, Vec<u8>)> {
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    let mut out = Vec::new();
    let mut rest = &all[..];
    while rest.len() >= 8 {
        let len = u32::from_le_bytes(rest[4..8].try_into().unwrap()) as usize;
        if rest.len() < 8 + len {
            break;
        }
        out.push((rest[2], rest[8..8 + len].to_vec()));
        rest = &rest[8 + len..];
    }
    out
}

fn hello(room: &str) -> Vec<u8> {
    wire::encode(&Frame::Hello(Hello {
        version: 1,
        resume_peer: 0,
        resume_key: 0,
        ack: 0,
        room,
        name: "raw",
        token: b"",
    }))
}

fn ends_with_protocol_bye(frames: &[(u8, Vec<u8>)]) -> bool {
    frames.last().is_some_and(|(k, p)| {
        *k == wire::kind::BYE
            && wire::decode(*k, p)
                == Ok(Some(Frame::Bye {
                    reason: ARSOCK_REASON_PROTOCOL,
                }))
    })
}

/// Two honest devices that must stay untouched.
fn honest(port: u16, room: &str) -> (Dev, Dev) {
    let mut a = Dev::join(port, room, "a");
    let b = Dev::join(port, room, "b");
    a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED && e.peer == b.id);
    (a, b)
}

fn still_fine(a: &mut Dev, b: &mut Dev) {
    a.send(b.id, b"still fine");
    let seen = b.until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE);
    assert!(
        !seen.iter().any(|e| e.kind == ARSOCK_EVENT_DISCONNECTED),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap().payload, b"still fine");
}

#[test]
fn session_frames_before_the_handshake_close_that_connection_with_protocol() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let (mut a, mut b) = honest(port, "h");
        for f in [
            wire::encode(&Frame::Send {
                to: 0,
                payload: b"sneaky",
            }),
            wire::encode(&Frame::Ack { count: 0 }),
            wire::encode(&Frame::SetState {
                flags: 0,
                key: "k",
                value: b"v",
            }),
        ] {
            let mut s = raw(port);
            s.write_all(&f).unwrap();
            assert!(ends_with_protocol_bye(&read_to_end(s)));
        }
        still_fine(&mut a, &mut b);
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_malformed_frame_of_a_known_kind_removes_only_its_sender_with_protocol() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let (mut a, mut b) = honest(port, "m");
        let malformed: Vec<Vec<u8>> = vec![
            // SET_STATE with a key that is not UTF-8.
            vec![
                0xA5,
                1,
                wire::kind::SET_STATE,
                0,
                4,
                0,
                0,
                0,
                0,
                2,
                0xC3,
                0x28,
            ],
            // SEND cut short (3 of 4 bytes of the target).
            vec![0xA5, 1, wire::kind::SEND, 0, 3, 0, 0, 0, 1, 0, 0],
            // ACK of frames never sent.
            wire::encode(&Frame::Ack { count: 1_000_000 }),
            // A second HELLO.
            hello("m"),
            // A hub-only frame.
            wire::encode(&Frame::Msg {
                flags: 0,
                from: 1,
                time_us: 0,
                payload: b"",
            }),
        ];
        for bad in malformed {
            let mut s = raw(port);
            s.write_all(&hello("m")).unwrap();
            let joined = a
                .until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED)
                .pop()
                .unwrap()
                .peer;
            s.write_all(&bad).unwrap();
            assert!(ends_with_protocol_bye(&read_to_end(s)), "{bad:02x?}");
            let left = a
                .until(T, |e| e.kind == ARSOCK_EVENT_PEER_LEFT && e.peer == joined)
                .pop()
                .unwrap();
            assert_eq!(left.reason, ARSOCK_REASON_PROTOCOL);
        }
        still_fine(&mut a, &mut b);
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn garbage_application_frames_and_huge_lengths_close_the_connection() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let (mut a, mut b) = honest(port, "g");
        for bad in [
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            arsock::frame::encode_frame(b"an application message"),
            vec![0xA5, 1, 0x80, 0, 0xFF, 0xFF, 0xFF, 0xFF],
            vec![0xA5, 1, 0x80, 1, 0, 0, 0, 0],
        ] {
            let mut s = raw(port);
            s.write_all(&bad).unwrap();
            let frames = read_to_end(s);
            assert!(
                frames.is_empty() || ends_with_protocol_bye(&frames),
                "{bad:02x?}: {frames:?}"
            );
        }
        still_fine(&mut a, &mut b);
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn unknown_extension_kinds_are_skipped_and_the_connection_goes_on() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "x", "a");
        let mut s = raw(port);
        s.write_all(&hello("x")).unwrap();
        let raw_id = a
            .until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED)
            .pop()
            .unwrap()
            .peer;
        let mut f = vec![0xA5, 1, 0xA0, 0, 3, 0, 0, 0, 1, 2, 3];
        f.extend(wire::encode(&Frame::Send {
            to: a.id,
            payload: b"after the unknown frame",
        }));
        s.write_all(&f).unwrap();
        let m = a
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!(
            (m.peer, m.payload.as_slice()),
            (raw_id, &b"after the unknown frame"[..])
        );
        drop(s);
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_hub_that_sends_malformed_frames_ends_the_session_with_protocol() {
    within(Duration::from_secs(30), || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let fake = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf); // the HELLO
                                      // A WELCOME with peer id 0 (out of range), then nothing.
            let mut w = wire::encode(&Frame::Welcome(wire::Welcome {
                version: 1,
                peer: 7,
                resume_key: 1,
                ack: 0,
                time_us: 0,
                heartbeat_ms: 500,
                stale_ms: 2500,
                grace_ms: 1000,
                dropped: 0,
                resumed: 0,
            }));
            w[9..13].copy_from_slice(&0u32.to_le_bytes());
            s.write_all(&w).unwrap();
            std::thread::sleep(Duration::from_millis(500));
        });
        let h = open_with(port, "r", "victim", None);
        let mut d = Dev {
            h,
            id: 0,
            backlog: Default::default(),
        };
        let e = d.next(T).unwrap();
        assert_eq!(
            (e.kind, e.reason),
            (ARSOCK_EVENT_DISCONNECTED, ARSOCK_REASON_PROTOCOL)
        );
        fake.join().unwrap();
        d.close();
    });
}

#[test]
fn before_its_hello_a_connection_cannot_announce_a_large_frame() {
    within(Duration::from_secs(30), || {
        let (hub, port) = hub();
        let mut s = raw(port);
        // A frame of 100 KiB announced before any HELLO: refused from its header alone.
        s.write_all(&[0xA5, 1, 0x87, 0, 0, 0x90, 0x01, 0]).unwrap();
        let frames = read_to_end(s);
        assert!(
            frames.is_empty() || ends_with_protocol_bye(&frames),
            "{frames:?}"
        );
        // After HELLO, large messages are fine.
        let mut a = Dev::join(port, "big", "a");
        let mut s = raw(port);
        s.write_all(&hello("big")).unwrap();
        a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED);
        let big = vec![7u8; 100 * 1024];
        s.write_all(&wire::encode(&Frame::Send {
            to: 0,
            payload: &big,
        }))
        .unwrap();
        let m = a
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!(m.payload, big);
        a.close();
        ok(arsock_close(hub));
    });
}
