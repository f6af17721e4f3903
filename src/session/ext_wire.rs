//! Frames of poses, the room clock and blobs: extension kinds 0x90–0x97 of a session link
//! (docs/PROTOCOL.md, "Sessions: poses, clock and blobs"). Every field is little-endian; a
//! key is a one-byte length and 1–255 bytes of UTF-8, as state keys.
//!
//! None of these frames is counted in the reliable streams: poses are newest-only, pings are
//! repeated, and blobs are announced again in the snapshot after a resume.
//!
//! The decoder is bounded like [`super::wire::decode`]: it reads only inside the payload,
//! checks lengths before use and returns a [`Malformed`] reason instead of panicking.

use super::limits;
use super::wire::Malformed;
use crate::blob::MAX_CHUNK_LEN;
use crate::frame::{HEADER_LEN, MAGIC, VERSION};
use crate::pose::wire::{decode_poses, encode_poses};
use crate::pose::Pose;

/// Frame kinds (0x98–0x9F stay reserved and are skipped).
pub mod kind {
    /// Either way: a batch of poses (docs/PROTOCOL.md, "Pose batch").
    pub const POSES: u8 = 0x90;
    /// Device → hub: a clock ping carrying the device's send time `t0`.
    pub const PING: u8 = 0x91;
    /// Hub → device: `t0` echoed, the hub's receive time `t1` and send time `t2`.
    pub const PONG: u8 = 0x92;
    /// Device → hub: an upload of `size` bytes under `key` begins.
    pub const BLOB_BEGIN: u8 = 0x93;
    /// Either way: `len` bytes of a blob at `offset` (≤ 16 KiB).
    pub const BLOB_CHUNK: u8 = 0x94;
    /// Hub → device: a blob is complete in the hub, deleted, or an upload was refused.
    pub const BLOB_INFO: u8 = 0x95;
    /// Device → hub: delete a blob.
    pub const BLOB_DELETE: u8 = 0x96;
    /// Device → hub: this session already holds the announced version (`tag`) of a blob: do not
    /// send its body (after a resume).
    pub const BLOB_HAVE: u8 = 0x97;
    /// First kind of the range reserved for poses, the clock and blobs.
    pub const FIRST: u8 = 0x90;
    /// Last kind of that range.
    pub const LAST: u8 = 0x9F;
}

/// BLOB_INFO flags.
pub mod info_flag {
    /// The blob was deleted (size 0).
    pub const DELETED: u8 = 1;
    /// Part of a snapshot (the blob existed before this link joined).
    pub const SNAPSHOT: u8 = 2;
    /// The hub refused the upload (sent to its uploader only; the room's blob budget is
    /// full or the announced size is over the limit).
    pub const REFUSED: u8 = 4;
}

/// Most poses a batch may carry on a session link (a batch frame stays under 200 KiB).
pub const MAX_POSES_PER_FRAME: usize = 4096;

/// A decoded frame of this range; variable parts borrow from the payload, except poses.
#[derive(Clone, Debug, PartialEq)]
pub enum ExtFrame<'a> {
    /// A batch of poses.
    Poses(Vec<Pose>),
    /// Clock ping.
    Ping { t0: i64 },
    /// Clock pong.
    Pong { t0: i64, t1: i64, t2: i64 },
    /// Upload start (`tag` names this upload; echoed in BLOB_INFO and the hub's chunks).
    BlobBegin { tag: u32, size: u64, key: &'a str },
    /// A chunk (`uploader` 0 from a device; the uploader's id from the hub).
    BlobChunk {
        uploader: u32,
        tag: u32,
        offset: u64,
        key: &'a str,
        data: &'a [u8],
    },
    /// Blob announcement.
    BlobInfo {
        flags: u8,
        uploader: u32,
        tag: u32,
        size: u64,
        time_us: i64,
        key: &'a str,
    },
    /// Delete request.
    BlobDelete { key: &'a str },
    /// "I hold this version": the hub drops its body from this link's downloads.
    BlobHave { tag: u32, key: &'a str },
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.0.len() < n {
            return Err(Malformed::Truncated);
        }
        let (h, t) = self.0.split_at(n);
        self.0 = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(self.u64()? as i64)
    }
    fn key(&mut self) -> Result<&'a str, Malformed> {
        let n = self.u8()? as usize;
        if n == 0 {
            return Err(Malformed::BadLength);
        }
        std::str::from_utf8(self.take(n)?).map_err(|_| Malformed::BadUtf8)
    }
    fn end(&self) -> Result<(), Malformed> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Malformed::TrailingBytes)
        }
    }
}

