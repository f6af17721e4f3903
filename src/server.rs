//! A listening TCP endpoint: bind, listen, accept. Accepted connections are [`Connection`]s.

use crate::conn::Connection;
use crate::error::{Error, Result};
use crate::net;
use crate::poller::{PollLink, POLL_IN};
use crate::sys::{self, CloseWaker, Ready};
use crate::timeout::Timeout;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// Backlog used when `listen` is given 0.
pub const DEFAULT_BACKLOG: i32 = 128;

/// A bound (and later listening) server socket. All methods take `&self` and are thread-safe.
#[derive(Debug)]
pub struct Server {
    shared: Arc<ServerShared>,
}

#[derive(Debug)]
pub(crate) struct ServerShared {
    /// The socket; taken out (and closed) by `close`, which waits for in-flight accepts to
    /// leave (they are woken at once by `waker`) so the port is free when `close` returns.
    sock: RwLock<Option<Socket>>,
    fd: RawFd,
    local: SocketAddr,
    listening: Mutex<bool>,
    closed: AtomicBool,
    waker: CloseWaker,
    poll_link: PollLink,
    /// `sys::fork_generation()` at creation: a different value means a forked child.
    fork_gen: u64,
    /// Closed by number in a forked child: the socket must not be closed again on drop.
    fd_gone: AtomicBool,
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

    pub(crate) fn shared(&self) -> Arc<ServerShared> {
        Arc::clone(&self.shared)
    }

    /// Start listening. `backlog` 0 means [`DEFAULT_BACKLOG`]; negative is invalid.
    /// Listening twice is [`Error::State`].
    pub fn listen(&self, backlog: i32) -> Result<()> {
        if backlog < 0 {
            return Err(Error::InvalidArgument(format!(
                "backlog must be >= 0, got {backlog}"
            )));
        }
        let sh = &self.shared;
        sh.check_open()?;
        let mut listening = sh.listening.lock().unwrap_or_else(|e| e.into_inner());
        if *listening {
            return Err(Error::State("server is already listening".into()));
        }
        let sock = sh.sock.read().unwrap_or_else(|e| e.into_inner());
        let sock = sock
            .as_ref()
            .ok_or_else(|| Error::Closed("server was closed".into()))?;
        sock.listen(if backlog == 0 {
            DEFAULT_BACKLOG
        } else {
            backlog
        })?;
        *listening = true;
        Ok(())
    }

    /// Wait up to `timeout` for a connection. Returns [`Error::Closed`] at once if the server
    /// is closed (from any thread) while waiting.
    pub fn accept(&self, timeout: Timeout) -> Result<Connection> {
        let sh = &self.shared;
        sh.check_open()?;
        if !*sh.listening.lock().unwrap_or_else(|e| e.into_inner()) {
            return Err(Error::State("accept before listen".into()));
        }
        let deadline = timeout.deadline();
        let guard = sh.sock.read().unwrap_or_else(|e| e.into_inner());
        loop {
            sh.check_open()?;
            let sock = guard
                .as_ref()
                .ok_or_else(|| Error::Closed("server was closed".into()))?;
            match sock.accept() {
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
            sh.waker.wait_or_wake(sh.fd, Ready::Read, deadline)?;
        }
    }

    /// The address actually bound (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local
    }

    /// Close the server: blocked `accept` calls return [`Error::Closed`] at once, later calls
    /// too, and the socket is closed before this returns (the port is free). Idempotent.
    /// In a forked child it only closes the child's copy of the socket.
    pub fn close(&self) {
        self.shared.close();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.close();
    }
}

impl ServerShared {
    fn check_open(&self) -> Result<()> {
        if self.fork_gen != sys::fork_generation() {
            return Err(Error::State(
                "this server was created by the parent process: after fork() a child may only \
                 close it"
                    .into(),
            ));
        }
        if self.closed.load(Ordering::Acquire) {
            Err(Error::Closed("server was closed".into()))
        } else {
            Ok(())
        }
    }

    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd
    }

    pub(crate) fn poll_link(&self) -> &PollLink {
        &self.poll_link
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Poller readiness: IN when an accept would not wait.
    pub(crate) fn poll_ready(&self, want: u32) -> u32 {
        if want & POLL_IN != 0 && !self.closed.load(Ordering::Acquire) && sys::readable_now(self.fd)
        {
            POLL_IN
        } else {
            0
        }
    }

    fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        if self.fork_gen != sys::fork_generation() {
            // A forked child: another thread of the parent may have held our locks at fork
            // time, so take none. Close the child's copy of the socket by number (the
            // parent's listener is untouched) and leak the rest.
            self.fd_gone.store(true, Ordering::Release);
            sys::close_fd(self.fd);
            return;
        }
        self.poll_link.leave();
        self.waker.wake();
        // Blocked accepts wake at once and drop the read lock; then the socket closes.
        let sock = self.sock.write().unwrap_or_else(|e| e.into_inner()).take();
        drop(sock);
    }
}

impl Drop for ServerShared {
    fn drop(&mut self) {
        if *self.fd_gone.get_mut() {
            let sock = self
                .sock
                .get_mut()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            if let Some(s) = sock {
                let _ = s.into_raw_fd(); // already closed by number
            }
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
        shared: Arc::new(ServerShared {
            fd: sock.as_raw_fd(),
            sock: RwLock::new(Some(sock)),
            local,
            listening: Mutex::new(false),
            closed: AtomicBool::new(false),
            waker: CloseWaker::new()?,
            poll_link: PollLink::default(),
            fork_gen: sys::fork_generation(),
            fd_gone: AtomicBool::new(false),
        }),
    })
}

fn is_transient_accept_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted
    ) || e.raw_os_error() == Some(libc::EPROTO)
}
