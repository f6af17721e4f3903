//! A framed, nonblocking byte stream: [`FrameReader`] cuts received bytes into frames and
//! [`Outbox`] queues whole frames for writing in priority lanes, switching only between
//! frames: control (handshake, acknowledgements, heartbeats) first, then the newest-only slot
//! (a batch of poses: a newer one replaces it), then data (messages, presence, state) in order,
//! and bulk (blob chunks) only when nothing else waits, so a bulk transfer delays everything
//! else by at most the one chunk being written.
//! Neither touches a socket: the I/O glue reads into a shared scratch buffer, feeds it here,
//! and writes what [`Outbox::slices`] offers.

use crate::frame::{self, HEADER_LEN};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;

/// What the frame callback wants next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Keep delivering frames.
    Continue,
    /// Stop: keep the remaining bytes for a later [`FrameReader::resume`].
    Pause,
}

/// The callback that receives each whole frame: kind and payload.
pub type OnFrame<'a, E> = dyn FnMut(u8, &[u8]) -> Result<Flow, E> + 'a;

/// Why a stream was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError(pub String);

/// Cuts a byte stream into frames. Only a partial frame (or bytes left after a pause) is kept,
/// so an idle link holds no buffer.
#[derive(Default)]
pub struct FrameReader {
    pending: Vec<u8>,
    max_payload: usize,
}

impl FrameReader {
    /// A reader accepting payloads up to `max_payload` bytes.
    pub fn new(max_payload: usize) -> FrameReader {
        FrameReader {
            pending: Vec::new(),
            max_payload,
        }
    }

    /// Change the largest payload accepted from now on.
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Bytes held (a partial frame or paused input).
    pub fn held(&self) -> usize {
        self.pending.len()
    }

    /// Forget everything held (the link was replaced).
    pub fn clear(&mut self) {
        self.pending = Vec::new();
    }

    /// Feed received bytes; `on_frame(kind, payload)` sees each whole frame in order.
    /// Returns `Ok(Flow::Pause)` if the callback paused (the rest is kept), an error for a bad
    /// header (application kind 0x01 is not allowed on a session link), or the callback's error.
    pub fn feed<E: From<StreamError>>(
        &mut self,
        data: &[u8],
        on_frame: &mut OnFrame<'_, E>,
    ) -> Result<Flow, E> {
        if self.pending.is_empty() {
            let (used, flow) = Self::cut(data, self.max_payload, on_frame)?;
            self.pending.extend_from_slice(&data[used..]);
            return Ok(flow);
        }
        self.pending.extend_from_slice(data);
        self.resume(on_frame)
    }

    /// Deliver frames from held bytes (after a pause).
    pub fn resume<E: From<StreamError>>(
        &mut self,
        on_frame: &mut OnFrame<'_, E>,
    ) -> Result<Flow, E> {
        let buf = std::mem::take(&mut self.pending);
        let (used, flow) = Self::cut(&buf, self.max_payload, on_frame)?;
        let rest = &buf[used..];
        if !rest.is_empty() {
            self.pending = rest.to_vec();
        }
        Ok(flow)
    }

    fn cut<E: From<StreamError>>(
        mut data: &[u8],
        max: usize,
        on_frame: &mut OnFrame<'_, E>,
    ) -> Result<(usize, Flow), E> {
        let total = data.len();
        while data.len() >= HEADER_LEN {
            let mut h = [0u8; HEADER_LEN];
            h.copy_from_slice(&data[..HEADER_LEN]);
            let hdr = frame::decode_header(&h, max).map_err(|e| E::from(StreamError(e)))?;
            if hdr.is_message() {
                return Err(E::from(StreamError(
                    "application message frame (kind 0x01) on a session link".into(),
                )));
            }
            if data.len() < HEADER_LEN + hdr.len {
                break;
            }
            let payload = &data[HEADER_LEN..HEADER_LEN + hdr.len];
            data = &data[HEADER_LEN + hdr.len..];
            if on_frame(hdr.kind, payload)? == Flow::Pause {
                return Ok((total - data.len(), Flow::Pause));
            }
        }
        Ok((total - data.len(), Flow::Continue))
    }
}

/// A frame to write: owned, or shared between receivers (a relayed message).
pub type Bytes = Arc<[u8]>;

/// Whole frames waiting to be written, in two lanes.
#[derive(Default)]
pub struct Outbox {
    /// The frame being written (may be partly written), with bytes already written.
    current: Option<(Bytes, usize)>,
    control: VecDeque<Bytes>,
    latest: Option<Bytes>,
    data: VecDeque<Bytes>,
    bulk: VecDeque<Bytes>,
    bytes: usize,
}

