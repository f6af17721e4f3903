//! Session frames: extension frames (kinds 0x80–0x8F) of the framing in [`crate::frame`].
//! docs/PROTOCOL.md ("Sessions") is the normative description; every field is little-endian.
//!
//! The decoder is bounded: it reads only inside the payload it is given, checks every length
//! against the limits of [`super::limits`] before using it, and returns a [`Malformed`] reason
//! instead of panicking. Kinds 0x90–0xFF are not session frames ([`decode`] returns `Ok(None)`,
//! to be skipped): 0x90–0x9F are reserved for poses, the clock and blobs.

use super::limits;
use crate::frame::{HEADER_LEN, MAGIC, VERSION};

/// The session protocol version carried in HELLO and WELCOME.
pub const PROTOCOL_VERSION: u8 = 1;

/// Frame kinds.
pub mod kind {
    /// Device → hub: join or resume a room.
    pub const HELLO: u8 = 0x80;
    /// Hub → device: joined; the snapshot follows.
    pub const WELCOME: u8 = 0x81;
    /// Hub → device: join refused.
    pub const REJECT: u8 = 0x82;
    /// Hub → device: a peer is present (snapshot), joined, stale, resumed or left.
    pub const PEER: u8 = 0x83;
    /// Hub → device: a state entry (snapshot) or a change.
    pub const STATE: u8 = 0x84;
    /// Hub → device: end of the snapshot; live traffic follows.
    pub const SNAPSHOT_END: u8 = 0x85;
    /// Hub → device: a reliable message from a peer (counted in the hub → device stream).
    pub const MSG: u8 = 0x86;
    /// Device → hub: a reliable message to one peer or all (counted in the device → hub stream).
    pub const SEND: u8 = 0x87;
    /// Device → hub: set or delete a state key (counted in the device → hub stream).
    pub const SET_STATE: u8 = 0x88;
    /// Either way: cumulative count of counted frames received; also the idle heartbeat.
    pub const ACK: u8 = 0x89;
    /// Either way: the sender ends the link (with a reason).
    pub const BYE: u8 = 0x8A;
    /// Last kind of the session range.
    pub const LAST_SESSION: u8 = 0x8F;
}

/// PEER frame `what` values.
pub mod peer_what {
    /// Part of a snapshot: the peer is in the room.
    pub const PRESENT: u8 = 1;
    /// The peer joined.
    pub const JOINED: u8 = 2;
    /// The peer went stale.
    pub const STALE: u8 = 3;
    /// The peer was heard again.
    pub const RESUMED: u8 = 4;
    /// The peer left (with a reason).
    pub const LEFT: u8 = 5;
}

/// STATE / SET_STATE flags.
pub mod state_flag {
    /// The key was (is to be) deleted; the value is empty.
    pub const DELETED: u8 = 1;
    /// STATE only: part of a snapshot.
    pub const SNAPSHOT: u8 = 2;
}

/// PEER flag: the peer is stale (in snapshots).
pub const PEER_FLAG_STALE: u8 = 1;
/// MSG flag: addressed to this peer alone.
pub const MSG_FLAG_DIRECT: u8 = 1;

/// Largest payload of a session frame this side accepts.
pub const MAX_FRAME_PAYLOAD: usize = limits::MAX_MESSAGE + 64;

/// Device → hub HELLO.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello<'a> {
    /// Session protocol version ([`PROTOCOL_VERSION`]).
    pub version: u8,
    /// Peer id to resume (0 = join as a new peer).
    pub resume_peer: u32,
    /// Secret from WELCOME proving the resume.
    pub resume_key: u64,
    /// Counted hub → device frames received so far (resume: resend after this).
    pub ack: u64,
    /// Room name, 1–64 bytes.
    pub room: &'a str,
    /// Peer name, ≤ 64 bytes.
    pub name: &'a str,
    /// Auth token, ≤ 1024 bytes (empty = none).
    pub token: &'a [u8],
}

