//! The send path: straight through when the connection is idle, coalesced when the
//! application sends faster than one syscall per message, and flushed in the background
//! (by one lazily started thread per connection) so queued data keeps flowing between calls.
//!
//! Policy, per send:
//! 1. If bytes are already queued, the message joins the queue (order is kept); when the
//!    queue reaches `FLUSH_THRESHOLD` the calling thread writes it with one `sendmsg` (a large
//!    message is gathered behind the queue only then; otherwise it is copied into the queue).
//! 2. If nothing is queued, the message is written at once when it is large, when it answers
//!    a received message, when the last write was at least `IDLE_GAP` ago, or while the
//!    current burst has had fewer than `BURST_DIRECT` direct writes. Otherwise it is queued and
//!    the flusher writes it within about `COALESCE_DELAY` (plus scheduling).
//! 3. Whatever the socket does not take is queued; the flusher writes it when the socket
//!    drains, whether or not the application calls arsock again.

use super::frames::Frames;
use super::Shared;
use crate::error::{Error, Result};
use crate::sys::{self, Ready};
use crate::timeout::{Deadline, Timeout};
use std::io::IoSlice;
use std::net::Shutdown;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

/// Send-queue limit of a new connection: 1 MiB.
pub const DEFAULT_SEND_QUEUE_LIMIT: usize = 1 << 20;
/// After `close`, queued data keeps going to the peer for at most this long.
pub const LINGER: Duration = Duration::from_secs(2);

/// Queue size at which the sending thread writes the queue itself.
const FLUSH_THRESHOLD: usize = 64 << 10;
/// Messages this large are never coalesced: a copy would cost more than the syscall saves.
const LARGE_WRITE: usize = 16 << 10;
/// A send this long after the previous write finds the connection idle.
const IDLE_GAP: Duration = Duration::from_micros(200);
/// Direct writes allowed at the start of a burst before sends start coalescing.
const BURST_DIRECT: u32 = 8;
/// How long the flusher lets a burst accumulate before writing it.
const COALESCE_DELAY: Duration = Duration::from_micros(50);
/// How often threads waiting for socket space re-check for `close`.
const CLOSE_CHECK_MS: i32 = 20;
/// A drained queue whose buffer grew beyond this gives the memory back. Above twice the
/// default queue limit, so a queue that fills and drains in steady state keeps its buffer
/// (re-growing it each time would cost a copy and page faults per fill).
const SHRINK_ABOVE: usize = 4 << 20;

/// Writes that made no progress in a row. The socket said it was writable, yet took nothing
/// (ENOBUFS/ENOMEM: kernel buffers short): back off, 1 ms doubling to 20 ms, instead of
/// spinning on a phone's battery.
#[derive(Default)]
struct Stalls(u32);

impl Stalls {
    fn record(&mut self, progressed: bool) {
        self.0 = if progressed { 0 } else { self.0 + 1 };
    }

    fn pause(&self) {
        if self.0 >= 2 {
            std::thread::sleep(Duration::from_millis((1u64 << (self.0 - 2).min(5)).min(20)));
        }
    }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Flusher {
    #[default]
    NotStarted,
    /// Waiting on the condition variable for work.
    Idle,
    /// Woken, or writing.
    Busy,
    /// Gone after `close`.
    Exited,
}

#[derive(Debug, Default)]
pub(crate) struct SendState {
    queue: Vec<u8>,
    head: usize,
    last_write: Option<Instant>,
    burst_direct: u32,
    flusher: Flusher,
    linger_until: Option<Instant>,
    /// Why sending became impossible (the peer reset or closed); receiving may still work.
    broken: Option<String>,
    /// Starting the flusher thread failed: write every send through.
    no_flusher: bool,
}

impl SendState {
    pub(crate) fn pending(&self) -> usize {
        self.queue.len() - self.head
    }

    fn advance(&mut self, n: usize) {
        self.head += n;
        if self.head == self.queue.len() {
            self.head = 0;
            self.queue.clear();
            if self.queue.capacity() > SHRINK_ABOVE {
                self.queue = Vec::new();
            }
        }
    }

    /// Make room for `n` more queued bytes, failing cleanly (nothing queued) if the memory
    /// cannot be had, rather than aborting the host process.
    fn reserve(&mut self, n: usize) -> Result<()> {
        self.queue.try_reserve(n).map_err(|_| {
            Error::Io(std::io::Error::new(
                std::io::ErrorKind::OutOfMemory,
                format!("cannot allocate {n} bytes for the send queue"),
            ))
        })
    }

