//! A connection as a poller sees it: whether a receive or a send would wait now, without
//! waiting. Most checks cost no syscall: `rx_hint` says whether the socket may hold unread
//! bytes, and only then is it read (message mode, into the receive buffer, so the receive
//! that follows finds the message there) or peeked (raw mode, or mode not fixed yet).

use super::rxbuf::Next;
use super::{Shared, MODE_MESSAGE};
use crate::poller::{PollLink, POLL_CLOSED, POLL_IN, POLL_OUT};
use crate::sys;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering::*;

/// What the receive side looks like now.
struct In {
    /// A receive would not wait.
    ready: bool,
    /// The stream is over (end of stream, reset, protocol error) and no whole message or
    /// byte is left before that end.
    ended: bool,
}

const NOTHING: In = In {
    ready: false,
    ended: false,
};
const ENDED: In = In {
    ready: true,
    ended: true,
};
const DATA: In = In {
    ready: true,
    ended: false,
};

impl Shared {
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd
    }

    pub(crate) fn poll_link(&self) -> &PollLink {
        &self.poll_link
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// The poller saw an edge on the socket.
    pub(crate) fn note_edge(&self, readable: bool, hup: bool) {
        if readable {
            self.rx_hint.store(true, Release);
        }
        if hup {
            self.hup.store(true, Release);
        }
    }

    /// `POLL_*` bits ready now among `want` (CLOSED is always considered).
    pub(crate) fn poll_ready(&self, want: u32) -> u32 {
        if self.closed.load(Acquire) || self.check_fork().is_err() {
            return 0;
        }
        let input = if self.dead.get().is_some() {
            ENDED
        } else if want & POLL_IN != 0 {
            if self.mode.load(Relaxed) == MODE_MESSAGE {
                self.poll_messages()
            } else {
                self.poll_bytes()
            }
        } else if self.hup.load(Acquire) {
            ENDED
        } else {
            NOTHING
        };
        let mut ev = 0;
        if want & POLL_IN != 0 && input.ready {
            ev |= POLL_IN;
        }
        if input.ended {
            ev |= POLL_CLOSED;
        }
        if !input.ended && (want & POLL_OUT != 0 || want == 0) {
            let st = self.lock_send();
            if st.broken().is_some() {
                ev |= POLL_CLOSED;
            } else if want & POLL_OUT != 0 && st.pending() < self.queue_limit.load(Relaxed).max(1) {
                ev |= POLL_OUT;
            }
        }
        ev
    }

    /// Raw mode, or mode not fixed yet: IN when any byte (or the end of stream) is there.
    fn poll_bytes(&self) -> In {
        if !self.rx_hint.load(Acquire) && !self.hup.load(Acquire) {
            return NOTHING;
        }
        self.rx_hint.store(false, Release);
        match sys::peek(self.fd) {
            Ok(true) => {
                self.rx_hint.store(true, Release);
                DATA
            }
            Ok(false) => {
                self.rx_hint.store(true, Release);
                ENDED
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => NOTHING,
            Err(_) => ENDED,
        }
    }

    /// Message mode: IN when a whole application message is buffered, after reading what the
    /// socket holds into the receive buffer (extension frames alone are skipped, not IN).
    fn poll_messages(&self) -> In {
        // If another thread is receiving, it reports to the poller when it is done.
        let Some(mut st) = self.try_lock_recv() else {
            return NOTHING;
        };
        let max = self.max_message.load(Relaxed);
        loop {
            match Self::parse_front(&mut st, max) {
                Ok(Next::Frame(..)) => return DATA,
                // The next receive reports the broken framing at once.
                Err(_) => return ENDED,
                Ok(Next::Need(need, _)) => {
                    if st.at_eof() {
                        return ENDED;
                    }
                    if !self.rx_hint.load(Acquire) && !self.hup.load(Acquire) {
                        return NOTHING;
                    }
                    if st.make_room(need).is_err() {
                        return DATA; // the receive reports the allocation failure at once
                    }
                    match self.read_buffered(&mut st) {
                        Ok(true) => {}
                        Ok(false) => return NOTHING,
                        Err(_) => return ENDED,
                    }
                }
            }
        }
    }
}