impl Outbox {
    /// Queue a control frame (ack, heartbeat, handshake, bye): written before queued data.
    pub fn push_control(&mut self, f: Bytes) {
        self.bytes += f.len();
        self.control.push_back(f);
    }

    /// Queue a data frame, in order after earlier data frames.
    pub fn push_data(&mut self, f: Bytes) {
        self.bytes += f.len();
        self.data.push_back(f);
    }

    /// Set the newest-only frame (e.g. a batch of poses), replacing one not yet started.
    pub fn set_latest(&mut self, f: Bytes) {
        if let Some(old) = self.latest.replace(f) {
            self.bytes -= old.len().min(self.bytes);
        }
        self.bytes += self.latest.as_ref().map_or(0, |f| f.len());
    }

    /// Queue a bulk frame (a blob chunk): written only when no other lane has anything.
    pub fn push_bulk(&mut self, f: Bytes) {
        self.bytes += f.len();
        self.bulk.push_back(f);
    }

    /// True when a bulk frame would be written next (nothing else waits).
    fn bulk_turn(&self) -> bool {
        self.control.is_empty() && self.latest.is_none() && self.data.is_empty()
    }

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Drop the queued data, newest-only and bulk frames, keeping control frames and the frame being written (so the
    /// stream stays whole): the link is about to end and only its last words matter.
    pub fn drop_queued_data(&mut self) {
        let latest = self.latest.take().map_or(0, |f| f.len());
        let dropped: usize = self
            .data
            .iter()
            .chain(self.bulk.iter())
            .map(|f| f.len())
            .sum::<usize>()
            + latest;
        self.data.clear();
        self.bulk.clear();
        self.bytes -= dropped.min(self.bytes);
    }

    /// Drop everything (the link is gone).
    pub fn clear(&mut self) {
        *self = Outbox::default();
    }

    fn fill_current(&mut self) {
        if self.current.is_none() {
            let next = self
                .control
                .pop_front()
                .or_else(|| self.latest.take())
                .or_else(|| self.data.pop_front())
                .or_else(|| self.bulk.pop_front());
            if let Some(f) = next {
                self.current = Some((f, 0));
            }
        }
    }

    /// Up to `max` slices to hand to a vectored write, in order.
    pub fn slices(&mut self, max: usize) -> Vec<IoSlice<'_>> {
        self.fill_current();
        let mut v = Vec::with_capacity(max.min(1 + self.control.len() + self.data.len()));
        if let Some((f, off)) = &self.current {
            v.push(IoSlice::new(&f[*off..]));
        }
        // The same order `advance` consumes them in; at most one bulk frame per write, and only
        // when nothing else waits.
        let bulk = if self.bulk_turn() && v.is_empty() {
            self.bulk.front()
        } else {
            None
        };
        for f in self
            .control
            .iter()
            .chain(self.latest.iter())
            .chain(self.data.iter())
            .chain(bulk)
        {
            if v.len() >= max {
                break;
            }
            v.push(IoSlice::new(f));
        }
        v
    }

