//! The send policy as a pure function: write a message now, or queue it so that a burst goes
//! out in fewer syscalls. The send path gathers the facts and applies the plan.

use std::time::Duration;

/// Messages this large are never coalesced: a copy would cost more than the syscall saves.
pub(super) const LARGE_WRITE: usize = 16 << 10;
/// Queue size at which the sending thread writes the queue itself.
pub(super) const FLUSH_THRESHOLD: usize = 64 << 10;
/// A send this long after the previous write finds the connection idle.
pub(super) const IDLE_GAP: Duration = Duration::from_micros(200);
/// Direct writes allowed at the start of a burst before sends start coalescing.
pub(super) const BURST_DIRECT: u32 = 8;

/// What a send knows when it decides.
#[derive(Clone, Copy, Debug)]
pub(super) struct Facts {
    /// Bytes already queued.
    pub pending: usize,
    /// Wire bytes of this send.
    pub total: usize,
    /// A message was received since the last send: this one answers it.
    pub reply: bool,
    /// Time since the last write to the socket (None: never written; only looked at when
    /// nothing is queued).
    pub since_write: Option<Duration>,
    /// Direct writes in the current burst so far.
    pub burst_direct: u32,
    /// Something writes queued bytes in the background (the I/O thread is available).
    pub background: bool,
}

/// How to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Write {
    /// One gather-write of the queue (if any) and this send; the rest is queued.
    Through,
    /// Append to the queue; the background writes it soon.
    Queue,
    /// Append to the queue, then write the queue as one contiguous buffer.
    QueueAndFlush,
}

/// The decision, and whether it starts a new burst (the direct-write count starts over).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Plan {
    pub write: Write,
    pub new_burst: bool,
}

/// The policy:
/// 1. Bytes already queued: the send joins the queue (order is kept); when the queue reaches
///    `FLUSH_THRESHOLD`, or nothing writes in the background, the sender writes it itself (a
///    large message is gathered behind the queue instead of being copied into it).
/// 2. Empty queue: written at once when large, when it answers a received message, when the
///    last write was at least `IDLE_GAP` ago, while the burst has had fewer than
///    `BURST_DIRECT` direct writes, or when nothing writes in the background. Otherwise
///    queued for the background, which writes it as soon as it runs.
pub(super) fn plan(f: Facts) -> Plan {
    if f.pending > 0 {
        let write = if !f.background || f.pending.saturating_add(f.total) >= FLUSH_THRESHOLD {
            if f.total >= LARGE_WRITE {
                Write::Through
            } else {
                Write::QueueAndFlush
            }
        } else {
            Write::Queue
        };
        return Plan {
            write,
            new_burst: false,
        };
    }
    let idle = f.since_write.map_or(true, |d| d >= IDLE_GAP);
    let new_burst = f.reply || idle || !f.background;
    let write = if f.total >= LARGE_WRITE || new_burst || f.burst_direct < BURST_DIRECT {
        Write::Through
    } else {
        Write::Queue
    };
    Plan { write, new_burst }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Facts {
        Facts {
            pending: 0,
            total: 72,
            reply: false,
            since_write: Some(Duration::from_micros(10)),
            burst_direct: BURST_DIRECT,
            background: true,
        }
    }

    #[test]
    fn a_burst_past_its_direct_writes_is_queued() {
        assert_eq!(plan(busy()).write, Write::Queue);
        assert!(!plan(busy()).new_burst);
    }

    #[test]
    fn the_first_writes_of_a_burst_go_straight_through() {
        let f = Facts {
            burst_direct: BURST_DIRECT - 1,
            ..busy()
        };
        assert_eq!(plan(f).write, Write::Through);
        assert!(!plan(f).new_burst);
    }

    #[test]
    fn an_idle_connection_writes_through_and_starts_a_burst() {
        for since in [None, Some(IDLE_GAP), Some(Duration::from_secs(1))] {
            let p = plan(Facts {
                since_write: since,
                ..busy()
            });
            assert_eq!(
                p,
                Plan {
                    write: Write::Through,
                    new_burst: true
                },
                "{since:?}"
            );
        }
    }

    #[test]
    fn a_reply_writes_through() {
        let p = plan(Facts {
            reply: true,
            ..busy()
        });
        assert_eq!(
            p,
            Plan {
                write: Write::Through,
                new_burst: true
            }
        );
    }

    #[test]
    fn a_large_message_writes_through_even_in_a_burst() {
        let p = plan(Facts {
            total: LARGE_WRITE,
            ..busy()
        });
        assert_eq!(p.write, Write::Through);
    }

    #[test]
    fn without_a_background_writer_nothing_waits_in_the_queue() {
        let f = Facts {
            background: false,
            ..busy()
        };
        assert_eq!(plan(f).write, Write::Through);
        let queued = Facts { pending: 100, ..f };
        assert_eq!(plan(queued).write, Write::QueueAndFlush);
    }

    #[test]
    fn behind_queued_bytes_a_send_joins_the_queue_until_the_threshold() {
        let f = Facts {
            pending: 100,
            ..busy()
        };
        assert_eq!(plan(f).write, Write::Queue);
        let full = Facts {
            pending: FLUSH_THRESHOLD - 72,
            ..busy()
        };
        assert_eq!(plan(full).write, Write::QueueAndFlush);
        let large = Facts {
            pending: 100,
            total: LARGE_WRITE,
            ..busy()
        };
        assert_eq!(plan(large).write, Write::Queue);
        let large_at_threshold = Facts {
            pending: 100,
            total: FLUSH_THRESHOLD,
            ..busy()
        };
        assert_eq!(plan(large_at_threshold).write, Write::Through);
        // Even a reply keeps the order: it joins the queue.
        let reply = Facts {
            pending: 100,
            reply: true,
            ..busy()
        };
        assert_eq!(plan(reply).write, Write::Queue);
    }
}
