//! Room clock: a device's estimate of the hub's clock from ping exchanges (issue 11).
//!
//! Pure logic: every time is an argument (microseconds; "local" is the device's monotonic
//! clock, "hub" the hub's). A ping records `t0` (local send), the hub stamps `t1` (its receive)
//! and `t2` (its send), and the pong's arrival is `t3` (local). From each exchange:
//! `rtt = (t3 − t0) − (t2 − t1)` and `offset = ((t1 − t0) + (t2 − t3)) / 2` (hub = local +
//! offset). Whatever the path's asymmetry, the true offset lies within `offset ± rtt/2`.
//!
//! Each exchange says the true offset lies in `[t2 − t3, t1 − t0]` (its width is the round
//! trip; its middle is `offset`), whatever the path's asymmetry, because delays are never
//! negative. The estimator keeps a window of recent exchanges (as NTP does) and intersects
//! their intervals, each widened by the drift allowance for its age; the intersection is never
//! wider than the minimum-round-trip sample's interval and shrinks as the smallest forward and
//! the smallest backward delay are seen, even in different exchanges. A sample whose interval
//! misses the intersection is an outlier and is discarded (several in a row mean the clocks
//! really moved: the window restarts). The estimate is the intersection's middle; the
//! applied offset steps to it on the first sample and when off by more than
//! [`ClockConfig::step_threshold_us`](crate::clock::ClockConfig::step_threshold_us), and otherwise slews toward it by at most 1 % of the
//! elapsed local time. Room time never decreases: after a backward step it holds until the
//! estimate catches up. The error bound is the intersection's half-width at the current time
//! (at most half the minimum round trip, plus drift), plus what is still to slew, plus any
//! hold.

#[cfg(test)]
mod tests;

use std::collections::VecDeque;

/// Tuning of a [`ClockEstimator`]; `Default` gives the documented values.
#[derive(Clone, Debug, PartialEq)]
pub struct ClockConfig {
    /// Samples kept. Default 64.
    pub window: usize,
    /// Samples older than this (local time since their `t0`) leave the window. Default 20 s.
    pub max_sample_age_us: i64,
    /// Round trips longer than this are discarded. Default 5 s.
    pub max_rtt_us: i64,
    /// Step instead of slewing when off by more than this. Default 200 ms.
    pub step_threshold_us: i64,
    /// The applied offset moves by at most 1/`slew_divisor` of the elapsed local time.
    /// Default 100 (1 %).
    pub slew_divisor: i64,
    /// Allowed relative drift between the two clocks, in parts per million: each sample's
    /// interval widens by this much of its age. Default 50.
    pub drift_ppm: i64,
    /// Consecutive outliers that restart the window. Default 3.
    pub outliers_to_reset: u32,
    /// Ping interval while converging. Default 100 ms.
    pub fast_interval_us: i64,
    /// Ping interval once converged. Default 1 s.
    pub slow_interval_us: i64,
    /// Samples after the first (or after a restart) during which pings are fast. Default 32.
    pub converge_samples: u32,
}

impl Default for ClockConfig {
    fn default() -> Self {
        ClockConfig {
            window: 64,
            max_sample_age_us: 20_000_000,
            max_rtt_us: 5_000_000,
            step_threshold_us: 200_000,
            slew_divisor: 100,
            drift_ppm: 50,
            outliers_to_reset: 3,
            fast_interval_us: 100_000,
            slow_interval_us: 1_000_000,
            converge_samples: 32,
        }
    }
}

/// Why a ping exchange was not used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Times out of order: `t3 < t0`, `t2 < t1`, or a negative round trip.
    Invalid,
    /// Round trip above [`ClockConfig::max_rtt_us`].
    RttTooLarge,
    /// Its interval misses the window's intersection: discarded.
    Outlier,
}

/// What [`ClockEstimator::on_pong`] did with an exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleOutcome {
    /// Used; `stepped` if the applied offset jumped to the new estimate.
    Accepted {
        /// The applied offset was stepped (first sample, or off by more than the threshold).
        stepped: bool,
    },
    /// Not used.
    Rejected(Rejected),
}