/// Hub → device WELCOME.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// Session protocol version.
    pub version: u8,
    /// The device's peer id (≥ 1).
    pub peer: u32,
    /// Secret for a later resume.
    pub resume_key: u64,
    /// Counted device → hub frames the hub has received (resend after this).
    pub ack: u64,
    /// Hub time when sent.
    pub time_us: i64,
    /// Heartbeat interval when idle.
    pub heartbeat_ms: u32,
    /// Silence after which a link counts as stale.
    pub stale_ms: u32,
    /// Resume grace (-1 = none).
    pub grace_ms: i32,
    /// Counted frames the hub dropped for this peer while it was away.
    pub dropped: u64,
    /// 1 when this is a resume of an existing peer.
    pub resumed: u8,
}

/// A decoded session frame, borrowing its variable parts from the payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// See [`Hello`].
    Hello(Hello<'a>),
    /// See [`Welcome`].
    Welcome(Welcome),
    /// Join refused.
    Reject { reason: i32, text: &'a str },
    /// Presence.
    Peer {
        what: u8,
        flags: u8,
        peer: u32,
        reason: i32,
        time_us: i64,
        name: &'a str,
    },
    /// State entry or change.
    State {
        flags: u8,
        writer: u32,
        time_us: i64,
        key: &'a str,
        value: &'a [u8],
    },
    /// End of a snapshot.
    SnapshotEnd { time_us: i64, peers: u32, keys: u32 },
    /// Relayed message.
    Msg {
        flags: u8,
        from: u32,
        time_us: i64,
        payload: &'a [u8],
    },
    /// Message to relay (`to` 0 = everyone else).
    Send { to: u32, payload: &'a [u8] },
    /// State write.
    SetState {
        flags: u8,
        key: &'a str,
        value: &'a [u8],
    },
    /// Cumulative acknowledgement / heartbeat.
    Ack { count: u64 },
    /// End of the link.
    Bye { reason: i32 },
}

/// Why a frame was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Malformed {
    /// The payload ends before a field.
    Truncated,
    /// Bytes left over after the last field.
    TrailingBytes,
    /// A text field is not UTF-8.
    BadUtf8,
    /// A length is over its limit (or an empty room or key).
    BadLength,
    /// A field has a value outside its range (unknown `what`, flags, peer 0 ...).
    BadValue,
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Malformed::Truncated => "truncated",
            Malformed::TrailingBytes => "trailing bytes",
            Malformed::BadUtf8 => "text is not UTF-8",
            Malformed::BadLength => "length out of range",
            Malformed::BadValue => "field value out of range",
        })
    }
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.b.len() < n {
            return Err(Malformed::Truncated);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn i32(&mut self) -> Result<i32, Malformed> {
        Ok(self.u32()? as i32)
    }
    fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    fn i64(&mut self) -> Result<i64, Malformed> {
        Ok(self.u64()? as i64)
    }
    /// A text with a one-byte length, `min..=max` bytes.
    fn str8(&mut self, min: usize, max: usize) -> Result<&'a str, Malformed> {
        let n = self.u8()? as usize;
        if n < min || n > max {
            return Err(Malformed::BadLength);
        }
        std::str::from_utf8(self.take(n)?).map_err(|_| Malformed::BadUtf8)
    }
    fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.b)
    }
    fn end(&self) -> Result<(), Malformed> {
        if self.b.is_empty() {
            Ok(())
        } else {
            Err(Malformed::TrailingBytes)
        }
    }
}

fn check(ok: bool) -> Result<(), Malformed> {
    if ok {
        Ok(())
    } else {
        Err(Malformed::BadValue)
    }
}