    /// Record that `n` bytes of what [`Outbox::slices`] offered were written.
    pub fn advance(&mut self, mut n: usize) {
        self.bytes -= n.min(self.bytes);
        while n > 0 {
            self.fill_current();
            let Some((f, off)) = self.current.as_mut() else {
                return;
            };
            let left = f.len() - *off;
            if n < left {
                *off += n;
                return;
            }
            n -= left;
            self.current = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::wire::{self, Frame};

    #[derive(Debug)]
    struct E(#[allow(dead_code)] String);
    impl From<StreamError> for E {
        fn from(e: StreamError) -> Self {
            E(e.0)
        }
    }

    #[test]
    fn frames_split_at_every_byte_boundary_are_delivered_whole_and_in_order() {
        let a = wire::encode(&Frame::Ack { count: 7 });
        let b = wire::encode(&Frame::Send {
            to: 3,
            payload: b"hello",
        });
        let all: Vec<u8> = [a.clone(), b.clone()].concat();
        for cut in 0..=all.len() {
            let mut r = FrameReader::new(1024);
            let mut got = Vec::new();
            for part in [&all[..cut], &all[cut..]] {
                r.feed::<E>(part, &mut |k, p| {
                    got.push((k, p.to_vec()));
                    Ok(Flow::Continue)
                })
                .unwrap();
            }
            assert_eq!(got.len(), 2, "cut {cut}");
            assert_eq!(got[1].1, b[8..].to_vec());
            assert_eq!(r.held(), 0);
        }
    }

    #[test]
    fn a_pause_keeps_the_rest_for_resume() {
        let f = wire::encode(&Frame::Ack { count: 1 });
        let all: Vec<u8> = [f.clone(), f.clone(), f.clone()].concat();
        let mut r = FrameReader::new(64);
        let mut n = 0;
        let flow = r.feed::<E>(&all, &mut |_, _| {
            n += 1;
            Ok(if n == 1 { Flow::Pause } else { Flow::Continue })
        });
        assert_eq!(flow.unwrap(), Flow::Pause);
        assert_eq!(r.held(), 2 * f.len());
        r.resume::<E>(&mut |_, _| {
            n += 1;
            Ok(Flow::Continue)
        })
        .unwrap();
        assert_eq!(n, 3);
        assert_eq!(r.held(), 0);
    }

    #[test]
    fn application_frames_and_oversized_frames_are_rejected() {
        let mut r = FrameReader::new(16);
        assert!(r
            .feed::<E>(&frame::encode_frame(b"x"), &mut |_, _| Ok(Flow::Continue))
            .is_err());
        let mut r = FrameReader::new(16);
        let big = wire::encode(&Frame::Send {
            to: 0,
            payload: &[0; 32],
        });
        assert!(r
            .feed::<E>(&big[..8], &mut |_, _| Ok(Flow::Continue))
            .is_err());
    }

    fn write_all(o: &mut Outbox, per_write: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while !o.is_empty() {
            let s = o.slices(per_write);
            let chunk: Vec<u8> = s.iter().flat_map(|x| x.iter().copied()).collect();
            drop(s);
            if chunk.is_empty() {
                break;
            }
            out.extend_from_slice(&chunk);
            o.advance(chunk.len());
        }
        out
    }

    #[test]
    fn lanes_go_control_then_newest_then_data_then_bulk_and_newest_replaces() {
        let mut o = Outbox::default();
        o.push_bulk(Arc::from(&b"<blob1>"[..]));
        o.push_bulk(Arc::from(&b"<blob2>"[..]));
        o.push_data(Arc::from(&b"<msg>"[..]));
        o.set_latest(Arc::from(&b"<pose1>"[..]));
        o.set_latest(Arc::from(&b"<pose2>"[..]));
        o.push_control(Arc::from(&b"<ack>"[..]));
        assert_eq!(o.len(), 7 + 7 + 5 + 7 + 5);
        assert_eq!(write_all(&mut o, 64), b"<ack><pose2><msg><blob1><blob2>");
    }

    #[test]
    fn a_pose_waits_behind_at_most_the_bulk_frame_being_written() {
        let mut o = Outbox::default();
        o.push_bulk(Arc::from(&[b'b'; 100][..]));
        o.push_bulk(Arc::from(&[b'c'; 100][..]));
        let s = o.slices(64);
        assert_eq!(s.len(), 1, "one bulk frame per write");
        drop(s);
        o.advance(40); // part of the first chunk is out
        o.set_latest(Arc::from(&b"POSE"[..]));
        let out = write_all(&mut o, 64);
        assert_eq!(&out[..60], &[b'b'; 60][..]);
        assert_eq!(&out[60..64], b"POSE");
        assert_eq!(&out[64..], &[b'c'; 100][..]);
    }

    #[test]
    fn dropping_queued_data_keeps_the_frame_in_progress_and_control_frames() {
        let mut o = Outbox::default();
        o.push_data(Arc::from(&b"AAAA"[..]));
        o.push_data(Arc::from(&b"BBBB"[..]));
        let s = o.slices(1);
        drop(s);
        o.advance(2); // "AA" of the first frame written
        o.push_control(Arc::from(&b"C"[..]));
        o.drop_queued_data();
        o.push_data(Arc::from(&b"BYE"[..]));
        assert_eq!(o.len(), 2 + 1 + 3);
        let mut out = Vec::new();
        while !o.is_empty() {
            let s = o.slices(8);
            let chunk: Vec<u8> = s.iter().flat_map(|x| x.iter().copied()).collect();
            drop(s);
            out.extend_from_slice(&chunk);
            o.advance(chunk.len());
        }
        assert_eq!(out, b"AACBYE");
    }

    #[test]
    fn outbox_writes_control_before_data_but_never_splits_a_frame() {
        let mut o = Outbox::default();
        o.push_data(Arc::from(&b"DATA1"[..]));
        o.push_data(Arc::from(&b"DATA2"[..]));
        let s = o.slices(8);
        assert_eq!(&*s[0], b"DATA1");
        drop(s);
        o.advance(2); // DATA1 partly written
        o.push_control(Arc::from(&b"ACK"[..]));
        let mut out = Vec::new();
        while !o.is_empty() {
            let s = o.slices(1);
            let first = s[0].to_vec();
            drop(s);
            out.extend_from_slice(&first);
            o.advance(first.len());
        }
        assert_eq!(out, b"TA1ACKDATA2");
    }
}