/// Decode a frame of `kind`. `Ok(None)`: not a kind of this range, or a reserved one (skip).
pub fn decode(kind: u8, payload: &[u8]) -> Result<Option<ExtFrame<'_>>, Malformed> {
    let mut r = Reader(payload);
    let f = match kind {
        kind::POSES => {
            let mut poses = Vec::new();
            decode_poses(payload, MAX_POSES_PER_FRAME, &mut poses).map_err(|e| {
                use crate::pose::wire::PoseDecodeError as E;
                match e {
                    E::Truncated => Malformed::Truncated,
                    E::TrailingBytes { .. } => Malformed::TrailingBytes,
                    E::TooManyPoses { .. } => Malformed::BadLength,
                    _ => Malformed::BadValue,
                }
            })?;
            return Ok(Some(ExtFrame::Poses(poses)));
        }
        kind::PING => ExtFrame::Ping { t0: r.i64()? },
        kind::PONG => ExtFrame::Pong {
            t0: r.i64()?,
            t1: r.i64()?,
            t2: r.i64()?,
        },
        kind::BLOB_BEGIN => {
            let tag = r.u32()?;
            let size = r.u64()?;
            let key = r.key()?;
            if size > crate::blob::MAX_BLOB_LEN {
                return Err(Malformed::BadLength);
            }
            ExtFrame::BlobBegin { tag, size, key }
        }
        kind::BLOB_CHUNK => {
            let uploader = r.u32()?;
            let tag = r.u32()?;
            let offset = r.u64()?;
            let key = r.key()?;
            let data = std::mem::take(&mut r.0);
            if data.is_empty() || data.len() > MAX_CHUNK_LEN {
                return Err(Malformed::BadLength);
            }
            ExtFrame::BlobChunk {
                uploader,
                tag,
                offset,
                key,
                data,
            }
        }
        kind::BLOB_INFO => {
            let flags = r.u8()?;
            let uploader = r.u32()?;
            let tag = r.u32()?;
            let size = r.u64()?;
            let time_us = r.i64()?;
            let key = r.key()?;
            let known = info_flag::DELETED | info_flag::SNAPSHOT | info_flag::REFUSED;
            if flags & !known != 0 || size > crate::blob::MAX_BLOB_LEN {
                return Err(Malformed::BadValue);
            }
            ExtFrame::BlobInfo {
                flags,
                uploader,
                tag,
                size,
                time_us,
                key,
            }
        }
        kind::BLOB_DELETE => ExtFrame::BlobDelete { key: r.key()? },
        kind::BLOB_HAVE => ExtFrame::BlobHave {
            tag: r.u32()?,
            key: r.key()?,
        },
        _ => return Ok(None),
    };
    r.end()?;
    Ok(Some(f))
}

fn frame(kind: u8, body: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    v.extend_from_slice(&[MAGIC, VERSION, kind, 0, 0, 0, 0, 0]);
    body(&mut v);
    let len = (v.len() - HEADER_LEN) as u32;
    v[4..8].copy_from_slice(&len.to_le_bytes());
    v
}

fn put_key(v: &mut Vec<u8>, key: &str) {
    let b = &key.as_bytes()[..key.len().min(limits::MAX_KEY)];
    v.push(b.len() as u8);
    v.extend_from_slice(b);
}

