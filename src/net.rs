//! Address resolution with a deadline, and the socket options every arsock stream gets.

use crate::error::{Error, Result};
use crate::resolver;
use crate::sys::{self, Ready};
use crate::timeout::{Deadline, Timeout};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;

/// Resolve `host` (an IPv4/IPv6 literal, optionally in brackets, or a name) to addresses.
/// Literals never touch the resolver; names are resolved on the small resolver pool
/// (`resolver`) so that the caller waits no longer than its deadline.
pub(crate) fn resolve(host: &str, port: u16, deadline: Deadline) -> Result<Vec<SocketAddr>> {
    if host.is_empty() {
        return Err(Error::Address("host is empty".into()));
    }
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if matches!(deadline, Deadline::Now) {
        // A name cannot be resolved without waiting: a poll-style connect needs a literal.
        return Err(Error::Timeout);
    }
    let lookup = resolver::start(host, port).map_err(Error::Io)?;
    let answer = match deadline {
        Deadline::Never => lookup.wait(None),
        Deadline::Now => lookup.wait(Some(std::time::Duration::ZERO)),
        Deadline::At(t) => {
            lookup.wait(Some(t.saturating_duration_since(std::time::Instant::now())))
        }
    }
    .map_err(|e| Error::Address(e.to_string()))?
    .ok_or(Error::Timeout)?;
    match answer {
        Ok(addrs) if !addrs.is_empty() => Ok(addrs),
        Ok(_) => Err(Error::Address(format!("{host}: no addresses"))),
        Err(e) => Err(Error::Address(format!("cannot resolve {host:?}: {e}"))),
    }
}

/// Options for every connected stream, accepted or connected: blocking mode (sends pass
/// MSG_DONTWAIT per call), TCP_NODELAY (AR traffic is small and latency-bound), no SIGPIPE.
pub(crate) fn configure_stream(sock: &Socket) -> io::Result<()> {
    sock.set_nonblocking(false)?;
    sock.set_tcp_nodelay(true)?;
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos"
    ))]
    sock.set_nosigpipe(true)?;
    Ok(())
}

/// Connect to the first address of `host` that accepts within `timeout`.
pub(crate) fn connect(host: &str, port: u16, timeout: Timeout) -> Result<Socket> {
    let deadline = timeout.deadline();
    let mut last = None;
    for addr in resolve(host, port, deadline)? {
        match connect_one(addr, deadline) {
            Ok(sock) => return Ok(sock),
            // Our deadline passed; a kernel-level timeout on one address moves to the next.
            Err(Error::Timeout) if deadline.expired() => return Err(Error::Timeout),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::Address(format!("{host}: no addresses"))))
}

fn connect_one(addr: SocketAddr, deadline: Deadline) -> Result<Socket> {
    let sock = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    match sock.connect(&SockAddr::from(addr)) {
        Ok(()) => {}
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::WouldBlock =>
        {
            if !sys::wait(sock.as_raw_fd(), Ready::Write, deadline, None)? {
                return Err(Error::Timeout);
            }
            if let Some(e) = sock.take_error()? {
                return Err(Error::from_connect(e));
            }
            // poll can report writable for a socket that is not yet connected on some systems.
            sock.peer_addr().map_err(Error::from_connect)?;
        }
        Err(e) => return Err(Error::from_connect(e)),
    }
    configure_stream(&sock)?;
    Ok(sock)
}
