//! The wire format of message mode (docs/PROTOCOL.md is the normative description).
//!
//! Every message travels as one frame: an 8-byte header followed by the payload.
//!
//! | offset | size | field   | value                                                |
//! |--------|------|---------|------------------------------------------------------|
//! | 0      | 1    | magic   | 0xA5                                                 |
//! | 1      | 1    | version | 1 (the framing version)                              |
//! | 2      | 1    | kind    | 0x01 application message; 0x80..=0xFF extensions      |
//! | 3      | 1    | flags   | 0 (reserved; must be 0 in version 1)                 |
//! | 4      | 4    | length  | payload length, unsigned little-endian               |
//!
//! A version-1 receiver skips frames of an extension kind (0x80..=0xFF) it does not know,
//! so later layers (sessions, poses, clock sync) can talk to old peers; any other kind,
//! version or flags value is a protocol error.

/// Size of a frame header in bytes.
pub const HEADER_LEN: usize = 8;
/// First byte of every frame.
pub const MAGIC: u8 = 0xA5;
/// The framing version this library speaks.
pub const VERSION: u8 = 1;
/// Kind of an application message.
pub const KIND_MESSAGE: u8 = 0x01;
/// Kinds from this value up are extensions a receiver that does not know them skips.
pub const KIND_EXTENSION_MIN: u8 = 0x80;
/// Largest payload the length field can describe.
pub const MAX_WIRE_LEN: usize = u32::MAX as usize;

/// A decoded header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Frame kind (see the module docs).
    pub kind: u8,
    /// Payload length in bytes.
    pub len: usize,
}

impl Header {
    /// True for frames the application sees; false for extension frames to skip.
    pub fn is_message(&self) -> bool {
        self.kind == KIND_MESSAGE
    }
}

/// Encode the header of an application message of `len` bytes (`len` <= `MAX_WIRE_LEN`).
pub fn encode_header(len: usize) -> [u8; HEADER_LEN] {
    debug_assert!(len <= MAX_WIRE_LEN);
    let l = (len as u32).to_le_bytes();
    [MAGIC, VERSION, KIND_MESSAGE, 0, l[0], l[1], l[2], l[3]]
}

/// Encode a whole frame (header and payload) into a new vector.
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER_LEN + payload.len());
    v.extend_from_slice(&encode_header(payload.len()));
    v.extend_from_slice(payload);
    v
}

/// Decode and validate a header against the receiver's size limit `max_len`.
/// The limit is checked here, on the announced length, before anything is allocated.
#[inline]
pub fn decode_header(b: &[u8; HEADER_LEN], max_len: usize) -> Result<Header, String> {
    let len = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    if b[0] == MAGIC && b[1] == VERSION && b[2] == KIND_MESSAGE && b[3] == 0 && len <= max_len {
        return Ok(Header {
            kind: KIND_MESSAGE,
            len,
        }); // the common case, checked in one go
    }
    decode_header_slow(b, len, max_len)
}

#[cold]
fn decode_header_slow(b: &[u8; HEADER_LEN], len: usize, max_len: usize) -> Result<Header, String> {
    if b[0] != MAGIC {
        return Err(format!(
            "bad frame magic 0x{:02x} (expected 0x{MAGIC:02x})",
            b[0]
        ));
    }
    if b[1] != VERSION {
        return Err(format!(
            "unsupported framing version {} (this side speaks {VERSION})",
            b[1]
        ));
    }
    let kind = b[2];
    if kind != KIND_MESSAGE && kind < KIND_EXTENSION_MIN {
        return Err(format!("unknown frame kind 0x{kind:02x}"));
    }
    if b[3] != 0 {
        return Err(format!("reserved flags 0x{:02x} set", b[3]));
    }
    if len > max_len {
        return Err(format!(
            "peer announced a {len}-byte frame; the limit is {max_len} bytes"
        ));
    }
    Ok(Header { kind, len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let h = encode_header(0x0102_0304);
        assert_eq!(h, [0xA5, 1, 1, 0, 4, 3, 2, 1]);
        assert_eq!(
            decode_header(&h, usize::MAX),
            Ok(Header {
                kind: 1,
                len: 0x0102_0304
            })
        );
    }

    #[test]
    fn limit_is_inclusive_and_checked_on_the_announced_length() {
        let h = encode_header(100);
        assert!(decode_header(&h, 100).is_ok());
        assert!(decode_header(&h, 99).unwrap_err().contains("limit"));
    }

    #[test]
    fn bad_magic_version_kind_and_flags_are_rejected() {
        let ok = encode_header(1);
        for (i, v) in [(0, 0x00), (1, 2), (2, 0x02), (3, 1)] {
            let mut b = ok;
            b[i] = v;
            assert!(decode_header(&b, 16).is_err(), "byte {i} = {v}");
        }
        let mut ext = ok;
        ext[2] = 0x80;
        assert!(!decode_header(&ext, 16).unwrap().is_message());
    }
}
