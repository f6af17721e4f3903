//! A framed, nonblocking byte stream: [`FrameReader`] cuts received bytes into frames and
//! [`Outbox`] queues whole frames for writing, in two lanes (control before data, switching
//! only between frames), so an acknowledgement or a heartbeat never waits behind a backlog.
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
    data: VecDeque<Bytes>,
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

    /// Bytes not yet written.
    pub fn len(&self) -> usize {
        self.bytes
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.bytes == 0
    }

    /// Drop everything (the link is gone).
    pub fn clear(&mut self) {
        *self = Outbox::default();
    }

    fn fill_current(&mut self) {
        if self.current.is_none() {
            if let Some(f) = self.control.pop_front().or_else(|| self.data.pop_front()) {
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
        // Control frames first, then data: the same order `advance` consumes them in.
        for f in self.control.iter().chain(self.data.iter()) {
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