/// Room time and its error bound, microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomTime {
    /// The room (hub) clock as estimated on this device; never decreases.
    pub room_us: i64,
    /// |room_us − true hub time| is at most this, if the drift allowance holds.
    pub error_bound_us: i64,
}

/// Counters of what the estimator did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClockStats {
    /// Samples used.
    pub accepted: u64,
    /// Samples rejected as invalid or too slow.
    pub invalid: u64,
    /// Samples discarded as outliers.
    pub outliers: u64,
    /// Times the applied offset stepped (the first sample included).
    pub steps: u64,
    /// Times the window restarted after consecutive outliers.
    pub resets: u64,
}

#[derive(Clone, Copy, Debug)]
struct Sample {
    /// Local send time (ages are counted from it, conservatively).
    t0: i64,
    /// The true offset was within [lo, hi] during the exchange.
    lo: i64,
    hi: i64,
}

fn sat(v: i128) -> i64 {
    v.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// The device side of the room clock. Not thread-safe by itself; callers wrap it in a lock.
#[derive(Debug)]
pub struct ClockEstimator {
    cfg: ClockConfig,
    window: VecDeque<Sample>,
    /// Offset in use (None until the first sample).
    applied: Option<i64>,
    /// The estimate the applied offset slews toward.
    target: i64,
    /// Local time up to which slewing has been applied, and elapsed µs not yet converted.
    slewed_to: Option<i64>,
    slew_carry: i64,
    last_room: Option<i64>,
    consecutive_outliers: u32,
    since_restart: u32,
    stats: ClockStats,
}

impl ClockEstimator {
    /// An estimator with `cfg` (window and divisor are raised to at least 1, the drift
    /// allowance kept within 0..=10⁶ ppm).
    pub fn new(mut cfg: ClockConfig) -> Self {
        cfg.window = cfg.window.max(1);
        cfg.slew_divisor = cfg.slew_divisor.max(1);
        cfg.drift_ppm = cfg.drift_ppm.clamp(0, 1_000_000);
        ClockEstimator {
            cfg,
            window: VecDeque::new(),
            applied: None,
            target: 0,
            slewed_to: None,
            slew_carry: 0,
            last_room: None,
            consecutive_outliers: 0,
            since_restart: 0,
            stats: ClockStats::default(),
        }
    }

    /// Feed one ping exchange: `t0` local send, `t1` hub receive, `t2` hub send, `t3` local
    /// receive of the pong.
    pub fn on_pong(&mut self, t0: i64, t1: i64, t2: i64, t3: i64) -> SampleOutcome {
        let (w0, w1, w2, w3) = (t0 as i128, t1 as i128, t2 as i128, t3 as i128);
        let rtt = (w3 - w0) - (w2 - w1);
        if w3 < w0 || w2 < w1 || rtt < 0 {
            self.stats.invalid += 1;
            return SampleOutcome::Rejected(Rejected::Invalid);
        }
        if rtt > self.cfg.max_rtt_us as i128 {
            self.stats.invalid += 1;
            return SampleOutcome::Rejected(Rejected::RttTooLarge);
        }
        // Hub stamps are whole microseconds: widen by one each side.
        let sample = Sample {
            t0,
            lo: sat(w2 - w3 - 1),
            hi: sat(w1 - w0 + 1),
        };
        self.advance(t3);
        let max_age = self.cfg.max_sample_age_us as i128;
        self.window.retain(|s| w3 - s.t0 as i128 <= max_age);
        if let Some((lo, hi)) = self.intersection(t3) {
            if (sample.hi as i128) < lo || (sample.lo as i128) > hi {
                self.consecutive_outliers += 1;
                if self.consecutive_outliers < self.cfg.outliers_to_reset {
                    self.stats.outliers += 1;
                    return SampleOutcome::Rejected(Rejected::Outlier);
                }
                self.stats.resets += 1;
                self.window.clear();
                self.since_restart = 0;
            }
        }
        self.consecutive_outliers = 0;
        if self.window.len() >= self.cfg.window {
            self.window.pop_front();
        }
        self.window.push_back(sample);
        self.stats.accepted += 1;
        self.since_restart = self.since_restart.saturating_add(1);
        let (lo, hi) = match self.intersection(t3) {
            Some((lo, hi)) if lo <= hi => (lo, hi),
            // Unreachable while the window is consistent; the newest sample alone otherwise.
            _ => (sample.lo as i128, sample.hi as i128),
        };
        self.target = sat((lo + hi).div_euclid(2));
        let stepped = match self.applied {
            Some(applied) => {
                (self.target as i128 - applied as i128).abs() > self.cfg.step_threshold_us as i128
            }
            None => true,
        };
        if stepped {
            self.applied = Some(self.target);
            self.slew_carry = 0;
            self.stats.steps += 1;
        }
        SampleOutcome::Accepted { stepped }
    }

    /// Room time at local time `local_now_us`, with its error bound; `None` before the first
    /// sample. Advances the slew, so call it with non-decreasing local times (an earlier time
    /// slews nothing and gets the last room time again).
    pub fn now(&mut self, local_now_us: i64) -> Option<RoomTime> {
        self.applied?;
        self.advance(local_now_us);
        let applied = self.applied? as i128;
        let raw = sat(local_now_us as i128 + applied);
        let room = self.last_room.map_or(raw, |last| last.max(raw));
        self.last_room = Some(room);
        let target = self.target as i128;
        let spread = match self.intersection(local_now_us) {
            Some((lo, hi)) => (hi - target).max(target - lo).max(0),
            // Every sample aged out: nothing vouches for the estimate any more.
            None => i64::MAX as i128,
        };
        let bound = spread + (target - applied).abs() + (room as i128 - raw as i128);
        Some(RoomTime {
            room_us: room,
            error_bound_us: sat(bound),
        })
    }

    /// How long to wait before the next ping: fast while converging (the first
    /// [`ClockConfig::converge_samples`] samples after the start or a window restart), slow
    /// after.
    pub fn ping_interval_us(&self) -> i64 {
        if self.since_restart < self.cfg.converge_samples {
            self.cfg.fast_interval_us
        } else {
            self.cfg.slow_interval_us
        }
    }

    /// What the estimator has done so far.
    pub fn stats(&self) -> ClockStats {
        self.stats
    }

    /// Intersection at local time `now` of the window's intervals, each widened by the drift
    /// allowance for its age; `None` for an empty window. May be empty (lo > hi).
    fn intersection(&self, now: i64) -> Option<(i128, i128)> {
        let ppm = self.cfg.drift_ppm as i128;
        self.window.iter().fold(None, |acc, s| {
            let age = (now as i128 - s.t0 as i128).max(0);
            let widen = (age * ppm + 999_999) / 1_000_000;
            let (lo, hi) = (s.lo as i128 - widen, s.hi as i128 + widen);
            Some(match acc {
                None => (lo, hi),
                Some((l, h)) => (lo.max(l), hi.min(h)),
            })
        })
    }

    /// Move the applied offset toward the target by at most 1/`slew_divisor` of the local
    /// time elapsed since the last call.
    fn advance(&mut self, local_now: i64) {
        let elapsed = match self.slewed_to {
            Some(last) => (local_now as i128 - last as i128).max(0),
            None => 0,
        };
        self.slewed_to = Some(self.slewed_to.map_or(local_now, |l| l.max(local_now)));
        let Some(applied) = self.applied else {
            return;
        };
        let diff = self.target as i128 - applied as i128;
        if diff == 0 {
            self.slew_carry = 0;
            return;
        }
        let divisor = self.cfg.slew_divisor as i128;
        let budget = elapsed + self.slew_carry as i128;
        let allowed = budget / divisor;
        self.slew_carry = (budget % divisor) as i64;
        self.applied = Some(sat(applied as i128 + diff.clamp(-allowed, allowed)));
    }
}
