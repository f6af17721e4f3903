//! The receive paths. Raw mode reads straight into the caller's buffer (plain-socket
//! semantics). Message mode reads in large chunks into a per-connection buffer and hands out
//! whole frames from it, so many small messages cost one syscall; each message is copied
//! once, from that buffer to the caller's. The rest of a large message is read straight into
//! the caller's buffer instead, when it fits there.

use super::rxbuf::{FrameClock, Next, RecvState};
use super::Shared;
use crate::error::{Error, Result};
use crate::frame::{self, HEADER_LEN};
use crate::sys::{self, Ready};
use crate::timeout::{Deadline, Timeout};
use std::io;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Probation after the frame timeout: the frame must grow by `PROBE_PROGRESS` bytes within
/// `PROBE_WINDOW` (4 KiB/s) or it fails.
const PROBE_WINDOW: Duration = Duration::from_secs(1);
const PROBE_PROGRESS: usize = 4 << 10;
/// A receive with timeout 0 does at most this many reads of an incomplete message (about
/// 1 MiB as the buffer grows), then reports a timeout: it must never keep a render loop busy
/// while a large message streams in.
const POLL_FILLS: u32 = 8;
/// Messages at least this large are read straight into the caller's buffer.
const DIRECT_MIN: usize = 16 << 10;

impl Shared {
    /// One `recv` into `target`, keeping `rx_hint` true to the socket: cleared before the
    /// call (an edge a poller sees from now on sets it again), set when the read filled
    /// `target` (more may be waiting) or hit the end of stream.
    fn recv_hinted(&self, target: &mut [u8], nonblocking: bool) -> io::Result<usize> {
        self.rx_hint.store(false, SeqCst);
        let r = sys::recv(self.fd, target, nonblocking);
        match r {
            Ok(n) if n == 0 || n == target.len() => self.rx_hint.store(true, SeqCst),
            Err(ref e) if e.kind() != io::ErrorKind::WouldBlock => self.rx_hint.store(true, SeqCst),
            _ => {}
        }
        r
    }

    /// One read that waits at most until `deadline`. A finite deadline is a blocking `recv`
    /// bounded by the socket's receive timeout (SO_RCVTIMEO, set only when it changes), so a
    /// receive with a steady timeout costs one syscall per message, like a blocking socket
    /// (not a failed non-blocking read, a poll and a read). The timeout running out reads as
    /// `WouldBlock`; `close` wakes the read as it wakes a blocking one.
    fn recv_until(&self, target: &mut [u8], deadline: Deadline) -> io::Result<usize> {
        match deadline {
            Deadline::Never => self.recv_hinted(target, false),
            Deadline::Now => self.recv_hinted(target, true),
            Deadline::At(t) => {
                let left = t.saturating_duration_since(Instant::now());
                let ms = left.as_micros().div_ceil(1000).min(u32::MAX as u128) as u32;
                if ms == 0 {
                    return self.recv_hinted(target, true);
                }
                if self.rcvtimeo_ms.load(Relaxed) != ms {
                    self.sock
                        .set_read_timeout(Some(Duration::from_millis(ms as u64)))?;
                    self.rcvtimeo_ms.store(ms, Relaxed);
                }
                self.recv_hinted(target, false)
            }
        }
    }

