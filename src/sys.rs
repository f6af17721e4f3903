//! Thin wrappers over the few POSIX calls socket2 does not cover in the shape we need:
//! `poll(2)` with a deadline, and `recv`/`sendmsg` with per-call flags so that one socket
//! can block in `recv` while sends never block (MSG_DONTWAIT).

use crate::timeout::Deadline;
use std::io::{self, IoSlice};
use std::os::fd::RawFd;

#[cfg(not(unix))]
compile_error!("arsock currently supports Unix-like targets (Linux, Android, macOS, iOS) only");

/// Flags for every send: never block, and never raise SIGPIPE (which would kill the host app).
#[cfg(any(target_os = "linux", target_os = "android"))]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
/// Apple platforms have no MSG_NOSIGNAL; sockets get SO_NOSIGPIPE instead (see `net`).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT;

/// Most iovecs one `sendmsg` takes (POSIX guarantees at least 16; Linux and Apple take 1024).
pub(crate) const MAX_IOV: usize = 1024;

/// Readiness to wait for.
#[derive(Clone, Copy)]
pub(crate) enum Ready {
    Read,
    Write,
}

/// Wait until `fd` is ready or the deadline (capped at `cap_ms`) passes. Returns true if ready
/// (including error/hang-up conditions, which the following I/O call reports).
pub(crate) fn wait(
    fd: RawFd,
    ready: Ready,
    deadline: Deadline,
    cap_ms: Option<i32>,
) -> io::Result<bool> {
    let events = match ready {
        Ready::Read => libc::POLLIN,
        Ready::Write => libc::POLLOUT,
    };
    loop {
        let mut pfd = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let ms = deadline.poll_ms(cap_ms);
        // SAFETY: `pfd` is a valid pollfd for the duration of the call and nfds is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc >= 0 {
            return Ok(rc > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// `recv(2)` into `buf`; `nonblocking` adds MSG_DONTWAIT. Retries on EINTR.
pub(crate) fn recv(fd: RawFd, buf: &mut [u8], nonblocking: bool) -> io::Result<usize> {
    let flags = if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    loop {
        // SAFETY: the pointer and length describe `buf`, which is valid writable memory.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), flags) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// One non-blocking gather write of up to `MAX_IOV` slices. Returns the bytes written; a full
/// socket (or a transient shortage of kernel buffers) is `Ok(0)`. Retries on EINTR.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let bufs = &bufs[..bufs.len().min(MAX_IOV)];
    loop {
        // SAFETY: msghdr is plain data; all-zero is a valid empty value.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        // IoSlice is guaranteed ABI-compatible with `struct iovec` on Unix.
        msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
        msg.msg_iovlen = bufs.len() as _;
        // SAFETY: msg points at `bufs`, which outlives the call; the kernel only reads them.
        let n = unsafe { libc::sendmsg(fd, &msg, SEND_FLAGS) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let err = io::Error::last_os_error();
        match err.raw_os_error() {
            Some(libc::EINTR) => continue,
            // A full socket, or kernel buffers short for a moment (ENOBUFS is routine on Apple
            // platforms): nothing was written; try again later.
            Some(libc::EAGAIN | libc::ENOBUFS | libc::ENOMEM) => return Ok(0),
            _ => return Err(err),
        }
    }
}

/// True if the socket has a pending error (e.g. the peer reset the connection).
pub(crate) fn has_error(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid pollfd for the duration of the call and nfds is 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    rc > 0 && pfd.revents & libc::POLLERR != 0
}

/// Bytes sent on a TCP socket that the peer has not acknowledged yet (FIN included), if the
/// platform can tell; `None` where it cannot.
pub(crate) fn unacked_bytes(fd: RawFd) -> Option<usize> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ (= SIOCOUTQ on sockets) writes one int to the pointer we pass.
        let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
        (rc == 0).then_some(n.max(0) as usize)
    }
    #[cfg(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos"
    ))]
    {
        let mut n: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: SO_NWRITE writes one int; `len` holds its size.
        let rc = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_NWRITE,
                (&mut n as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        (rc == 0).then_some(n.max(0) as usize)
    }
    #[cfg(not(any(
        target_os = "linux",
        target_os = "android",
        target_os = "macos",
        target_os = "ios",
        target_os = "tvos",
        target_os = "watchos"
    )))]
    {
        let _ = fd;
        None
    }
}
