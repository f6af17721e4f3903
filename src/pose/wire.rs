//! The compact wire form of a batch of poses (docs/PROTOCOL.md is the normative description).
//!
//! A batch is `count: u16 LE`, `base_time_us: i64 LE`, then `count` poses, each:
//! `peer`, `entity`, `seq`, `flags` as unsigned LEB128 varints (u32, canonical, ≤ 5 bytes),
//! `time_us - base_time_us` as a zigzag LEB128 varint (i64 wrapping, ≤ 10 bytes), the
//! position as three `i32 LE` in units of 0.1 mm (±2·10⁹ = ±200 km), and the rotation as
//! 6 bytes LE holding the smallest-three form (see [`quat::pack_smallest_three`]).
//! A pose is 23 bytes with every varint below 128, 24–25 bytes typically, 48 at most.

use super::quat::{self, SmallestThreeError};
use super::{Pose, PoseError};

/// Bytes before the first pose: count (2) and base time (8).
pub const BATCH_HEADER_LEN: usize = 10;
/// Smallest encoded pose: five 1-byte varints, 12 bytes of position, 6 of rotation.
pub const POSE_MIN_WIRE_LEN: usize = 5 + 12 + 6;
/// Largest encoded pose: four 5-byte varints and one 10-byte varint, 12, 6.
pub const POSE_MAX_WIRE_LEN: usize = 4 * 5 + 10 + 12 + 6;
/// Most poses one batch can carry (the count is a u16).
pub const MAX_BATCH_POSES: usize = u16::MAX as usize;
/// Position units per metre (0.1 mm fixed point).
pub const POSITION_UNITS_PER_M: f64 = 10_000.0;
/// Largest magnitude of an encoded position component (200 km in 0.1 mm).
pub const MAX_POSITION_UNITS: i64 = 2_000_000_000;

/// Why bytes are not a valid pose batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PoseDecodeError {
    /// The bytes end before the batch does.
    #[error("pose batch truncated")]
    Truncated,
    /// Bytes remain after the last pose.
    #[error("{extra} bytes after the last pose")]
    TrailingBytes {
        /// How many.
        extra: usize,
    },
    /// The batch holds more poses than the receiver accepts.
    #[error("pose batch of {count} poses; at most {max} accepted")]
    TooManyPoses {
        /// Count announced.
        count: usize,
        /// The receiver's limit.
        max: usize,
    },
    /// A varint is longer than its type allows or overflows it.
    #[error("varint overflows its type")]
    VarintOverflow,
    /// A varint has a redundant trailing zero byte (non-canonical).
    #[error("varint not in its shortest form")]
    VarintNotCanonical,
    /// A position component is beyond ±200 km.
    #[error("position component outside ±200 km")]
    PositionOutOfRange,
    /// The rotation's reserved bit is set.
    #[error("rotation reserved bit set")]
    RotationReservedBit,
    /// A rotation component code is 0x7FFF.
    #[error("rotation component code out of range")]
    RotationCodeOutOfRange,
    /// The rotation's three components cannot be the smallest of a unit quaternion.
    #[error("rotation components do not form a unit quaternion")]
    RotationNotUnit,
}

