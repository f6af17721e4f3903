//! A connected TCP stream used either as raw bytes (exactly like a plain socket) or as whole
//! messages (see `frame`). Every method takes `&self`: one thread may send while another
//! receives, and `close` from any thread wakes blocked calls.

mod frames;
mod io;
mod policy;
mod poll;
mod recv;
mod rxbuf;
mod rxlock;
mod send;

use crate::error::{Error, Result};
use crate::frame;
use crate::net;
use crate::poller::PollLink;
use crate::sys;
use crate::timeout::Timeout;
use frames::{Messages, Parts};
use socket2::Socket;
use std::io::IoSlice;
use std::mem::ManuallyDrop;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Duration;

pub use send::{DEFAULT_SEND_QUEUE_LIMIT, LINGER};

/// Largest message a new connection sends and accepts: 16 MiB.
pub const DEFAULT_MAX_MESSAGE: usize = 16 << 20;
/// Time a message whose first byte has arrived may take to arrive whole, by default.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);

const MODE_UNSET: u8 = 0;
const MODE_RAW: u8 = 1;
const MODE_MESSAGE: u8 = 2;

/// A connection, from `connect` or `Server::accept`. Dropping it closes it (see [`close`]).
///
/// [`close`]: Connection::close
#[derive(Debug)]
pub struct Connection {
    shared: Arc<Shared>,
}

/// A connection's shared state, as pollers and the reactor see it.
pub(crate) type ConnShared = Shared;

/// State shared between the connection's users and its background flusher thread.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Never dropped while `fd_gone` (closed by number in a forked child).
    sock: ManuallyDrop<Socket>,
    fd: RawFd,
    /// `sys::fork_generation()` at creation: a different value means a forked child.
    fork_gen: u64,
    fd_gone: AtomicBool,
    /// The socket may hold unread bytes: cleared before each read, set again when a read
    /// filled its buffer (more may be waiting) or a poller saw the socket become readable.
    /// A poller's check reads or peeks the socket only while it is set.
    rx_hint: AtomicBool,
    /// The socket's receive timeout (SO_RCVTIMEO) in ms, 0 if never set.
    rcvtimeo_ms: AtomicU32,
    /// A poller saw the peer hang up (or an error) on the socket.
    hup: AtomicBool,
    poll_link: PollLink,
    /// Set by `close`: every later or blocked call returns `Closed`.
    closed: AtomicBool,
    /// Why the connection broke (protocol error, reset) if it did.
    dead: OnceLock<String>,
    mode: AtomicU8,
    /// A receive returned data since the last send: the next send is a reply and is written
    /// straight through (request/response traffic never waits for coalescing).
    recv_since_send: AtomicBool,
    max_message: AtomicUsize,
    send_timeout_ms: AtomicI32,
    queue_limit: AtomicUsize,
    frame_timeout_ms: AtomicI32,
    send: Mutex<send::SendState>,
    /// Signalled when the queue drains (by the I/O thread) or the connection closes.
    room: Condvar,
    recv: rxlock::RecvLock,
}

impl Connection {
    /// Connect to `host:port` within `timeout`. `host` is an IPv4/IPv6 literal or a name.
    pub fn connect(host: &str, port: u16, timeout: Timeout) -> Result<Connection> {
        net::connect(host, port, timeout).map(Connection::from_socket)
    }

    pub(crate) fn from_socket(sock: Socket) -> Connection {
        let fd = sock.as_raw_fd();
        Connection {
            shared: Arc::new(Shared {
                sock: ManuallyDrop::new(sock),
                fd,
                fork_gen: sys::fork_generation(),
                fd_gone: AtomicBool::new(false),
                rx_hint: AtomicBool::new(true),
                rcvtimeo_ms: AtomicU32::new(0),
                hup: AtomicBool::new(false),
                poll_link: PollLink::default(),
                closed: AtomicBool::new(false),
                dead: OnceLock::new(),
                mode: AtomicU8::new(MODE_UNSET),
                recv_since_send: AtomicBool::new(false),
                max_message: AtomicUsize::new(DEFAULT_MAX_MESSAGE),
                send_timeout_ms: AtomicI32::new(-1),
                queue_limit: AtomicUsize::new(DEFAULT_SEND_QUEUE_LIMIT),
                frame_timeout_ms: AtomicI32::new(DEFAULT_FRAME_TIMEOUT.as_millis() as i32),
                send: Mutex::new(send::SendState::default()),
                room: Condvar::new(),
                recv: rxlock::RecvLock::default(),
            }),
        }
    }

