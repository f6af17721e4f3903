//! A listening TCP endpoint: bind, listen, accept. Accepted connections are [`Connection`]s.

use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::net;
use crate::sys::{self, Ready};
use crate::timeout::Timeout;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Backlog used when `listen` is given 0.
pub const DEFAULT_BACKLOG: i32 = 128;

/// How often a blocked `accept` re-checks whether the server was closed from another thread.
const CLOSE_CHECK_MS: i32 = 20;

/// A bound (and later listening) server socket. All methods take `&self` and are thread-safe.
#[derive(Debug)]
pub struct Server {
    sock: Socket,
    local: SocketAddr,
    listening: Mutex<bool>,
    closed: AtomicBool,
}

impl Server {
    /// Bind to `host:port` (port 0 picks a free port). `host` may be an IPv4 or IPv6 literal
    /// or a name; a name binds the first of its addresses that works.
    pub fn bind(host: &str, port: u16) -> Result<Server> {
        let mut last = None;
        for addr in net::resolve(host, port, Timeout::Forever.deadline())? {
            match bind_one(addr) {
                Ok(server) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Address(format!("{host}: no addresses"))))
    }

    /// Start listening. `backlog` 0 means [`DEFAULT_BACKLOG`]; negative is invalid.
    /// Listening twice is [`Error::State`].
    pub fn listen(&self, backlog: i32) -> Result<()> {
        if backlog < 0 {
            return Err(Error::InvalidArgument(format!(
                "backlog must be >= 0, got {backlog}"
            )));
        }
        self.check_open()?;
        let mut listening = self.listening.lock().unwrap_or_else(|e| e.into_inner());
        if *listening {
            return Err(Error::State("server is already listening".into()));
        }
        self.sock.listen(if backlog == 0 {
            DEFAULT_BACKLOG
        } else {
            backlog
        })?;
        *listening = true;
        Ok(())
    }

    /// Wait up to `timeout` for a connection. Returns [`Error::Closed`] if the server is closed
    /// (from any thread) while waiting, within about 20 ms.
    pub fn accept(&self, timeout: Timeout) -> Result<Connection> {
        if !*self.listening.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(Error::State("accept before listen".into()));
        }
        let deadline = timeout.deadline();
        loop {
            self.check_open()?;
            match self.sock.accept() {
                Ok((sock, _)) => match net::configure_stream(&sock) {
                    Ok(()) => return Ok(Connection::from_socket(sock)),
                    // That connection died already (e.g. reset before accept): skip it.
                    Err(_) => continue,
                },
                Err(e) if is_transient_accept_error(&e) => {}
                Err(e) => return Err(Error::Io(e)),
            }
            if deadline.expired() {
                return Err(Error::Timeout);
            }
            sys::wait(
                self.sock.as_raw_fd(),
                Ready::Read,
                deadline,
                Some(CLOSE_CHECK_MS),
            )?;
        }
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Close the server: blocked and later `accept` calls return [`Error::Closed`].
    /// Idempotent. The socket itself is released when the last reference is dropped.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    fn check_open(&self) -> Result<()> {
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("server was closed".into()))
        } else {
            Ok(())
        }
    }
}

fn bind_one(addr: SocketAddr) -> Result<Server> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Lets a restarted server rebind while old connections sit in TIME_WAIT; it does not let
    // two servers listen on one port.
    sock.set_reuse_address(true)?;
    sock.bind(&SockAddr::from(addr))
        .map_err(Error::from_connect)?;
    // Non-blocking so that a racing accept never blocks past its deadline or a close.
    sock.set_nonblocking(true)?;
    let local = sock
        .local_addr()?
        .as_socket()
        .ok_or_else(|| Error::Address("bound address is not an IP address".into()))?;
    Ok(Server {
        sock,
        local,
        listening: Mutex::new(false),
        closed: AtomicBool::new(false),
    })
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}
