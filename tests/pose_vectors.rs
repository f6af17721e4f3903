//! The pose test vectors of docs/PROTOCOL.md, read from that file and checked against the
//! encoder (poses → exact bytes) and the decoder (bytes → poses, or the documented reason).

use arsock::pose::quat::{angle_between, normalise, widen};
use arsock::pose::wire::{decode_poses, encode_poses, MAX_BATCH_POSES};
use arsock::pose::Pose;

/// The fenced blocks of docs/PROTOCOL.md with the given info string, as lists of lines.
fn blocks(info: &str) -> Vec<Vec<String>> {
    let path = format!("{}/docs/PROTOCOL.md", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == format!("```{info}") => current = Some(Vec::new()),
            Some(b) if line.trim() == "```" => {
                out.push(std::mem::take(b));
                current = None;
            }
            Some(b) => b.push(line.trim().to_string()),
            None => {}
        }
    }
    out
}

fn field<'a>(block: &'a [String], key: &str) -> Vec<&'a str> {
    block
        .iter()
        .filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix(' ')))
        .collect()
}

fn unhex(lines: &[&str]) -> Vec<u8> {
    let s: String = lines.concat().split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn parse_pose(line: &str) -> Pose {
    let v: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(v.len(), 12, "{line}");
    let f = |i: usize| v[i].parse::<f32>().unwrap();
    Pose {
        peer: v[0].parse().unwrap(),
        entity: v[1].parse().unwrap(),
        seq: v[2].parse().unwrap(),
        flags: v[3].parse().unwrap(),
        time_us: v[4].parse().unwrap(),
        position: [f(5), f(6), f(7)],
        rotation: [f(8), f(9), f(10), f(11)],
    }
}

#[test]
fn documented_valid_vectors_encode_to_their_bytes_and_decode_back() {
    let vectors = blocks("pose-vector");
    assert_eq!(vectors.len(), 3);
    for block in &vectors {
        let poses: Vec<Pose> = field(block, "pose").into_iter().map(parse_pose).collect();
        let bytes = unhex(&field(block, "hex"));
        let mut encoded = Vec::new();
        encode_poses(&poses, &mut encoded).unwrap();
        assert_eq!(encoded, bytes, "encoder output for {poses:?}");
        let mut decoded = Vec::new();
        assert_eq!(
            decode_poses(&bytes, MAX_BATCH_POSES, &mut decoded),
            Ok(poses.len())
        );
        for (p, d) in poses.iter().zip(&decoded) {
            assert_eq!(
                (p.peer, p.entity, p.seq, p.flags, p.time_us),
                (d.peer, d.entity, d.seq, d.flags, d.time_us)
            );
            for i in 0..3 {
                assert!(
                    (p.position[i] - d.position[i]).abs() <= 0.5e-4,
                    "{p:?} {d:?}"
                );
            }
            let angle = angle_between(normalise(widen(p.rotation)), widen(d.rotation));
            assert!(angle <= 2e-4, "{p:?} {d:?}");
        }
    }
}

#[test]
fn documented_invalid_vectors_are_rejected_with_their_reason() {
    let vectors = blocks("pose-invalid");
    assert_eq!(vectors.len(), 10);
    for block in &vectors {
        let bytes = unhex(&field(block, "hex"));
        let max = field(block, "max")
            .first()
            .map_or(MAX_BATCH_POSES, |m| m.parse().unwrap());
        let reason = field(block, "error")[0];
        let mut out = Vec::new();
        let err = decode_poses(&bytes, max, &mut out).unwrap_err();
        let name = format!("{err:?}");
        let name = name.split([' ', '{', '(']).next().unwrap();
        assert_eq!(name, reason, "{block:?}");
        assert!(out.is_empty());
    }
}