    /// Raw mode: send all of `data` (like `sendall`). Blocking follows the send timeout.
    pub fn send(&self, data: &[u8]) -> Result<()> {
        self.shared.enter(MODE_RAW)?;
        if data.is_empty() {
            return self.shared.check_alive();
        }
        self.shared
            .send_frames(&Parts(&[IoSlice::new(data)]), data.len())
    }

    /// Raw mode: receive 1..=`buf.len()` bytes (like `recv`). `Closed` once the peer has
    /// closed and everything was read.
    pub fn recv(&self, buf: &mut [u8], timeout: Timeout) -> Result<usize> {
        self.shared.enter(MODE_RAW)?;
        if buf.is_empty() {
            return Err(Error::InvalidArgument(
                "receive buffer has capacity 0".into(),
            ));
        }
        self.shared.recv_raw(buf, timeout)
    }

    /// Message mode: send one whole message (may be empty).
    pub fn send_msg(&self, msg: &[u8]) -> Result<()> {
        self.shared.check_size(msg.len())?;
        self.shared.enter(MODE_MESSAGE)?;
        let header = frame::encode_header(msg.len());
        let parts = [IoSlice::new(&header), IoSlice::new(msg)];
        self.shared
            .send_frames(&Parts(&parts), frame::HEADER_LEN + msg.len())
    }

    /// Message mode: send several messages in one call, all or nothing.
    pub fn send_msgs<M: AsRef<[u8]>>(&self, msgs: &[M]) -> Result<()> {
        let mut total = 0usize;
        for m in msgs {
            self.shared.check_size(m.as_ref().len())?;
            total = total
                .checked_add(frame::HEADER_LEN + m.as_ref().len())
                .ok_or_else(|| {
                    Error::InvalidArgument("the batch's total size does not fit in memory".into())
                })?;
        }
        self.shared.enter(MODE_MESSAGE)?;
        if msgs.is_empty() {
            return self.shared.check_alive();
        }
        self.shared.send_frames(&Messages(msgs), total)
    }

    /// Message mode: receive the next whole message into `buf` and return its length.
    /// If `buf` is too small: [`Error::BufferTooSmall`] with the size needed; the message
    /// stays queued for the next call.
    pub fn recv_msg(&self, buf: &mut [u8], timeout: Timeout) -> Result<usize> {
        self.shared.enter(MODE_MESSAGE)?;
        self.shared.recv_msg(buf, timeout)
    }

    /// Message mode: wait up to `timeout` for the next message, then also take every further
    /// message that has already arrived whole, while `buf` and `lens` have room (no further
    /// waiting). The messages are packed into `buf` back to back; `lens[i]` is the length of
    /// the i-th; returns the count (at least 1). [`Error::BufferTooSmall`] if even the first
    /// does not fit (it stays queued).
    pub fn recv_msgs(&self, buf: &mut [u8], lens: &mut [usize], timeout: Timeout) -> Result<usize> {
        self.shared.enter(MODE_MESSAGE)?;
        self.shared.recv_msgs(buf, lens, timeout)
    }

    /// The largest message this connection sends and accepts (inclusive).
    pub fn set_max_message(&self, max_len: usize) -> Result<()> {
        if max_len > frame::MAX_WIRE_LEN.min(usize::MAX - frame::HEADER_LEN) {
            return Err(Error::InvalidArgument(format!(
                "max message {max_len} exceeds the wire format's limit of {} bytes",
                frame::MAX_WIRE_LEN
            )));
        }
        self.shared.max_message.store(max_len, Relaxed);
        Ok(())
    }

    /// The current message size limit.
    pub fn max_message(&self) -> usize {
        self.shared.max_message.load(Relaxed)
    }

    /// How long a send may wait for room in the send queue (default: forever).
    pub fn set_send_timeout(&self, timeout: Timeout) {
        self.shared
            .send_timeout_ms
            .store(timeout.as_millis(), Relaxed);
    }

    /// Bytes the send queue may hold before sends wait or fail (default
    /// [`DEFAULT_SEND_QUEUE_LIMIT`]). A message larger than the limit is still accepted into
    /// an empty queue, so no message is unsendable.
    pub fn set_send_queue_limit(&self, bytes: usize) {
        self.shared.queue_limit.store(bytes, Relaxed);
    }

    /// Time a message whose first byte has arrived may take to arrive whole; after that the
    /// peer is considered hostile or dead and the connection fails with a protocol error.
    /// `Timeout::Forever` disables the check; `Timeout::Poll` is invalid.
    pub fn set_frame_timeout(&self, timeout: Timeout) -> Result<()> {
        if timeout == Timeout::Poll {
            return Err(Error::InvalidArgument(
                "frame timeout must be -1 or positive".into(),
            ));
        }
        self.shared
            .frame_timeout_ms
            .store(timeout.as_millis(), Relaxed);
        Ok(())
    }