/// Encode a whole frame (header included). Poses must be valid (the layers above validate
/// them first); an invalid batch encodes as an empty batch. Keys are cut at 255 bytes.
pub fn encode(f: &ExtFrame<'_>) -> Vec<u8> {
    match f {
        ExtFrame::Poses(poses) => frame(kind::POSES, |v| {
            let start = v.len();
            if encode_poses(poses, v).is_err() {
                v.truncate(start);
                let _ = encode_poses(&[], v);
            }
        }),
        ExtFrame::Ping { t0 } => frame(kind::PING, |v| v.extend_from_slice(&t0.to_le_bytes())),
        ExtFrame::Pong { t0, t1, t2 } => frame(kind::PONG, |v| {
            for t in [t0, t1, t2] {
                v.extend_from_slice(&t.to_le_bytes());
            }
        }),
        ExtFrame::BlobBegin { tag, size, key } => frame(kind::BLOB_BEGIN, |v| {
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            put_key(v, key);
        }),
        ExtFrame::BlobChunk {
            uploader,
            tag,
            offset,
            key,
            data,
        } => frame(kind::BLOB_CHUNK, |v| {
            v.reserve(17 + key.len() + data.len());
            v.extend_from_slice(&uploader.to_le_bytes());
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&offset.to_le_bytes());
            put_key(v, key);
            v.extend_from_slice(data);
        }),
        ExtFrame::BlobInfo {
            flags,
            uploader,
            tag,
            size,
            time_us,
            key,
        } => frame(kind::BLOB_INFO, |v| {
            v.push(*flags);
            v.extend_from_slice(&uploader.to_le_bytes());
            v.extend_from_slice(&tag.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&time_us.to_le_bytes());
            put_key(v, key);
        }),
        ExtFrame::BlobDelete { key } => frame(kind::BLOB_DELETE, |v| put_key(v, key)),
        ExtFrame::BlobHave { tag, key } => frame(kind::BLOB_HAVE, |v| {
            v.extend_from_slice(&tag.to_le_bytes());
            put_key(v, key);
        }),
    }
}

/// Bytes the kernel holds for `fd`'s send side and has not yet had acknowledged (Linux
/// SIOCOUTQ); 0 where that is unknown. Poses and blob chunks wait while it is high, so that
/// they never queue behind a kernel backlog of older traffic.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn kernel_unsent(fd: std::os::fd::RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ (= SIOCOUTQ) writes one int through the pointer; fd is a socket the
    // caller owns for the duration of the call.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    if rc == 0 && n > 0 {
        n as usize
    } else {
        0
    }
}

