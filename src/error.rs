//! Errors of the safe Rust core. The C layer maps each variant to one `arsock_status`.

use std::io;

/// Everything that can go wrong in an arsock call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A caller-supplied value is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Nothing happened within the timeout; the connection stays usable.
    #[error("timed out")]
    Timeout,
    /// The peer closed or reset the connection, or it was closed locally.
    #[error("connection closed: {0}")]
    Closed(String),
    /// The address is already bound by another socket.
    #[error("address in use: {0}")]
    AddressInUse(io::Error),
    /// Nobody listens at the address.
    #[error("connection refused: {0}")]
    ConnectionRefused(io::Error),
    /// The host cannot be parsed or resolved.
    #[error("bad address: {0}")]
    Address(String),
    /// The call does not fit the object's state (accept before listen, ...).
    #[error("invalid state: {0}")]
    State(String),
    /// Any other operating-system error.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The receive buffer cannot hold the next message; it stays queued.
    #[error("buffer too small: the next message has {needed} bytes")]
    BufferTooSmall {
        /// Size of the message waiting to be received.
        needed: usize,
    },
    /// A message exceeds the connection's limit; nothing was sent.
    #[error("message of {len} bytes exceeds this connection's limit of {max} bytes")]
    MessageTooLarge {
        /// Size of the rejected message.
        len: usize,
        /// The connection's limit.
        max: usize,
    },
    /// The peer broke the framing; the connection has been closed.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The named thing (peer, state key, payload id) does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Non-blocking send: the send queue is full; nothing of the message was queued.
    #[error("send queue full ({queued} bytes queued, limit {limit}); nothing was queued")]
    WouldBlock {
        /// Bytes waiting in the send queue.
        queued: usize,
        /// The queue's limit.
        limit: usize,
    },
}

/// Result type of the core.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Classify an OS error from connect/bind into the matching variant.
    pub(crate) fn from_connect(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectionRefused(e),
            io::ErrorKind::AddrInUse => Error::AddressInUse(e),
            io::ErrorKind::TimedOut => Error::Timeout,
            io::ErrorKind::AddrNotAvailable => Error::Address(e.to_string()),
            _ => Error::Io(e),
        }
    }

    /// Classify an OS error from send/recv on an established connection: resets, broken pipes
    /// and a path that died (keepalive timeout, unreachable) are a closed connection.
    pub(crate) fn from_io(e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::TimedOut
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable => Error::Closed(e.to_string()),
            _ => Error::Io(e),
        }
    }
}
