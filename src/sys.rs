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

/// `recv(2)` with MSG_PEEK|MSG_DONTWAIT of one byte: `Ok(true)` if bytes are waiting,
/// `Ok(false)` at end of stream, `WouldBlock` if nothing is there yet.
pub(crate) fn peek(fd: RawFd) -> io::Result<bool> {
    let mut b = [0u8; 1];
    loop {
        // SAFETY: the pointer and length describe `b`, which is valid writable memory.
        let n = unsafe {
            libc::recv(
                fd,
                b.as_mut_ptr().cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        if n >= 0 {
            return Ok(n > 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// True if `fd` is readable right now (a listening socket: a connection can be accepted).
pub(crate) fn readable_now(fd: RawFd) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is a valid pollfd for the duration of the call and nfds is 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    rc > 0
}

/// Close a file descriptor by number, ignoring errors. Used where the owning object cannot
/// be touched (a forked child closing an inherited handle without taking its locks).
pub(crate) fn close_fd(fd: RawFd) {
    // SAFETY: the caller owns `fd` and never uses or closes it again.
    unsafe {
        libc::close(fd);
    }
}

static FORK_GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

extern "C" fn after_fork_in_child() {
    // Async-signal-safe: one atomic add.
    FORK_GENERATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

/// How many times this process is a fork()ed child of the process that created a handle:
/// record it at creation and compare later (one atomic load, no syscall). The counter is
/// bumped in the child by a `pthread_atfork` handler, installed on the first call.
pub(crate) fn fork_generation() -> u64 {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // SAFETY: registers a handler that only does an atomic add; no other arguments.
        unsafe {
            libc::pthread_atfork(None, None, Some(after_fork_in_child));
        }
    });
    FORK_GENERATION.load(std::sync::atomic::Ordering::SeqCst)
}

/// A file descriptor another thread can make readable to wake a `wait_or_wake` (eventfd on
/// Linux and Android, a pipe elsewhere). Once woken it stays readable: it is for closing.
#[derive(Debug)]
pub(crate) struct CloseWaker {
    read: RawFd,
    write: RawFd,
}

impl CloseWaker {
    pub(crate) fn new() -> io::Result<CloseWaker> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            // SAFETY: plain syscall; the result is checked.
            let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(CloseWaker {
                read: fd,
                write: fd,
            })
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let mut fds = [0 as libc::c_int; 2];
            // SAFETY: `fds` has room for the two descriptors pipe() writes.
            if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
                return Err(io::Error::last_os_error());
            }
            for fd in fds {
                // SAFETY: fcntl on descriptors we own.
                unsafe {
                    libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC);
                    libc::fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK);
                }
            }
            Ok(CloseWaker {
                read: fds[0],
                write: fds[1],
            })
        }
    }

    /// Make the waker readable (wakes every current and later `wait_or_wake`).
    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64 to a descriptor we own.
        unsafe {
            libc::write(self.write, (&one as *const u64).cast(), 8);
        }
    }

    /// Wait until `fd` is ready, the waker fired, or the deadline passed. Returns true if
    /// `fd` is ready (or failed).
    pub(crate) fn wait_or_wake(
        &self,
        fd: RawFd,
        ready: Ready,
        deadline: Deadline,
    ) -> io::Result<bool> {
        let events = match ready {
            Ready::Read => libc::POLLIN,
            Ready::Write => libc::POLLOUT,
        };
        loop {
            let mut pfds = [
                libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                },
                libc::pollfd {
                    fd: self.read,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            // SAFETY: `pfds` is a valid array of 2 pollfds for the duration of the call.
            let rc = unsafe { libc::poll(pfds.as_mut_ptr(), 2, deadline.poll_ms(None)) };
            if rc >= 0 {
                return Ok(pfds[0].revents != 0);
            }
            let err = io::Error::last_os_error();
            if err.kind() != io::ErrorKind::Interrupted {
                return Err(err);
            }
        }
    }
}

impl Drop for CloseWaker {
    fn drop(&mut self) {
        close_fd(self.read);
        if self.write != self.read {
            close_fd(self.write);
        }
    }
}

/// A socket as a `mio` event source, by descriptor (the poller and the I/O thread register
/// sockets they do not own this way). The Windows port replaces this with its own.
pub(crate) fn source(fd: &RawFd) -> mio::unix::SourceFd<'_> {
    mio::unix::SourceFd(fd)
}

/// Make this thread's short sleeps precise (1 µs timer slack instead of Linux's default 50 µs):
/// the I/O thread sleeps up to timers due within a millisecond, e.g. send coalescing's 50 µs.
pub(crate) fn precise_timers() {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: PR_SET_TIMERSLACK only changes this thread's timer slack (in ns). prctl is
    // variadic and reads five arguments: pass them all (valgrind checks they are set).
    unsafe {
        let zero: libc::c_ulong = 0;
        libc::prctl(
            libc::PR_SET_TIMERSLACK,
            1000 as libc::c_ulong,
            zero,
            zero,
            zero,
        );
    }
}

/// Give free heap pages back to the OS. glibc keeps freed memory in the middle of its heap
/// mapped (only the top is trimmed), so the buffers idle connections give back would stay in
/// the process's RSS; `malloc_trim` releases them. Other allocators return memory by
/// themselves (nothing to do). Called rarely: once after idle buffers were released.
pub(crate) fn release_free_memory() {
    #[cfg(all(any(target_os = "linux", target_os = "android"), target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}