    /// Whether a send that finds the queue empty should be written at once.
    fn idle(&mut self, sh: &Shared) -> bool {
        if self.no_flusher || sh.recv_since_send.load(Relaxed) {
            sh.recv_since_send.store(false, Relaxed);
            self.burst_direct = 0;
            return true;
        }
        match self.last_write {
            Some(t) if t.elapsed() < IDLE_GAP => self.burst_direct < BURST_DIRECT,
            _ => {
                self.burst_direct = 0;
                true
            }
        }
    }

    /// One `sendmsg` of the queue followed by `frames`; what the socket does not take is queued.
    fn write_through<F: Frames>(&mut self, sh: &Shared, frames: &F, total: usize) -> Result<()> {
        let pending = self.pending();
        let n = frames.with_iovecs(&self.queue[self.head..], |iov| {
            sys::send_vectored(sh.fd, iov)
        });
        let n = n.map_err(|e| self.fail(sh, e))?;
        self.last_write = Some(Instant::now());
        let from_queue = n.min(pending);
        self.advance(from_queue);
        let skip = n - from_queue;
        if skip < total {
            // Part of a frame may be on the wire already: the rest must follow. Should memory
            // run out here, the stream cannot continue, so the connection fails.
            if let Err(e) = self.reserve(total - skip) {
                self.broken = Some(e.to_string());
                sh.kill(format!("send failed: {e}"));
                return Err(e);
            }
            frames.append_to(&mut self.queue, skip);
        }
        Ok(())
    }

    /// Write queued bytes only. Returns false when the socket took nothing.
    fn write_queue(&mut self, sh: &Shared) -> Result<bool> {
        let n = sys::send_vectored(sh.fd, &[IoSlice::new(&self.queue[self.head..])])
            .map_err(|e| self.fail(sh, e))?;
        self.last_write = Some(Instant::now());
        self.advance(n);
        Ok(n > 0)
    }

    /// A write failed: the stream can no longer be continued (part of a frame may be on the
    /// wire), so queued data is dropped and every later send fails. A closed peer leaves the
    /// receive side alone (its last messages may still be readable); any other error shuts
    /// the connection down both ways.
    fn fail(&mut self, sh: &Shared, e: std::io::Error) -> Error {
        self.queue = Vec::new();
        self.head = 0;
        let err = Error::from_io(e);
        let why = format!("sending failed: {err}");
        if !matches!(err, Error::Closed(_)) {
            sh.kill(why.clone());
        }
        self.broken = Some(why);
        err
    }
}

impl Shared {
    /// Accept `frames` (`total` bytes on the wire) for sending, all or nothing.
    pub(super) fn send_frames<F: Frames>(self: &Arc<Self>, frames: &F, total: usize) -> Result<()> {
        let mut st = self.lock_send();
        self.check_alive()?;
        if let Some(why) = &st.broken {
            return Err(Error::Closed(why.clone()));
        }
        let limit = self.queue_limit.load(Relaxed);
        if st.pending() > 0 && st.pending() + total > limit {
            st = self.wait_for_room(st, total, limit)?;
        }
        let pending = st.pending();
        let write_now = if pending == 0 {
            let direct = total >= LARGE_WRITE || st.idle(self);
            if direct {
                st.burst_direct += 1;
            }
            direct
        } else {
            // Without a flusher nothing else would write the queue.
            st.no_flusher || pending + total >= FLUSH_THRESHOLD
        };
        if write_now && (pending == 0 || total >= LARGE_WRITE) {
            // Gather-write: no copy of the new frames unless the socket refuses part of them.
            st.write_through(self, frames, total)?;
        } else {
            st.reserve(total)?;
            frames.append_to(&mut st.queue, 0);
            if write_now {
                // Small frames behind queued ones: one contiguous write beats a gather list of
                // many tiny pieces, which the kernel copies piece by piece.
                st.write_queue(self)?;
            }
        }
        if st.pending() > 0 {
            self.schedule_flush(&mut st);
        }
        if st.no_flusher && st.pending() > 0 {
            // Nothing writes in the background: a send that may block finishes the job itself,
            // like a blocking socket (the message is accepted either way).
            let _drained = self.wait_for_room(st, 0, 0);
        }
        Ok(())
    }