/// Bytes in the socket's send buffer not yet sent (Apple's `SO_NWRITE`); see the Linux version.
#[cfg(any(target_os = "macos", target_os = "ios"))]
pub(crate) fn kernel_unsent(fd: std::os::fd::RawFd) -> usize {
    let mut n: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: SO_NWRITE writes one int of at most `len` bytes; fd is a socket the caller owns
    // for the duration of the call.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_NWRITE,
            (&mut n as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc == 0 && n > 0 {
        n as usize
    } else {
        0
    }
}

/// See the Linux version: elsewhere the kernel's queue is not counted.
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "macos",
    target_os = "ios"
)))]
pub(crate) fn kernel_unsent(_fd: i32) -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(f: ExtFrame<'_>) {
        let bytes = encode(&f);
        let got = decode(bytes[2], &bytes[HEADER_LEN..]).unwrap().unwrap();
        assert_eq!(got, f);
        // Every truncation of the fixed fields is refused with a reason, never a panic (a
        // chunk's data runs to the end of the frame, so a shorter chunk is still a chunk).
        let data_len = match &f {
            ExtFrame::BlobChunk { data, .. } => data.len(),
            _ => 0,
        };
        for cut in HEADER_LEN..bytes.len() - data_len {
            assert!(
                decode(bytes[2], &bytes[HEADER_LEN..cut]).is_err(),
                "{f:?} cut {cut}"
            );
        }
    }

    #[test]
    fn every_frame_encodes_and_decodes_back_and_truncations_are_refused() {
        round_trip(ExtFrame::Ping { t0: -5 });
        round_trip(ExtFrame::Pong {
            t0: 1,
            t1: 2,
            t2: 3,
        });
        round_trip(ExtFrame::BlobBegin {
            tag: 7,
            size: 1 << 20,
            key: "mesh/1",
        });
        round_trip(ExtFrame::BlobChunk {
            uploader: 3,
            tag: 7,
            offset: 16384,
            key: "k",
            data: &[1, 2, 3],
        });
        round_trip(ExtFrame::BlobInfo {
            flags: info_flag::SNAPSHOT,
            uploader: 3,
            tag: 7,
            size: 9,
            time_us: 123,
            key: "k",
        });
        round_trip(ExtFrame::BlobDelete { key: "k" });
        round_trip(ExtFrame::BlobHave { tag: 3, key: "k" });
    }

    #[test]
    fn bad_fields_are_refused_with_a_reason() {
        let f = encode(&ExtFrame::BlobBegin {
            tag: 1,
            size: crate::blob::MAX_BLOB_LEN + 1,
            key: "k",
        });
        assert_eq!(decode(f[2], &f[8..]), Err(Malformed::BadLength));
        let big = vec![0u8; MAX_CHUNK_LEN + 1];
        let f = encode(&ExtFrame::BlobChunk {
            uploader: 0,
            tag: 1,
            offset: 0,
            key: "k",
            data: &big,
        });
        assert_eq!(decode(f[2], &f[8..]), Err(Malformed::BadLength));
        let mut f = encode(&ExtFrame::BlobInfo {
            flags: 0,
            uploader: 1,
            tag: 1,
            size: 1,
            time_us: 0,
            key: "k",
        });
        f[8] = 0x80;
        assert_eq!(decode(f[2], &f[8..]), Err(Malformed::BadValue));
        assert_eq!(decode(kind::BLOB_DELETE, &[0]), Err(Malformed::BadLength));
        assert_eq!(decode(kind::PING, &[0; 9]), Err(Malformed::TrailingBytes));
        assert_eq!(decode(0x9F, &[1, 2, 3]), Ok(None));
    }
}

#[cfg(test)]
mod vectors {
    use super::*;
    use crate::pose::Pose;

