//! Timeouts as the C API spells them (-1 forever, 0 poll, > 0 milliseconds) and deadlines.

use crate::error::{Error, Result};
use std::time::{Duration, Instant};

/// How long a call may wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// Wait until the call can complete (or the handle is closed).
    Forever,
    /// Do not wait at all.
    Poll,
    /// Wait at most this long.
    After(Duration),
}

impl Timeout {
    /// Convert the C convention: -1 forever, 0 poll, > 0 milliseconds; anything else is invalid.
    pub fn from_millis(ms: i32) -> Result<Timeout> {
        match ms {
            -1 => Ok(Timeout::Forever),
            0 => Ok(Timeout::Poll),
            ms if ms > 0 => Ok(Timeout::After(Duration::from_millis(ms as u64))),
            ms => Err(Error::InvalidArgument(format!(
                "timeout_ms must be -1 (forever), 0 (poll) or positive, got {ms}"
            ))),
        }
    }

    /// The C convention back: -1, 0 or milliseconds (saturating).
    pub fn as_millis(self) -> i32 {
        match self {
            Timeout::Forever => -1,
            Timeout::Poll => 0,
            Timeout::After(d) => d.as_millis().clamp(1, i32::MAX as u128) as i32,
        }
    }

    /// Start the clock: the moment this timeout expires.
    pub(crate) fn deadline(self) -> Deadline {
        match self {
            Timeout::Forever => Deadline::Never,
            Timeout::Poll => Deadline::Now,
            Timeout::After(d) => Deadline::At(Instant::now() + d),
        }
    }
}

/// A point in time after which a call gives up.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Deadline {
    Never,
    Now,
    At(Instant),
}

impl Deadline {
    /// Milliseconds left for `poll(2)`: -1 for never, 0 when expired, rounded up otherwise,
    /// and capped at `cap_ms` when given (callers that must re-check a flag pass a slice).
    pub(crate) fn poll_ms(self, cap_ms: Option<i32>) -> i32 {
        let ms = match self {
            Deadline::Never => -1,
            Deadline::Now => 0,
            Deadline::At(t) => {
                let left = t.saturating_duration_since(Instant::now());
                let ms = left.as_micros().div_ceil(1000);
                ms.min(i32::MAX as u128) as i32
            }
        };
        match cap_ms {
            Some(cap) if ms < 0 || ms > cap => cap,
            _ => ms,
        }
    }

    /// True once the deadline has passed (always for `Now`, never for `Never`).
    pub(crate) fn expired(self) -> bool {
        match self {
            Deadline::Never => false,
            Deadline::Now => true,
            Deadline::At(t) => Instant::now() >= t,
        }
    }

    /// The earlier of two deadlines.
    pub(crate) fn min(self, other: Deadline) -> Deadline {
        match (self, other) {
            (Deadline::Now, _) | (_, Deadline::Now) => Deadline::Now,
            (Deadline::Never, d) | (d, Deadline::Never) => d,
            (Deadline::At(a), Deadline::At(b)) => Deadline::At(a.min(b)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_convention_round_trips() {
        assert_eq!(Timeout::from_millis(-1).unwrap(), Timeout::Forever);
        assert_eq!(Timeout::from_millis(0).unwrap(), Timeout::Poll);
        assert_eq!(Timeout::from_millis(250).unwrap().as_millis(), 250);
        assert!(Timeout::from_millis(-2).is_err());
        assert!(Timeout::from_millis(i32::MIN).is_err());
    }

    #[test]
    fn poll_ms_is_capped_and_never_negative_for_finite_deadlines() {
        assert_eq!(Deadline::Never.poll_ms(None), -1);
        assert_eq!(Deadline::Never.poll_ms(Some(50)), 50);
        assert_eq!(Deadline::Now.poll_ms(Some(50)), 0);
        let d = Timeout::After(Duration::from_secs(10)).deadline();
        assert_eq!(d.poll_ms(Some(50)), 50);
        let past = Deadline::At(Instant::now() - Duration::from_millis(5));
        assert_eq!(past.poll_ms(None), 0);
        assert!(past.expired());
    }
}