    /// Block (per the send timeout) until `total` more bytes fit in the queue, writing the
    /// queue from this thread meanwhile. Nothing of the new message is queued on failure.
    fn wait_for_room<'a>(
        &'a self,
        mut st: MutexGuard<'a, SendState>,
        total: usize,
        limit: usize,
    ) -> Result<MutexGuard<'a, SendState>> {
        let timeout = self.send_timeout();
        if timeout == Timeout::Poll {
            return Err(Error::WouldBlock {
                queued: st.pending(),
                limit,
            });
        }
        let deadline = timeout.deadline();
        let mut stalls = Stalls::default();
        loop {
            if st.pending() > 0 {
                let progressed = st.write_queue(self)?;
                stalls.record(progressed);
            }
            if st.pending() == 0 || st.pending() + total <= limit {
                return Ok(st);
            }
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            drop(st);
            stalls.pause();
            sys::wait(self.fd, Ready::Write, deadline, Some(CLOSE_CHECK_MS))?;
            st = self.lock_send();
            self.check_alive()?;
        }
    }

    /// Make sure the flusher will write the queue: start it, or wake it if it waits.
    fn schedule_flush(self: &Arc<Self>, st: &mut SendState) {
        match st.flusher {
            Flusher::Idle => {
                st.flusher = Flusher::Busy;
                self.flush_cv.notify_one();
            }
            Flusher::NotStarted => {
                let sh = Arc::clone(self);
                let spawned = std::thread::Builder::new()
                    .name("arsock-flush".into())
                    .stack_size(64 << 10)
                    .spawn(move || sh.flusher_main());
                // Without a thread nothing could write in the background: stop coalescing
                // (sends then write through, and only what the socket refuses waits for the
                // next send), and try again to start one on later sends.
                match spawned {
                    Ok(_) => st.flusher = Flusher::Busy,
                    Err(_) => {
                        st.no_flusher = true;
                        let _ = st.write_queue(self); // what the socket takes now goes now
                    }
                }
            }
            Flusher::Busy | Flusher::Exited => {}
        }
    }

    /// The write half of `close`. Queued data, and data the OS has not yet delivered, keep
    /// going for at most `LINGER` in the background: the socket is only released once the
    /// peer has acknowledged everything (or the linger ran out). Releasing it earlier would
    /// turn the close into a reset whenever the peer had sent data not read here, and a reset
    /// throws away whatever the OS had not delivered yet.
    pub(super) fn close_send_side(self: &Arc<Self>) {
        let mut st = self.lock_send();
        st.linger_until = Some(Instant::now() + LINGER);
        if st.pending() == 0 {
            let _ = self.sock.shutdown(Shutdown::Write);
            if st.flusher == Flusher::NotStarted && sys::unacked_bytes(self.fd) == Some(0) {
                return; // everything delivered: nothing to wait for
            }
        }
        self.schedule_flush(&mut st);
        if st.flusher == Flusher::NotStarted && st.pending() > 0 {
            // No thread could be started: one last attempt, then the rest is lost.
            let _ = st.write_queue(self);
        }
    }

    /// After `close`, with the queue drained: send FIN and hold the socket open until the
    /// peer acknowledged everything or the linger ran out.
    fn finish_close(&self, linger_until: Instant) {
        let _ = self.sock.shutdown(Shutdown::Write);
        while Instant::now() < linger_until
            && !sys::has_error(self.fd)
            && sys::unacked_bytes(self.fd).is_some_and(|n| n > 0)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    fn flusher_main(self: Arc<Self>) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack (in ns).
        unsafe {
            libc::prctl(libc::PR_SET_TIMERSLACK, 1000 as libc::c_ulong);
        }
        let mut st = self.lock_send();
        loop {
            while st.pending() == 0 {
                if self.closed.load(Acquire) {
                    st.flusher = Flusher::Exited;
                    let linger_until = st.linger_until.unwrap_or_else(|| Instant::now() + LINGER);
                    drop(st);
                    self.finish_close(linger_until);
                    return;
                }
                st.flusher = Flusher::Idle;
                st = self.flush_cv.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            st.flusher = Flusher::Busy;
            if !self.closed.load(Acquire) {
                // Let a burst accumulate: one syscall for many messages. While the application
                // holds the lock it is sending (and writes full batches itself), so wait
                // another round instead of queueing on the lock: a waiter would make every
                // unlock of the sending thread a futex syscall.
                drop(st);
                st = loop {
                    std::thread::sleep(COALESCE_DELAY);
                    match self.send.try_lock() {
                        Ok(guard) => break guard,
                        Err(TryLockError::Poisoned(p)) => break p.into_inner(),
                        Err(TryLockError::WouldBlock) if self.closed.load(Acquire) => {
                            break self.lock_send()
                        }
                        Err(TryLockError::WouldBlock) => {}
                    }
                };
            }
            let mut stalls = Stalls::default();
            while st.pending() > 0 {
                match st.write_queue(&self) {
                    Ok(progressed) => stalls.record(progressed),
                    Err(_) => break,
                }
                if st.pending() == 0 {
                    break;
                }
                let deadline = match st.linger_until {
                    Some(t) if Instant::now() >= t => {
                        let rest = st.pending();
                        st.advance(rest); // linger over: drop what is left
                        break;
                    }
                    Some(t) => Deadline::At(t),
                    None => Deadline::Never,
                };
                drop(st);
                stalls.pause();
                let _ = sys::wait(self.fd, Ready::Write, deadline, Some(CLOSE_CHECK_MS));
                st = self.lock_send();
            }
        }
    }
}
