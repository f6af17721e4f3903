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

/// xorshift64*: a small deterministic generator for the property tests.
pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// A mutated sample: bit flips, byte changes, truncation, insertion, or random bytes.
pub(crate) fn mutant(rng: &mut Rng, samples: &[Vec<u8>]) -> (u8, Vec<u8>) {
    let s = &samples[rng.below(samples.len())];
    let (k, mut p) = (s[2], s[HEADER_LEN..].to_vec());
    for _ in 0..1 + rng.below(4) {
        match rng.below(6) {
            0 if !p.is_empty() => {
                let i = rng.below(p.len());
                p[i] ^= 1 << rng.below(8);
            }
            1 if !p.is_empty() => {
                let i = rng.below(p.len());
                p[i] = rng.next() as u8;
            }
            2 => p.truncate(rng.below(p.len() + 1)),
            3 => {
                let i = rng.below(p.len() + 1);
                p.insert(i, rng.next() as u8);
            }
            4 => p = (0..rng.below(80)).map(|_| rng.next() as u8).collect(),
            _ => {}
        }
    }
    let k = if rng.below(10) == 0 {
        0x80 + rng.below(0x10) as u8
    } else {
        k
    };
    (k, p)
}

/// Property test (stable Rust, fixed seed): the decoder never panics on mutated or random
/// input, and whatever it accepts re-encodes to a frame that decodes to the same value.
#[test]
fn fuzzed_payloads_never_panic_and_accepted_frames_round_trip() {
    let samples = samples();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let runs = if cfg!(debug_assertions) {
        200_000
    } else {
        2_000_000
    };
    let (mut accepted, mut rejected) = (0u64, 0u64);
    for _ in 0..runs {
        let (k, p) = mutant(&mut rng, &samples);
        match decode(k, &p) {
            Ok(Some(f)) => {
                accepted += 1;
                let again = encode(&f);
                assert_eq!(
                    decode(again[2], &again[HEADER_LEN..]),
                    Ok(Some(f.clone())),
                    "{f:?}"
                );
            }
            Ok(None) => {}
            Err(_) => rejected += 1,
        }
    }
    println!(
        "wire fuzz: {runs} executions, {accepted} accepted (round-tripped), {rejected} rejected"
    );
    assert!(
        accepted > 1000 && rejected > 1000,
        "the mutations exercise both paths"
    );
}

/// The frames of tests/vectors/session.txt, by name.
fn named_vectors() -> Vec<(&'static str, Frame<'static>)> {
    vec![
        (
            "hello_join",
            Frame::Hello(Hello {
                version: 1,
                resume_peer: 0,
                resume_key: 0,
                ack: 0,
                room: "lab",
                name: "ipad",
                token: b"",
            }),
        ),
        (
            "hello_resume_with_token",
            Frame::Hello(Hello {
                version: 1,
                resume_peer: 3,
                resume_key: 0x0123_4567_89AB_CDEF,
                ack: 42,
                room: "lab",
                name: "ipad",
                token: b"s3cret",
            }),
        ),
        (
            "welcome",
            Frame::Welcome(Welcome {
                version: 1,
                peer: 3,
                resume_key: 0x0123_4567_89AB_CDEF,
                ack: 7,
                time_us: 1_700_000_000_000_000,
                heartbeat_ms: 500,
                stale_ms: 2500,
                grace_ms: 30000,
                dropped: 0,
                resumed: 0,
            }),
        ),
        (
            "reject_auth",
            Frame::Reject {
                reason: 7,
                text: "wrong token",
            },
        ),
        (
            "peer_present_stale",
            Frame::Peer {
                what: peer_what::PRESENT,
                flags: PEER_FLAG_STALE,
                peer: 2,
                reason: 0,
                time_us: 1000,
                name: "hl2",
            },
        ),
        (
            "peer_left_timeout",
            Frame::Peer {
                what: peer_what::LEFT,
                flags: 0,
                peer: 2,
                reason: 3,
                time_us: 2000,
                name: "",
            },
        ),
        (
            "state_change",
            Frame::State {
                flags: 0,
                writer: 2,
                time_us: 3000,
                key: "anchor/1",
                value: &[1, 2, 3],
            },
        ),
        (
            "state_snapshot_deleted",
            Frame::State {
                flags: state_flag::DELETED,
                writer: 1,
                time_us: 3000,
                key: "k",
                value: b"",
            },
        ),
        (
            "snapshot_end",
            Frame::SnapshotEnd {
                time_us: 4000,
                peers: 8,
                keys: 100,
            },
        ),
        (
            "msg_direct",
            Frame::Msg {
                flags: MSG_FLAG_DIRECT,
                from: 2,
                time_us: 5000,
                payload: b"grab",
            },
        ),
        (
            "msg_empty",
            Frame::Msg {
                flags: 0,
                from: 9,
                time_us: -1,
                payload: b"",
            },
        ),
        (
            "send_all",
            Frame::Send {
                to: 0,
                payload: b"hello",
            },
        ),
        (
            "send_to_peer_7",
            Frame::Send {
                to: 7,
                payload: &[0xFF],
            },
        ),
        (
            "set_state",
            Frame::SetState {
                flags: 0,
                key: "color",
                value: b"red",
            },
        ),
        (
            "delete_state",
            Frame::SetState {
                flags: state_flag::DELETED,
                key: "color",
                value: b"",
            },
        ),
        ("ack", Frame::Ack { count: 0x0102_0304 }),
        ("bye_local_close", Frame::Bye { reason: 1 }),
    ]
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Prints the vector file (run with --ignored --nocapture to regenerate it).
#[test]
#[ignore = "prints tests/vectors/session.txt"]
fn print_session_vectors() {
    for (name, f) in named_vectors() {
        println!("{name} | {}", hex(&encode(&f)));
    }
}

/// The hex test vectors of docs/PROTOCOL.md ("Sessions"), checked both ways.
#[test]
fn session_vectors_match_the_encoder_and_the_decoder() {
    let path = format!("{}/tests/vectors/session.txt", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<(&str, Vec<u8>)> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, h) = l.split_once('|').unwrap();
            (n.trim(), unhex(h.trim()))
        })
        .collect();
    let named = named_vectors();
    assert_eq!(lines.len(), named.len());
    for ((name, wire), (n, f)) in lines.iter().zip(named.iter()) {
        assert_eq!(name, n);
        assert_eq!(&encode(f), wire, "encode {name}");
        assert_eq!(wire[..4], [0xA5, 1, wire[2], 0], "{name}: header");
        assert_eq!(
            decode(wire[2], &wire[HEADER_LEN..]).as_ref(),
            Ok(&Some(f.clone())),
            "decode {name}"
        );
    }
}