/// Decode the payload of a frame of `kind`. `Ok(None)`: not a session kind (skip it).
pub fn decode(kind: u8, payload: &[u8]) -> Result<Option<Frame<'_>>, Malformed> {
    if !(kind::HELLO..=kind::LAST_SESSION).contains(&kind) {
        return Ok(None);
    }
    if payload.len() > MAX_FRAME_PAYLOAD {
        return Err(Malformed::BadLength);
    }
    let mut r = Reader { b: payload };
    let f = match kind {
        kind::HELLO => {
            let version = r.u8()?;
            let resume_peer = r.u32()?;
            let resume_key = r.u64()?;
            let ack = r.u64()?;
            let room = r.str8(1, limits::MAX_ROOM)?;
            let name = r.str8(0, limits::MAX_NAME)?;
            let n = r.u16()? as usize;
            if n > limits::MAX_TOKEN {
                return Err(Malformed::BadLength);
            }
            let token = r.take(n)?;
            Frame::Hello(Hello {
                version,
                resume_peer,
                resume_key,
                ack,
                room,
                name,
                token,
            })
        }
        kind::WELCOME => {
            let w = Welcome {
                version: r.u8()?,
                peer: r.u32()?,
                resume_key: r.u64()?,
                ack: r.u64()?,
                time_us: r.i64()?,
                heartbeat_ms: r.u32()?,
                stale_ms: r.u32()?,
                grace_ms: r.i32()?,
                dropped: r.u64()?,
                resumed: r.u8()?,
            };
            check(w.peer != 0 && w.resumed <= 1 && w.heartbeat_ms > 0 && w.stale_ms > 0)?;
            check(w.grace_ms >= -1)?;
            Frame::Welcome(w)
        }
        kind::REJECT => {
            let reason = r.i32()?;
            let n = r.u16()? as usize;
            let text = std::str::from_utf8(r.take(n)?).map_err(|_| Malformed::BadUtf8)?;
            Frame::Reject { reason, text }
        }
        kind::PEER => {
            let what = r.u8()?;
            let flags = r.u8()?;
            let peer = r.u32()?;
            let reason = r.i32()?;
            let time_us = r.i64()?;
            let name = r.str8(0, limits::MAX_NAME)?;
            check((peer_what::PRESENT..=peer_what::LEFT).contains(&what))?;
            check(flags & !PEER_FLAG_STALE == 0 && peer != 0)?;
            Frame::Peer {
                what,
                flags,
                peer,
                reason,
                time_us,
                name,
            }
        }
        kind::STATE => {
            let flags = r.u8()?;
            let writer = r.u32()?;
            let time_us = r.i64()?;
            let key = r.str8(1, limits::MAX_KEY)?;
            let value = r.rest();
            check(flags & !(state_flag::DELETED | state_flag::SNAPSHOT) == 0)?;
            check(flags & state_flag::DELETED == 0 || value.is_empty())?;
            if value.len() > limits::MAX_VALUE {
                return Err(Malformed::BadLength);
            }
            Frame::State {
                flags,
                writer,
                time_us,
                key,
                value,
            }
        }
        kind::SNAPSHOT_END => Frame::SnapshotEnd {
            time_us: r.i64()?,
            peers: r.u32()?,
            keys: r.u32()?,
        },
        kind::MSG => {
            let flags = r.u8()?;
            let from = r.u32()?;
            let time_us = r.i64()?;
            let payload = r.rest();
            check(flags & !MSG_FLAG_DIRECT == 0 && from != 0)?;
            if payload.len() > limits::MAX_MESSAGE {
                return Err(Malformed::BadLength);
            }
            Frame::Msg {
                flags,
                from,
                time_us,
                payload,
            }
        }
        kind::SEND => {
            let to = r.u32()?;
            let payload = r.rest();
            if payload.len() > limits::MAX_MESSAGE {
                return Err(Malformed::BadLength);
            }
            Frame::Send { to, payload }
        }
        kind::SET_STATE => {
            let flags = r.u8()?;
            let key = r.str8(1, limits::MAX_KEY)?;
            let value = r.rest();
            check(flags & !state_flag::DELETED == 0)?;
            check(flags & state_flag::DELETED == 0 || value.is_empty())?;
            if value.len() > limits::MAX_VALUE {
                return Err(Malformed::BadLength);
            }
            Frame::SetState { flags, key, value }
        }
        kind::ACK => Frame::Ack { count: r.u64()? },
        kind::BYE => Frame::Bye { reason: r.i32()? },
        _ => return Ok(None), // 0x8B..=0x8F: reserved session kinds, skipped
    };
    r.end()?;
    Ok(Some(f))
}

/// Builds one frame: header, then fields; the length is patched in by [`Enc::done`].
struct Enc(Vec<u8>);