    /// Bytes accepted by sends but not yet handed to the operating system (0 in a forked
    /// child, which must not touch the parent's connection).
    pub fn send_queue_len(&self) -> usize {
        if self.shared.check_fork().is_err() {
            return 0;
        }
        self.shared.lock_send().pending()
    }

    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.shared)
    }

    /// True once [`close`](Connection::close) was called.
    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Acquire)
    }

    /// Whether TCP_NODELAY is set (arsock sets it on every connection).
    pub fn nodelay(&self) -> Result<bool> {
        Ok(self.shared.sock.tcp_nodelay()?)
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        let a = self.shared.sock.peer_addr()?;
        a.as_socket()
            .ok_or_else(|| Error::Address("peer address is not an IP address".into()))
    }

    /// Close the connection: blocked and later calls return [`Error::Closed`] at once; queued
    /// data keeps going to the peer in the background for at most [`LINGER`], then the socket
    /// closes. Never blocks. Idempotent.
    pub fn close(&self) {
        self.shared.close();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        if !*self.fd_gone.get_mut() {
            // SAFETY: dropped exactly once, here; never used again.
            unsafe { ManuallyDrop::drop(&mut self.sock) };
        }
    }
}

impl Shared {
    /// An inherited handle in a forked child: only `close` may touch it (the parent's thread
    /// may have held its locks at fork time, and its socket is the parent's connection).
    fn check_fork(&self) -> Result<()> {
        if self.fork_gen != sys::fork_generation() {
            return Err(Error::State(
                "this connection was created by the parent process: after fork() a child may                  only close it"
                    .into(),
            ));
        }
        Ok(())
    }

    fn enter(&self, mode: u8) -> Result<()> {
        self.check_fork()?;
        let cur = self.mode.load(Relaxed);
        if cur == mode {
            return Ok(());
        }
        if cur == MODE_UNSET
            && self
                .mode
                .compare_exchange(MODE_UNSET, mode, Relaxed, Relaxed)
                .is_ok()
        {
            return Ok(());
        }
        let (is, other) = if mode == MODE_RAW {
            ("message", "raw")
        } else {
            ("raw", "message")
        };
        Err(Error::State(format!(
            "this connection is in {is} mode (set by its first send or receive); {other} calls cannot be mixed in"
        )))
    }

    fn check_size(&self, len: usize) -> Result<()> {
        let max = self.max_message.load(Relaxed);
        if len > max {
            return Err(Error::MessageTooLarge { len, max });
        }
        Ok(())
    }

    pub(crate) fn check_alive(&self) -> Result<()> {
        if self.closed.load(Acquire) {
            return Err(Error::Closed("the handle was closed".into()));
        }
        if let Some(why) = self.dead.get() {
            return Err(Error::Closed(why.clone()));
        }
        Ok(())
    }

    /// Record why the connection broke and shut the socket down both ways.
    fn kill(&self, why: String) {
        let _ = self.dead.set(why);
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// The peer broke the framing: the connection is closed; this call reports why.
    fn protocol_error(&self, what: String) -> Error {
        self.kill(format!("closed after a protocol error: {what}"));
        Error::Protocol(what)
    }

    fn send_timeout(&self) -> Timeout {
        Timeout::from_millis(self.send_timeout_ms.load(Relaxed)).unwrap_or(Timeout::Forever)
    }

    fn frame_timeout(&self) -> Timeout {
        Timeout::from_millis(self.frame_timeout_ms.load(Relaxed)).unwrap_or(Timeout::Forever)
    }

    fn close(self: &Arc<Self>) {
        if self.closed.swap(true, AcqRel) {
            return;
        }
        self.finish_close();
    }

    /// The rest of `close`, once this call has set `closed`. The I/O thread may run between
    /// the two (and sees `closed` before the close-linger has started).
    fn finish_close(self: &Arc<Self>) {
        if self.check_fork().is_err() {
            // A forked child: take no lock (a parent thread may have held one at fork time)
            // and do not shut the socket down (that would end the parent's connection). Close
            // the child's copy of the descriptor and leak the rest.
            self.fd_gone.store(true, Release);
            sys::close_fd(self.fd);
            return;
        }
        self.poll_link.leave();
        // Wakes a receive blocked in this or another thread (it then sees `closed`), and the
        // receives waiting for it.
        let _ = self.sock.shutdown(Shutdown::Read);
        self.recv.wake_all();
        self.close_send_side();
    }
}

#[cfg(test)]
mod tests;
