use super::*;

pub(crate) fn samples() -> Vec<Vec<u8>> {
    vec![
        encode(&Frame::Hello(Hello {
            version: 1,
            resume_peer: 0,
            resume_key: 0,
            ack: 0,
            room: "lab",
            name: "ipad",
            token: b"",
        })),
        encode(&Frame::Welcome(Welcome {
            version: 1,
            peer: 3,
            resume_key: 0x1122_3344_5566_7788,
            ack: 5,
            time_us: 1_000_000,
            heartbeat_ms: 500,
            stale_ms: 2500,
            grace_ms: -1,
            dropped: 0,
            resumed: 0,
        })),
        encode(&Frame::Reject {
            reason: 7,
            text: "auth",
        }),
        encode(&Frame::Peer {
            what: peer_what::JOINED,
            flags: 0,
            peer: 2,
            reason: 0,
            time_us: 9,
            name: "bob",
        }),
        encode(&Frame::State {
            flags: 0,
            writer: 2,
            time_us: 9,
            key: "k",
            value: b"v",
        }),
        encode(&Frame::SnapshotEnd {
            time_us: 9,
            peers: 1,
            keys: 1,
        }),
        encode(&Frame::Msg {
            flags: 1,
            from: 2,
            time_us: 9,
            payload: b"hi",
        }),
        encode(&Frame::Send {
            to: 0,
            payload: b"hi",
        }),
        encode(&Frame::SetState {
            flags: state_flag::DELETED,
            key: "k",
            value: b"",
        }),
        encode(&Frame::Ack { count: 42 }),
        encode(&Frame::Bye { reason: 1 }),
    ]
}

#[test]
fn every_frame_kind_round_trips_through_encode_and_decode() {
    for f in samples() {
        let k = f[2];
        let decoded = decode(k, &f[HEADER_LEN..]).unwrap().unwrap();
        assert_eq!(encode(&decoded), f, "kind 0x{k:02x}");
    }
}

#[test]
fn every_truncation_of_every_frame_is_rejected_without_panicking() {
    for f in samples() {
        let k = f[2];
        let p = &f[HEADER_LEN..];
        // Frames ending in a free-length body stay valid when only the body is cut.
        let body = match k {
            kind::STATE => 1,
            kind::MSG | kind::SEND => 2,
            _ => 0,
        };
        for cut in 0..p.len() - body {
            assert!(decode(k, &p[..cut]).is_err(), "kind 0x{k:02x} cut at {cut}");
        }
        let mut long = p.to_vec();
        long.push(0);
        // (The SET_STATE sample is a delete, which must have an empty value.)
        let grows = matches!(k, kind::STATE | kind::MSG | kind::SEND);
        assert_eq!(decode(k, &long).is_err(), !grows, "kind 0x{k:02x} + 1 byte");
    }
}

#[test]
fn kinds_outside_the_session_range_are_skipped() {
    assert_eq!(decode(0x90, b"anything"), Ok(None));
    assert_eq!(decode(0xFF, b""), Ok(None));
    assert_eq!(decode(0x8B, b"x"), Ok(None));
}

#[test]
fn out_of_range_fields_are_rejected_with_a_reason() {
    let room_too_long = {
        let mut p = vec![1u8];
        p.extend_from_slice(&[0; 20]);
        p.push(65);
        p.extend_from_slice(&[b'r'; 65]);
        p
    };
    assert_eq!(
        decode(kind::HELLO, &room_too_long),
        Err(Malformed::BadLength)
    );
    let peer_zero = encode(&Frame::Msg {
        flags: 0,
        from: 0,
        time_us: 0,
        payload: b"",
    });
    assert_eq!(
        decode(kind::MSG, &peer_zero[HEADER_LEN..]),
        Err(Malformed::BadValue)
    );
    let bad_utf8 = [0u8, 1, 0xFF];
    assert_eq!(decode(kind::SET_STATE, &bad_utf8), Err(Malformed::BadUtf8));
    let big = vec![0u8; limits::MAX_VALUE + 3];
    let mut p = vec![0u8, 1, b'k'];
    p.extend_from_slice(&big);
    assert_eq!(decode(kind::SET_STATE, &p), Err(Malformed::BadLength));
}