impl Enc {
    fn new(kind: u8, cap: usize) -> Enc {
        let mut v = Vec::with_capacity(HEADER_LEN + cap);
        v.extend_from_slice(&[MAGIC, VERSION, kind, 0, 0, 0, 0, 0]);
        Enc(v)
    }
    fn u8(mut self, x: u8) -> Self {
        self.0.push(x);
        self
    }
    fn u16(mut self, x: u16) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn u32(mut self, x: u32) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn i32(self, x: i32) -> Self {
        self.u32(x as u32)
    }
    fn u64(mut self, x: u64) -> Self {
        self.0.extend_from_slice(&x.to_le_bytes());
        self
    }
    fn i64(self, x: i64) -> Self {
        self.u64(x as u64)
    }
    /// Text with a one-byte length (callers keep texts ≤ 255 bytes; longer is cut).
    fn str8(mut self, s: &str) -> Self {
        let b = &s.as_bytes()[..s.len().min(255)];
        self.0.push(b.len() as u8);
        self.0.extend_from_slice(b);
        self
    }
    fn bytes(mut self, b: &[u8]) -> Self {
        self.0.extend_from_slice(b);
        self
    }
    fn done(mut self) -> Vec<u8> {
        let len = (self.0.len() - HEADER_LEN) as u32;
        self.0[4..8].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// Encode a whole frame (header included). Fields must be within the limits [`decode`]
/// checks; the cores validate caller input before building frames.
pub fn encode(f: &Frame<'_>) -> Vec<u8> {
    match f {
        Frame::Hello(h) => Enc::new(
            kind::HELLO,
            32 + h.room.len() + h.name.len() + h.token.len(),
        )
        .u8(h.version)
        .u32(h.resume_peer)
        .u64(h.resume_key)
        .u64(h.ack)
        .str8(h.room)
        .str8(h.name)
        .u16(h.token.len().min(u16::MAX as usize) as u16)
        .bytes(&h.token[..h.token.len().min(u16::MAX as usize)])
        .done(),
        Frame::Welcome(w) => Enc::new(kind::WELCOME, 50)
            .u8(w.version)
            .u32(w.peer)
            .u64(w.resume_key)
            .u64(w.ack)
            .i64(w.time_us)
            .u32(w.heartbeat_ms)
            .u32(w.stale_ms)
            .i32(w.grace_ms)
            .u64(w.dropped)
            .u8(w.resumed)
            .done(),
        Frame::Reject { reason, text } => {
            let t = &text.as_bytes()[..text.len().min(u16::MAX as usize)];
            Enc::new(kind::REJECT, 6 + t.len())
                .i32(*reason)
                .u16(t.len() as u16)
                .bytes(t)
                .done()
        }
        Frame::Peer {
            what,
            flags,
            peer,
            reason,
            time_us,
            name,
        } => Enc::new(kind::PEER, 20 + name.len())
            .u8(*what)
            .u8(*flags)
            .u32(*peer)
            .i32(*reason)
            .i64(*time_us)
            .str8(name)
            .done(),
        Frame::State {
            flags,
            writer,
            time_us,
            key,
            value,
        } => Enc::new(kind::STATE, 14 + key.len() + value.len())
            .u8(*flags)
            .u32(*writer)
            .i64(*time_us)
            .str8(key)
            .bytes(value)
            .done(),
        Frame::SnapshotEnd {
            time_us,
            peers,
            keys,
        } => Enc::new(kind::SNAPSHOT_END, 16)
            .i64(*time_us)
            .u32(*peers)
            .u32(*keys)
            .done(),
        Frame::Msg {
            flags,
            from,
            time_us,
            payload,
        } => Enc::new(kind::MSG, 13 + payload.len())
            .u8(*flags)
            .u32(*from)
            .i64(*time_us)
            .bytes(payload)
            .done(),
        Frame::Send { to, payload } => Enc::new(kind::SEND, 4 + payload.len())
            .u32(*to)
            .bytes(payload)
            .done(),
        Frame::SetState { flags, key, value } => {
            Enc::new(kind::SET_STATE, 2 + key.len() + value.len())
                .u8(*flags)
                .str8(key)
                .bytes(value)
                .done()
        }
        Frame::Ack { count } => Enc::new(kind::ACK, 8).u64(*count).done(),
        Frame::Bye { reason } => Enc::new(kind::BYE, 4).i32(*reason).done(),
    }
}

/// True for frames counted in the reliable streams (resent after a resume).
pub fn is_counted(kind: u8) -> bool {
    matches!(kind, kind::MSG | kind::SEND | kind::SET_STATE)
}

#[cfg(test)]
pub(crate) mod tests;