impl From<SmallestThreeError> for PoseDecodeError {
    fn from(e: SmallestThreeError) -> Self {
        match e {
            SmallestThreeError::ReservedBit => PoseDecodeError::RotationReservedBit,
            SmallestThreeError::CodeOutOfRange => PoseDecodeError::RotationCodeOutOfRange,
            SmallestThreeError::NotUnit => PoseDecodeError::RotationNotUnit,
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn position_units(m: f32) -> i32 {
    // Validation keeps |m| ≤ 200 km, so the value fits; clamp keeps it so regardless.
    let u = (m as f64 * POSITION_UNITS_PER_M).round();
    u.clamp(-(MAX_POSITION_UNITS as f64), MAX_POSITION_UNITS as f64) as i32
}

/// Encoded size of `pose` in a batch whose base time is `base_time_us`.
pub fn pose_wire_len(pose: &Pose, base_time_us: i64) -> usize {
    varint_len(pose.peer as u64)
        + varint_len(pose.entity as u64)
        + varint_len(pose.seq as u64)
        + varint_len(pose.flags as u64)
        + varint_len(zigzag(pose.time_us.wrapping_sub(base_time_us)))
        + 12
        + 6
}

/// Validate `poses` (see [`Pose::validated`]) and append them to `out` as one batch; the base
/// time is the first pose's. Nothing is appended if any pose is invalid or there are more than
/// [`MAX_BATCH_POSES`].
pub fn encode_poses(poses: &[Pose], out: &mut Vec<u8>) -> Result<(), PoseError> {
    if poses.len() > MAX_BATCH_POSES {
        return Err(PoseError::TooManyPoses {
            count: poses.len(),
            max: MAX_BATCH_POSES,
        });
    }
    let mut valid = Vec::with_capacity(poses.len());
    for p in poses {
        valid.push(p.validated()?);
    }
    let base = valid.first().map_or(0, |p| p.time_us);
    out.reserve(BATCH_HEADER_LEN + valid.iter().map(|p| pose_wire_len(p, base)).sum::<usize>());
    out.extend_from_slice(&(valid.len() as u16).to_le_bytes());
    out.extend_from_slice(&base.to_le_bytes());
    for p in &valid {
        put_varint(out, p.peer as u64);
        put_varint(out, p.entity as u64);
        put_varint(out, p.seq as u64);
        put_varint(out, p.flags as u64);
        put_varint(out, zigzag(p.time_us.wrapping_sub(base)));
        for m in p.position {
            out.extend_from_slice(&position_units(m).to_le_bytes());
        }
        let rot = quat::pack_smallest_three(quat::widen(p.rotation));
        out.extend_from_slice(&rot.to_le_bytes()[..6]);
    }
    Ok(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], PoseDecodeError> {
        let end = self.at.checked_add(N).ok_or(PoseDecodeError::Truncated)?;
        let s = self
            .bytes
            .get(self.at..end)
            .ok_or(PoseDecodeError::Truncated)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        self.at = end;
        Ok(a)
    }

    /// A canonical LEB128 varint of at most `bits` bits.
    fn varint(&mut self, bits: u32) -> Result<u64, PoseDecodeError> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let [b] = self.take::<1>()?;
            let payload = (b & 0x7F) as u64;
            if shift > 0 && b == 0 {
                return Err(PoseDecodeError::VarintNotCanonical);
            }
            if shift >= bits || (bits - shift < 7 && payload >> (bits - shift) != 0) {
                return Err(PoseDecodeError::VarintOverflow);
            }
            v |= payload << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn remaining(&self) -> usize {
        self.bytes.len() - self.at
    }
}

fn decode_one(r: &mut Reader<'_>, base: i64) -> Result<Pose, PoseDecodeError> {
    let peer = r.varint(32)? as u32;
    let entity = r.varint(32)? as u32;
    let seq = r.varint(32)? as u32;
    let flags = r.varint(32)? as u32;
    let time_us = base.wrapping_add(unzigzag(r.varint(64)?));
    let mut position = [0f32; 3];
    for p in &mut position {
        let u = i32::from_le_bytes(r.take::<4>()?) as i64;
        if u.abs() > MAX_POSITION_UNITS {
            return Err(PoseDecodeError::PositionOutOfRange);
        }
        *p = (u as f64 / POSITION_UNITS_PER_M) as f32;
    }
    let six = r.take::<6>()?;
    let mut eight = [0u8; 8];
    eight[..6].copy_from_slice(&six);
    let rotation = quat::narrow(quat::unpack_smallest_three(u64::from_le_bytes(eight))?);
    Ok(Pose {
        peer,
        entity,
        time_us,
        position,
        rotation,
        seq,
        flags,
    })
}

/// Decode one batch (the whole of `bytes`) and append its poses to `out`; returns how many.
/// Rejects a batch of more than `max_poses` before allocating. On error `out` is unchanged.
/// Never panics, whatever the bytes.
pub fn decode_poses(
    bytes: &[u8],
    max_poses: usize,
    out: &mut Vec<Pose>,
) -> Result<usize, PoseDecodeError> {
    let mut r = Reader { bytes, at: 0 };
    let count = u16::from_le_bytes(r.take::<2>()?) as usize;
    let base = i64::from_le_bytes(r.take::<8>()?);
    if count > max_poses {
        return Err(PoseDecodeError::TooManyPoses {
            count,
            max: max_poses,
        });
    }
    if count.saturating_mul(POSE_MIN_WIRE_LEN) > r.remaining() {
        return Err(PoseDecodeError::Truncated);
    }
    let start = out.len();
    out.reserve(count);
    for _ in 0..count {
        match decode_one(&mut r, base) {
            Ok(p) => out.push(p),
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    }
    if r.remaining() != 0 {
        out.truncate(start);
        return Err(PoseDecodeError::TrailingBytes {
            extra: r.remaining(),
        });
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_decoder_rejects_overflow_and_non_canonical() {
        let mut r = Reader {
            bytes: &[0xFF, 0xFF, 0xFF, 0xFF, 0x10],
            at: 0,
        };
        assert_eq!(r.varint(32), Err(PoseDecodeError::VarintOverflow));
        let mut r = Reader {
            bytes: &[0xFF, 0xFF, 0xFF, 0xFF, 0x0F],
            at: 0,
        };
        assert_eq!(r.varint(32), Ok(u32::MAX as u64));
        let mut r = Reader {
            bytes: &[0x80, 0x00],
            at: 0,
        };
        assert_eq!(r.varint(32), Err(PoseDecodeError::VarintNotCanonical));
        let mut r = Reader {
            bytes: &[0xFF; 9].iter().copied().chain([0x01]).collect::<Vec<_>>(),
            at: 0,
        };
        assert_eq!(r.varint(64), Ok(u64::MAX));
        let mut r = Reader {
            bytes: &[0xFF; 9].iter().copied().chain([0x02]).collect::<Vec<_>>(),
            at: 0,
        };
        assert_eq!(r.varint(64), Err(PoseDecodeError::VarintOverflow));
        let mut r = Reader {
            bytes: &[0x80],
            at: 0,
        };
        assert_eq!(r.varint(32), Err(PoseDecodeError::Truncated));
    }

    #[test]
    fn zigzag_round_trips_extremes() {
        for v in [0, 1, -1, i64::MAX, i64::MIN, 12345, -12345] {
            assert_eq!(unzigzag(zigzag(v)), v);
        }
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
    }

    #[test]
    fn pose_sizes_are_23_minimum_24_typical_48_maximum() {
        let size = |p: Pose| {
            let mut out = Vec::new();
            encode_poses(&[p], &mut out).unwrap();
            out.len() - BATCH_HEADER_LEN
        };
        assert_eq!(size(Pose::default()), POSE_MIN_WIRE_LEN);
        assert_eq!(POSE_MIN_WIRE_LEN, 23);
        let typical = Pose {
            peer: 31,
            entity: 2,
            seq: 16_383,
            ..Pose::default()
        };
        assert_eq!(size(typical), 24);
        assert_eq!(
            size(Pose {
                seq: 2_097_151,
                ..typical
            }),
            25
        );
        // Only the first pose sets the base time, so a second one carries the largest delta.
        let max = Pose {
            peer: u32::MAX,
            entity: u32::MAX,
            seq: u32::MAX,
            flags: u32::MAX,
            time_us: i64::MIN,
            ..Pose::default()
        };
        let mut out = Vec::new();
        encode_poses(&[Pose { time_us: 0, ..max }, max], &mut out).unwrap();
        assert_eq!(pose_wire_len(&max, 0), POSE_MAX_WIRE_LEN);
        assert_eq!(out.len(), BATCH_HEADER_LEN + 39 + POSE_MAX_WIRE_LEN);
        assert_eq!(POSE_MAX_WIRE_LEN, 48);
    }

    #[test]
    fn empty_batch_is_ten_bytes() {
        let mut out = Vec::new();
        encode_poses(&[], &mut out).unwrap();
        assert_eq!(out, [0u8; 10]);
        let mut poses = Vec::new();
        assert_eq!(decode_poses(&out, 10, &mut poses), Ok(0));
    }

    #[test]
    fn invalid_pose_appends_nothing() {
        let mut out = vec![1, 2, 3];
        let bad = Pose {
            rotation: [0.0; 4],
            ..Pose::default()
        };
        assert!(encode_poses(&[Pose::default(), bad], &mut out).is_err());
        assert_eq!(out, [1, 2, 3]);
    }

    #[test]
    fn decoder_error_leaves_output_unchanged() {
        let mut bytes = Vec::new();
        encode_poses(&[Pose::default(), Pose::default()], &mut bytes).unwrap();
        bytes.push(0);
        let mut out = vec![Pose::default()];
        assert_eq!(
            decode_poses(&bytes, 10, &mut out),
            Err(PoseDecodeError::TrailingBytes { extra: 1 })
        );
        assert_eq!(out.len(), 1);
        bytes.pop();
        assert_eq!(
            decode_poses(&bytes, 1, &mut out),
            Err(PoseDecodeError::TooManyPoses { count: 2, max: 1 })
        );
        assert_eq!(decode_poses(&bytes, 2, &mut out), Ok(2));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn decoder_rejects_position_beyond_200_km() {
        let mut bytes = Vec::new();
        encode_poses(&[Pose::default()], &mut bytes).unwrap();
        // Pose starts at 10; five 1-byte varints; x at 15..19.
        bytes[15..19].copy_from_slice(&2_000_000_001i32.to_le_bytes());
        assert_eq!(
            decode_poses(&bytes, 1, &mut Vec::new()),
            Err(PoseDecodeError::PositionOutOfRange)
        );
        bytes[15..19].copy_from_slice(&(-2_000_000_000i32).to_le_bytes());
        let mut out = Vec::new();
        decode_poses(&bytes, 1, &mut out).unwrap();
        assert_eq!(out[0].position[0], -200_000.0);
    }
}