    /// The frames of tests/vectors/session_ext.txt, by name.
    pub(super) fn frames() -> Vec<(&'static str, ExtFrame<'static>)> {
        vec![
            (
                "poses_one",
                ExtFrame::Poses(vec![Pose {
                    peer: 0,
                    entity: 1,
                    time_us: 1_000_000,
                    position: [0.0; 3],
                    rotation: [0.0, 0.0, 0.0, 1.0],
                    seq: 1,
                    flags: 0,
                }]),
            ),
            (
                "ping",
                ExtFrame::Ping {
                    t0: 1_700_000_000_000_000,
                },
            ),
            (
                "pong",
                ExtFrame::Pong {
                    t0: 1_700_000_000_000_000,
                    t1: 1_700_000_000_000_250,
                    t2: 1_700_000_000_000_260,
                },
            ),
            (
                "blob_begin",
                ExtFrame::BlobBegin {
                    tag: 1,
                    size: 5 * 1024 * 1024,
                    key: "map",
                },
            ),
            (
                "blob_chunk_from_device",
                ExtFrame::BlobChunk {
                    uploader: 0,
                    tag: 1,
                    offset: 16384,
                    key: "map",
                    data: b"\x01\x02\x03",
                },
            ),
            (
                "blob_chunk_from_hub",
                ExtFrame::BlobChunk {
                    uploader: 2,
                    tag: 1,
                    offset: 0,
                    key: "map",
                    data: b"\xff",
                },
            ),
            (
                "blob_info_available",
                ExtFrame::BlobInfo {
                    flags: 0,
                    uploader: 2,
                    tag: 1,
                    size: 5 * 1024 * 1024,
                    time_us: 3000,
                    key: "map",
                },
            ),
            (
                "blob_info_snapshot",
                ExtFrame::BlobInfo {
                    flags: info_flag::SNAPSHOT,
                    uploader: 2,
                    tag: 1,
                    size: 9,
                    time_us: 3000,
                    key: "map",
                },
            ),
            (
                "blob_info_deleted",
                ExtFrame::BlobInfo {
                    flags: info_flag::DELETED,
                    uploader: 3,
                    tag: 0,
                    size: 0,
                    time_us: 4000,
                    key: "map",
                },
            ),
            (
                "blob_info_refused",
                ExtFrame::BlobInfo {
                    flags: info_flag::REFUSED,
                    uploader: 2,
                    tag: 7,
                    size: 67_108_864,
                    time_us: 5000,
                    key: "big",
                },
            ),
            ("blob_delete", ExtFrame::BlobDelete { key: "map" }),
            ("blob_have", ExtFrame::BlobHave { tag: 1, key: "map" }),
        ]
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn documented_vectors_match_the_encoder_and_the_decoder() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/session_ext.txt");
        let text = std::fs::read_to_string(path).unwrap();
        let want = frames();
        let mut seen = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            let (name, bytes) = line.split_once('|').unwrap();
            let (name, bytes) = (name.trim(), unhex(bytes));
            let (_, f) = want.iter().find(|(n, _)| *n == name).unwrap();
            assert_eq!(hex(&encode(f)), hex(&bytes), "{name}: encoder");
            let len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
            assert_eq!(len, bytes.len() - HEADER_LEN, "{name}: length");
            let got = decode(bytes[2], &bytes[HEADER_LEN..]).unwrap().unwrap();
            assert_eq!(&got, f, "{name}: decoder");
            seen += 1;
        }
        assert_eq!(seen, want.len(), "every frame has a vector");
    }

    #[test]
    #[ignore = "prints the vectors file"]
    fn print_vectors() {
        for (n, f) in frames() {
            println!("{n} | {}", hex(&encode(&f)));
        }
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }
    }

    #[test]
    fn random_and_mutated_payloads_never_panic_and_accepted_ones_reencode_exactly() {
        let mut rng = Rng(11);
        let seeds: Vec<Vec<u8>> = super::vectors::frames()
            .iter()
            .map(|(_, f)| encode(f))
            .collect();
        let mut accepted = 0;
        let runs = 200_000;
        for i in 0..runs {
            let (kind, payload) = if i % 2 == 0 {
                // Random bytes of a random kind of the range.
                let kind = kind::FIRST + (rng.next() % 16) as u8;
                let len = (rng.next() % 64) as usize;
                (
                    kind,
                    (0..len).map(|_| rng.next() as u8).collect::<Vec<u8>>(),
                )
            } else {
                // A valid frame with a few bytes flipped, cut or extended.
                let f = &seeds[(rng.next() % seeds.len() as u64) as usize];
                let mut p = f[HEADER_LEN..].to_vec();
                for _ in 0..1 + rng.next() % 3 {
                    if p.is_empty() {
                        break;
                    }
                    let at = (rng.next() % p.len() as u64) as usize;
                    match rng.next() % 3 {
                        0 => p[at] ^= 1 << (rng.next() % 8),
                        1 => p.truncate(at),
                        _ => p.push(rng.next() as u8),
                    }
                }
                (f[2], p)
            };
            if let Ok(Some(frame)) = decode(kind, &payload) {
                accepted += 1;
                if !matches!(frame, ExtFrame::Poses(_)) {
                    // Every field is kept as is: the frame re-encodes to the same bytes.
                    assert_eq!(&encode(&frame)[HEADER_LEN..], &payload[..], "{frame:?}");
                }
            }
        }
        println!("ext_wire fuzz: {runs} inputs, {accepted} accepted");
        assert!(
            accepted > 1000,
            "the mutations should keep many frames valid"
        );
    }
}