    pub(super) fn recv_raw(&self, buf: &mut [u8], timeout: Timeout) -> Result<usize> {
        let deadline = timeout.deadline();
        let _guard = self.lock_recv_by(deadline)?;
        self.check_alive()?;
        loop {
            match self.recv_until(buf, deadline) {
                Ok(0) => return Err(self.eof_error()),
                Ok(n) => {
                    self.recv_since_send.store(true, Relaxed);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait_readable(deadline)?,
                Err(e) => return Err(self.recv_failed(e)),
            }
        }
    }

    pub(super) fn recv_msg(self: &Arc<Self>, out: &mut [u8], timeout: Timeout) -> Result<usize> {
        let deadline = timeout.deadline();
        let mut st = self.lock_recv_by(deadline)?;
        self.check_alive()?;
        let max = self.max_message.load(Relaxed);
        let mut fills = 0;
        loop {
            match self.buffered_frame(&mut st, max)? {
                Next::Frame(body, len) => {
                    if out.len() < len {
                        return Err(Error::BufferTooSmall { needed: len });
                    }
                    out[..len].copy_from_slice(&st.buf[body..body + len]);
                    st.consume(HEADER_LEN + len);
                    if st.settle() {
                        self.arm_recv_trim();
                    }
                    self.recv_since_send.store(true, Relaxed);
                    return Ok(len);
                }
                // Only a blocking receive reads straight into `out`: a receive that may time out
                // must leave `out` untouched when it fails (render loops keep showing it).
                Next::Need(need, true)
                    if matches!(deadline, Deadline::Never)
                        && need - HEADER_LEN >= DIRECT_MIN
                        && out.len() >= need - HEADER_LEN =>
                {
                    return self.recv_direct(&mut st, &mut out[..need - HEADER_LEN], deadline);
                }
                Next::Need(need, _) => {
                    Self::poll_budget(deadline, &mut fills)?;
                    st.make_room(need)?;
                    self.fill(&mut st, deadline)?;
                }
            }
        }
    }

    /// The header of a large message is buffered and `out` is exactly its size: copy what is
    /// buffered, read the rest straight into `out` (saving a copy; the buffer never grows to
    /// the message's size). If the read fails midway, what arrived goes back into the buffer,
    /// so nothing is lost and a next call carries on.
    fn recv_direct(
        self: &Arc<Self>,
        st: &mut RecvState,
        out: &mut [u8],
        deadline: Deadline,
    ) -> Result<usize> {
        let have = st.end - st.start - HEADER_LEN;
        out[..have].copy_from_slice(&st.buf[st.start + HEADER_LEN..st.end]);
        let mut got = have;
        while got < out.len() {
            match self.read_some(&mut st.clock, &mut out[got..], HEADER_LEN + got, deadline) {
                Ok(n) => got += n,
                Err(e) => {
                    // Whatever went wrong, the bytes read so far stay with the frame.
                    st.keep(&out[have..got])?;
                    return Err(e);
                }
            }
        }
        st.consume(st.end - st.start);
        if st.settle() {
            self.arm_recv_trim();
        }
        self.recv_since_send.store(true, Relaxed);
        Ok(out.len())
    }

    /// Wait per `deadline` for the first message, then take every further message that has
    /// already arrived whole, as long as `out` and `lens` have room. Messages are packed into
    /// `out` back to back; `lens[i]` is the length of the i-th. Returns how many were taken.
    pub(super) fn recv_msgs(
        self: &Arc<Self>,
        out: &mut [u8],
        lens: &mut [usize],
        timeout: Timeout,
    ) -> Result<usize> {
        if lens.is_empty() {
            return Err(Error::InvalidArgument("room for 0 messages".into()));
        }
        let deadline = timeout.deadline();
        let mut st = self.lock_recv_by(deadline)?;
        self.check_alive()?;
        let max = self.max_message.load(Relaxed);
        let (body, len) = self.wait_frame(&mut st, max, deadline)?;
        if out.len() < len {
            return Err(Error::BufferTooSmall { needed: len });
        }
        let mut frame = Some((body, len));
        let (mut count, mut used) = (0, 0);
        while let Some((body, len)) = frame {
            if count == lens.len() || out.len() - used < len {
                break;
            }
            out[used..used + len].copy_from_slice(&st.buf[body..body + len]);
            st.consume(HEADER_LEN + len);
            lens[count] = len;
            count += 1;
            used += len;
            // A malformed frame after good ones ends the batch; the next call reports it, so
            // the messages already taken are not lost with it.
            frame = match Self::parse_front(&mut st, max) {
                Ok(Next::Frame(body, len)) => Some((body, len)),
                Ok(Next::Need(..)) | Err(_) => None,
            };
        }
        if st.settle() {
            self.arm_recv_trim();
        }
        self.recv_since_send.store(true, Relaxed);
        Ok(count)
    }

    /// Read until a whole application message is buffered; returns its payload's offset in
    /// the buffer and its length. Extension frames are skipped on the way.
    fn wait_frame(
        &self,
        st: &mut RecvState,
        max: usize,
        deadline: Deadline,
    ) -> Result<(usize, usize)> {
        let mut fills = 0;
        loop {
            match self.buffered_frame(st, max)? {
                Next::Frame(body, len) => return Ok((body, len)),
                Next::Need(need, _) => {
                    Self::poll_budget(deadline, &mut fills)?;
                    st.make_room(need)?;
                    self.fill(st, deadline)?;
                }
            }
        }
    }

    /// Count a read of a receive with timeout 0; `Timeout` once `POLL_FILLS` are spent.
    fn poll_budget(deadline: Deadline, fills: &mut u32) -> Result<()> {
        if matches!(deadline, Deadline::Now) {
            if *fills >= POLL_FILLS {
                return Err(Error::Timeout);
            }
            *fills += 1;
        }
        Ok(())
    }

    /// The next whole message already in the buffer, without I/O; or how many bytes the frame
    /// at the front needs in total. Only a message that arrived whole is reported (even as too
    /// large for the caller): a peer that announces much and sends little never makes the
    /// caller allocate.
    #[inline]
    fn buffered_frame(&self, st: &mut RecvState, max: usize) -> Result<Next> {
        Self::parse_front(st, max).map_err(|m| self.protocol_error(m))
    }

    /// `buffered_frame` without consequences: a malformed header is returned as its
    /// description and left in the buffer.
    #[inline]
    pub(super) fn parse_front(st: &mut RecvState, max: usize) -> std::result::Result<Next, String> {
        loop {
            let avail = st.end - st.start;
            if avail < HEADER_LEN {
                return Ok(Next::Need(HEADER_LEN, false));
            }
            let mut hb = [0u8; HEADER_LEN];
            hb.copy_from_slice(&st.buf[st.start..st.start + HEADER_LEN]);
            let h = frame::decode_header(&hb, max)?;
            let need = HEADER_LEN + h.len;
            if avail < need {
                return Ok(Next::Need(need, h.is_message()));
            }
            if h.is_message() {
                return Ok(Next::Frame(st.start + HEADER_LEN, h.len));
            }
            st.consume(need); // an extension frame this version does not know: skip
        }
    }

    /// One non-blocking read into the buffer (room made by the caller), for a poller's check.
    /// `Ok(true)`: bytes or the end of stream arrived; `Ok(false)`: nothing there.
    pub(super) fn read_buffered(&self, st: &mut RecvState) -> io::Result<bool> {
        let end = st.end;
        match self.recv_hinted(&mut st.buf[end..], true) {
            Ok(0) => {
                st.eof = true;
                Ok(true)
            }
            Ok(n) => {
                st.filled = end + n == st.buf.len();
                st.end += n;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One read into the buffer, waiting per `deadline` and the frame timeout.
    fn fill(&self, st: &mut RecvState, deadline: Deadline) -> Result<()> {
        let (end, have) = (st.end, st.end - st.start);
        let n = self.read_some(&mut st.clock, &mut st.buf[end..], have, deadline)?;
        st.filled = end + n == st.buf.len();
        st.end += n;
        Ok(())
    }

    /// One read of more of the current frame into `target` (`have` bytes of the frame are
    /// here already), waiting per `deadline` and the frame timeout.
    ///
    /// Frame timeout: a frame whose first byte has arrived must be complete within the
    /// timeout. When it is not, the peer gets a probation of `PROBE_WINDOW`: if at least
    /// `PROBE_PROGRESS` more bytes of the frame arrive in it, the clock starts again (a healthy
    /// peer that was only held back, e.g. while this app did not read, streams at full speed
    /// once it may); otherwise the peer is stalling or trickling and the frame fails.
    fn read_some(
        &self,
        clock: &mut FrameClock,
        target: &mut [u8],
        have: usize,
        deadline: Deadline,
    ) -> Result<usize> {
        let partial = have > 0;
        let frame_timeout = match (partial, self.frame_timeout()) {
            (true, Timeout::After(d)) => Some(d),
            _ => None,
        };
        loop {
            let frame_deadline = match frame_timeout {
                Some(d) => match clock.probe {
                    Some((t, _)) => Deadline::At(t + PROBE_WINDOW),
                    None => Deadline::At(*clock.started.get_or_insert_with(Instant::now) + d),
                },
                None => Deadline::Never,
            };
            let wait_until = deadline.min(frame_deadline);
            match self.recv_until(target, wait_until) {
                Ok(0) if partial && !self.closed.load(Acquire) => {
                    return Err(self.protocol_error(format!(
                        "peer closed the connection in the middle of a frame ({have} bytes of it received)"
                    )))
                }
                Ok(0) => return Err(self.eof_error()),
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if frame_deadline.expired() {
                        match clock.probe {
                            None => clock.probe = Some((Instant::now(), have)),
                            Some((_, base)) if have - base >= PROBE_PROGRESS => {
                                clock.probe = None;
                                clock.started = Some(Instant::now());
                            }
                            Some(_) => {
                                return Err(self.protocol_error(format!(
                                    "a frame stayed incomplete past the frame timeout and then \
                                     stalled ({have} bytes of it received)"
                                )))
                            }
                        }
                        continue;
                    }
                    self.wait_readable(wait_until)?;
                }
                Err(e) => return Err(self.recv_failed(e)),
            }
        }
    }

    /// Wait for input; `Timeout` once the deadline has passed.
    fn wait_readable(&self, deadline: Deadline) -> Result<()> {
        if deadline.expired() {
            return Err(Error::Timeout);
        }
        sys::wait(self.fd, Ready::Read, deadline, None)?;
        Ok(())
    }

    /// End of stream: either our own `close` (which shuts the read side down) or the peer's.
    fn eof_error(&self) -> Error {
        match self.check_alive() {
            Err(e) => e,
            Ok(()) => Error::Closed("the peer closed the connection".into()),
        }
    }

    fn recv_failed(&self, e: io::Error) -> Error {
        let err = Error::from_io(e);
        if let Error::Closed(why) = &err {
            self.kill(why.clone());
        }
        err
    }
}
