//! The receive buffer of message mode: allocated on the first read (4 KiB), grown as reads
//! fill it (to 64 KiB) or to exactly the size a frame needs, never by infallible allocation
//! (running out of memory is an error, not an abort), and given back when idle.

use crate::error::{Error, Result};
use std::io;
use std::time::Instant;

/// Size of the receive buffer a message-mode connection starts with, allocated on its first
/// read (grows while reads fill it, and for larger frames).
const FIRST: usize = 4 << 10;
/// A buffer grown beyond this (for a large frame) is given back as soon as it is empty.
const CHUNK: usize = 64 << 10;
/// Reads that keep filling the buffer grow it up to this (about 200 small messages per
/// syscall; a larger buffer would mostly add memory held per connection).
const READ_MAX: usize = 16 << 10;

/// A buffer grown beyond this is given back once the connection has been idle a while (see
/// `settle`), so an idle connection holds at most `FIRST` bytes of receive buffer.
const SHRINK_ABOVE: usize = FIRST;

/// What the receive buffer holds at its front.
pub(super) enum Next {
    /// A whole application message: payload offset and length.
    Frame(usize, usize),
    /// An incomplete frame that needs this many bytes in total (header included); `true` if
    /// it is an application message (its header has arrived).
    Need(usize, bool),
}

/// The frame timeout's clock for the frame being assembled.
#[derive(Debug, Default)]
pub(super) struct FrameClock {
    /// When the first byte of the frame was seen.
    pub(super) started: Option<Instant>,
    /// Probation after the frame timeout: when it began and how much of the frame was here.
    pub(super) probe: Option<(Instant, usize)>,
}

#[derive(Debug, Default)]
pub(crate) struct RecvState {
    pub(super) buf: Vec<u8>,
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) clock: FrameClock,
    /// The last read returned end of stream.
    pub(super) eof: bool,
    /// The last read filled the buffer (more may be waiting): a full buffer may grow.
    pub(super) filled: bool,
    /// A trim timer is set on the I/O thread (see `trim_if_idle`).
    pub(super) trim_armed: bool,
    /// A receive ran since the trim timer was set.
    pub(super) active: bool,
    /// A large buffer was given back since the trim timer was set (the timer then has the
    /// free memory returned to the OS).
    pub(super) freed_big: bool,
}

/// Grow `buf` to exactly `len` bytes, failing cleanly (nothing changed) if the memory cannot
/// be had: running out of memory while receiving must never abort the host process.
fn grow_exact(buf: &mut Vec<u8>, len: usize) -> Result<()> {
    if len > buf.len() {
        buf.try_reserve_exact(len - buf.len()).map_err(|_| {
            Error::Io(io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("cannot allocate {len} bytes for the receive buffer"),
            ))
        })?;
        buf.resize(len, 0);
    }
    Ok(())
}

impl RecvState {
    pub(super) fn has_bytes(&self) -> bool {
        self.end > self.start
    }

    pub(super) fn at_eof(&self) -> bool {
        self.eof
    }

    pub(super) fn consume(&mut self, n: usize) {
        self.start += n;
        self.clock = FrameClock::default();
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The receive is over. A buffer grown past `CHUNK` (for a large message) goes back to the
    /// allocator as soon as it is empty; one grown past `SHRINK_ABOVE` is kept while the
    /// connection is busy (re-growing it on every read would cost) and given back by the I/O
    /// thread once the connection has been idle a while. Returns true if that trim timer must
    /// be set.
    #[must_use]
    pub(super) fn settle(&mut self) -> bool {
        if self.buf.len() <= SHRINK_ABOVE {
            return false;
        }
        if self.start == self.end && self.buf.len() > CHUNK {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
            self.freed_big = true;
            return !std::mem::replace(&mut self.trim_armed, true);
        }
        self.active = true;
        !std::mem::replace(&mut self.trim_armed, true)
    }

    /// The trim timer fired: give an empty buffer back if no receive ran since it was set.
    /// Returns whether the timer must be set again, and whether memory was given back.
    pub(super) fn trim_if_idle(&mut self) -> (bool, bool) {
        let freed_big = std::mem::take(&mut self.freed_big);
        if std::mem::take(&mut self.active) {
            return (true, freed_big);
        }
        self.trim_armed = false;
        if self.start == self.end && self.buf.len() > SHRINK_ABOVE {
            self.buf = Vec::new();
            self.start = 0;
            self.end = 0;
            return (false, true);
        }
        (false, freed_big)
    }

    /// Append `bytes` of the frame being assembled (they were read elsewhere).
    pub(super) fn keep(&mut self, bytes: &[u8]) -> Result<()> {
        self.buf.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
        let len = self.end + bytes.len();
        grow_exact(&mut self.buf, len)?;
        self.buf[self.end..len].copy_from_slice(bytes);
        self.end = len;
        Ok(())
    }

    /// Make room to read more of a frame of `frame_len` bytes (header included) that starts at
    /// `start`. Memory grows only as data actually arrives: at most doubling, never past the
    /// frame, and the frame's length was already checked against the limit. Allocation
    /// failure is an error, never an abort; the buffer grows to exactly the size needed.
    pub(super) fn make_room(&mut self, frame_len: usize) -> Result<()> {
        if self.buf.is_empty() {
            grow_exact(&mut self.buf, FIRST)?;
        }
        let tail_free = self.buf.len() - self.end;
        if self.start > 0
            && (tail_free < self.buf.len() / 4 || self.buf.len() - self.start < frame_len)
        {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        let len = self.buf.len();
        if self.end == len {
            // Full: grow toward the frame's size, or (reads filling the buffer) up to READ_MAX.
            let target = if frame_len > len { frame_len } else { READ_MAX };
            if target > len {
                grow_exact(&mut self.buf, (len * 2).min(target))?;
            }
        } else if self.filled && self.end - self.start < frame_len.max(1) && len < READ_MAX {
            // Bursts: reads keep filling the buffer, so read more per syscall.
            grow_exact(&mut self.buf, (len * 2).min(READ_MAX))?;
        }
        Ok(())
    }
}
