//! The send path: straight through when the connection is idle, coalesced when the
//! application sends faster than one syscall per message (the decision is `policy::plan`).
//! What the socket does not take waits in the send queue, which the library's I/O thread
//! (`crate::reactor`, see `io.rs`) writes as the socket drains, whether or not the
//! application calls arsock again. No thread per connection.

use super::frames::Frames;
use super::policy::{self, Facts, Write};
use super::Shared;
use crate::error::{Error, Result};
use crate::reactor;
use crate::sys::{self, Ready};
use crate::timeout::{Deadline, Timeout};
use mio::Token;
use std::io::IoSlice;
use std::net::Shutdown;
use std::sync::atomic::Ordering::*;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant};

/// Send-queue limit of a new connection: 1 MiB.
pub const DEFAULT_SEND_QUEUE_LIMIT: usize = 1 << 20;
/// After `close`, queued data keeps going to the peer for at most this long.
pub const LINGER: Duration = Duration::from_secs(2);

/// A drained queue whose buffer grew beyond this gives the memory back at once. Above twice
/// the default queue limit, so a queue that fills and drains in steady state keeps its buffer
/// (re-growing it each time would cost a copy and page faults per fill); the I/O thread trims
/// smaller ones once the connection has been idle for 0.5 s (`io.rs`).
const SHRINK_ABOVE: usize = 4 << 20;
/// Without the I/O thread (it could not be started), a blocked send re-checks for `close`
/// this often. Never the case in normal operation.
const FALLBACK_CHECK_MS: i32 = 20;

#[derive(Debug, Default)]
pub(crate) struct SendState {
    pub(super) queue: Vec<u8>,
    head: usize,
    pub(super) last_write: Option<Instant>,
    burst_direct: u32,
    /// Why sending became impossible (the peer reset or closed); receiving may still work.
    broken: Option<String>,
    /// The socket's registration with the I/O thread (made on first need, kept until the
    /// connection is released).
    pub(super) reg: Option<Token>,
    /// A flush job is posted to the I/O thread.
    pub(super) flush_posted: bool,
    /// A trim timer is set.
    pub(super) trim_armed: bool,
    /// Writes in a row that made no progress (for the retry back-off).
    pub(super) stalls: u32,
    /// After `close`: keep delivering until then.
    pub(super) linger_until: Option<Instant>,
    pub(super) linger_step_ms: u64,
    pub(super) fin_sent: bool,
    /// The I/O thread is done with this connection (released).
    pub(super) released: bool,
    /// The socket could not be registered for readiness: the I/O thread works from timers.
    pub(super) timers_only: bool,
    /// The I/O thread could not be started: write every send through, and finish queued
    /// bytes in the sending thread, like a blocking socket.
    pub(super) no_reactor: bool,
}

impl SendState {
    /// Why sending became impossible, if it did.
    pub(crate) fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    pub(crate) fn pending(&self) -> usize {
        self.queue.len() - self.head
    }

    pub(super) fn advance(&mut self, n: usize) {
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
    pub(super) fn write_queue(&mut self, sh: &Shared) -> Result<bool> {
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
    pub(super) fn lock_send(&self) -> MutexGuard<'_, SendState> {
        self.send.lock().unwrap_or_else(|e| e.into_inner())
    }

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
        let reply = pending == 0 && self.recv_since_send.load(Relaxed);
        if reply {
            self.recv_since_send.store(false, Relaxed);
        }
        let plan = policy::plan(Facts {
            pending,
            total,
            reply,
            // Read the clock only when the policy looks at it (an empty queue).
            since_write: if pending == 0 {
                st.last_write.map(|t| t.elapsed())
            } else {
                None
            },
            burst_direct: st.burst_direct,
            background: !st.no_reactor,
        });
        if plan.new_burst {
            st.burst_direct = 0;
        }
        match plan.write {
            Write::Through => {
                if pending == 0 {
                    st.burst_direct += 1;
                }
                // Gather-write: no copy of the new frames unless the socket refuses part.
                st.write_through(self, frames, total)?;
            }
            Write::Queue | Write::QueueAndFlush => {
                st.reserve(total)?;
                frames.append_to(&mut st.queue, 0);
                if plan.write == Write::QueueAndFlush {
                    // Small frames behind queued ones: one contiguous write beats a gather
                    // list of many tiny pieces, which the kernel copies piece by piece.
                    st.write_queue(self)?;
                }
            }
        }
        if st.pending() > 0 {
            self.flush_later(&mut st);
        } else {
            self.arm_trim(&mut st);
        }
        if st.no_reactor && st.pending() > 0 {
            // Nothing writes in the background: a send that may block finishes the job itself,
            // like a blocking socket (the message is accepted either way).
            let _drained = self.wait_for_room(st, 0, 0);
        }
        Ok(())
    }

    /// Block (per the send timeout) until `total` more bytes fit in the queue. The I/O thread
    /// writes the queue as the socket drains and signals `room`; `close` signals it too.
    /// Nothing of the new message is queued on failure.
    fn wait_for_room<'a>(
        self: &'a Arc<Self>,
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
        loop {
            if st.pending() > 0 {
                st.write_queue(self)?;
            }
            if st.pending() == 0 || st.pending() + total <= limit {
                return Ok(st);
            }
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            if !st.no_reactor {
                if let Ok(r) = reactor::get() {
                    self.ensure_registered(r, &mut st);
                } else {
                    st.no_reactor = true;
                }
            }
            if st.no_reactor {
                drop(st);
                sys::wait(self.fd, Ready::Write, deadline, Some(FALLBACK_CHECK_MS))?;
                st = self.lock_send();
            } else {
                st = match deadline {
                    Deadline::At(t) => {
                        let left = t.saturating_duration_since(Instant::now());
                        self.room
                            .wait_timeout(st, left)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0)
                    }
                    _ => self.room.wait(st).unwrap_or_else(|e| e.into_inner()),
                };
            }
            self.check_alive()?;
            if let Some(why) = &st.broken {
                return Err(Error::Closed(why.clone()));
            }
        }
    }

    /// The write half of `close`. Queued data, and data the OS has not yet delivered, keep
    /// going for at most `LINGER` on the I/O thread: the socket is only released once the
    /// peer has acknowledged everything (or the linger ran out). Releasing it earlier would
    /// turn the close into a reset whenever the peer had sent data not read here, and a reset
    /// throws away whatever the OS had not delivered yet.
    pub(super) fn close_send_side(self: &Arc<Self>) {
        let mut st = self.lock_send();
        // Blocked senders wake and see `closed` (set before this lock was taken).
        self.room.notify_all();
        st.linger_until = Some(Instant::now() + LINGER);
        if st.pending() == 0 {
            let _ = self.sock.shutdown(Shutdown::Write);
            st.fin_sent = true;
            if sys::unacked_bytes(self.fd).map_or(true, |n| n == 0) {
                // Everything delivered: nothing to wait for.
                self.release(&mut st);
                return;
            }
        }
        match reactor::get() {
            Ok(r) if !st.no_reactor => {
                let sh = Arc::clone(self);
                drop(st);
                r.post(move |r| sh.drive_now(r, |_| {}));
            }
            _ => {
                // No I/O thread: one last attempt, then the rest is lost.
                if st.pending() > 0 {
                    let _ = st.write_queue(self);
                }
                if st.pending() == 0 {
                    let _ = self.sock.shutdown(Shutdown::Write);
                }
            }
        }
    }
}
