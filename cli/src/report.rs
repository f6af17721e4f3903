//! What `hub`, `bots` and `demo` print: the hub's periodic summary line and the final report of
//! pose ages and delivery counts, as text or (with `--json`) as one JSON object per line.
//! Pose ages go into a [`Histogram`] of fixed size, so a run of any length uses bounded memory.

use crate::view::HubTotals;
use serde::Serialize;

/// Latency histogram: buckets 1 % wide from 1 µs to 1000 s (about 2,100 counters).
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ms: f64,
}

const MIN_MS: f64 = 0.001;
const MAX_MS: f64 = 1_000_000.0;
const GROWTH: f64 = 1.01;

fn bucket_count() -> usize {
    ((MAX_MS / MIN_MS).ln() / GROWTH.ln()).ceil() as usize + 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram::new()
    }
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; bucket_count()],
            total: 0,
            max_ms: 0.0,
        }
    }

    /// Record one value in milliseconds. Negative values (clock error) count as 0; values past
    /// 1000 s count as 1000 s; NaN is ignored.
    pub fn record(&mut self, ms: f64) {
        if ms.is_nan() {
            return;
        }
        let ms = ms.clamp(0.0, MAX_MS);
        let i = if ms <= MIN_MS {
            0
        } else {
            (((ms / MIN_MS).ln() / GROWTH.ln()).ceil() as usize).min(self.counts.len() - 1)
        };
        self.counts[i] += 1;
        self.total += 1;
        self.max_ms = self.max_ms.max(ms);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    /// The value below which a fraction `q` (0..=1) of the samples lie, within 1 %; None if
    /// empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = MIN_MS * GROWTH.powi(i as i32);
                return Some(upper.min(self.max_ms));
            }
        }
        Some(self.max_ms)
    }

    /// Add another histogram's samples (e.g. one per bot thread).
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.max_ms = self.max_ms.max(other.max_ms);
    }

    /// p50, p99 and max, for a report.
    pub fn summary(&self) -> Option<Percentiles> {
        Some(Percentiles {
            p50_ms: self.quantile(0.50)?,
            p99_ms: self.quantile(0.99)?,
            max_ms: self.max_ms,
            samples: self.total,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub samples: u64,
}

/// The end-of-run report of `bots` and `demo`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    pub devices: u32,
    pub seconds: f64,
    pub poses_sent: u64,
    /// Distinct poses of other devices the devices saw (poses are newest-only: one replaced
    /// before a device looked is superseded, not lost).
    pub poses_seen: u64,
    /// (receiver, sender) pairs where the sender's last pose never became visible (must be 0).
    pub final_poses_missing: u64,
    /// Pose age (time seen − capture time, room time) over every pose seen.
    pub pose_age: Option<Percentiles>,
    /// How often each device looked for new poses (the ages include up to this much).
    pub pose_look_period_ms: f64,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    /// Copies of reliable messages that should have reached a device and never did (must
    /// be 0; docs/CLI.md defines it exactly).
    pub messages_lost: u64,
    /// Copies received twice or out of order (must be 0).
    pub messages_duplicated: u64,
    /// Round trip device → hub → device of the devices' status writes.
    pub rtt: Option<Percentiles>,
    pub anchors_placed: u64,
    /// BLOB_AVAILABLE events of other devices' anchor blobs.
    pub blobs_received: u64,
}

impl RunReport {
    pub fn text(&self) -> String {
        let age = match &self.pose_age {
            Some(p) => format!(
                "pose age p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (looking every {} ms; {} poses seen, {} final poses missing)",
                p.p50_ms, p.p99_ms, p.max_ms, self.pose_look_period_ms, p.samples, self.final_poses_missing
            ),
            None => "no poses received".to_string(),
        };
        let rtt = match &self.rtt {
            Some(p) => format!(
                "RTT to the hub p50 {:.2} ms, p99 {:.2} ms",
                p.p50_ms, p.p99_ms
            ),
            None => "no RTT measured".to_string(),
        };
        format!(
            "{} devices for {:.1} s: {} poses sent; {age}\n\
             messages: {} sent, {} delivered, {} lost, {} duplicated; {} anchors placed ({} blobs received); {rtt}",
            self.devices,
            self.seconds,
            self.poses_sent,
            self.messages_sent,
            self.messages_delivered,
            self.messages_lost,
            self.messages_duplicated,
            self.anchors_placed,
            self.blobs_received
        )
    }

    pub fn json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        v["report"] = "run".into();
        v.to_string()
    }
}

/// Bytes per second for people: "812 B/s", "45.1 kB/s", "3.2 MB/s".
pub fn rate(bytes_per_s: f64) -> String {
    let units = ["B/s", "kB/s", "MB/s", "GB/s"];
    let mut v = bytes_per_s.max(0.0);
    let mut i = 0;
    while v >= 1000.0 && i < units.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{v:.0} {}", units[0])
    } else {
        format!("{v:.1} {}", units[i])
    }
}

/// The hub's periodic one-line summary.
pub fn summary_line(t: &HubTotals) -> String {
    format!(
        "rooms {} · peers {} · {:.0} msg/s · {:.0} poses/s · in {} · out {} · queue peak {} B",
        t.rooms,
        t.peers,
        t.messages_per_s,
        t.poses_per_s,
        rate(t.bytes_in_per_s),
        rate(t.bytes_out_per_s),
        t.queue_high_water
    )
}

/// The same summary as one JSON object (`--json`).
pub fn summary_json(t: &HubTotals) -> String {
    let mut v = serde_json::to_value(t).unwrap_or_default();
    v["report"] = "summary".into();
    v.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_within_one_percent_of_the_exact_values() {
        let mut h = Histogram::new();
        for i in 1..=10_000 {
            h.record(i as f64 / 100.0); // 0.01 ms .. 100 ms
        }
        let p50 = h.quantile(0.5).unwrap();
        let p99 = h.quantile(0.99).unwrap();
        assert!((p50 / 50.0 - 1.0).abs() <= 0.011, "{p50}");
        assert!((p99 / 99.0 - 1.0).abs() <= 0.011, "{p99}");
        assert_eq!(h.quantile(1.0), Some(100.0));
        assert_eq!(h.count(), 10_000);
    }

    #[test]
    fn empty_histogram_has_no_quantiles_and_odd_values_are_bounded() {
        let mut h = Histogram::new();
        assert_eq!(h.quantile(0.5), None);
        assert!(h.summary().is_none());
        h.record(f64::NAN);
        assert_eq!(h.count(), 0);
        h.record(-5.0);
        h.record(f64::INFINITY);
        assert_eq!(h.count(), 2);
        assert_eq!(h.quantile(0.0), Some(MIN_MS.min(h.max_ms)));
        assert_eq!(h.quantile(1.0), Some(MAX_MS));
    }

    #[test]
    fn merged_histograms_count_both() {
        let (mut a, mut b) = (Histogram::new(), Histogram::new());
        a.record(1.0);
        b.record(3.0);
        b.record(3.0);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert!((a.quantile(0.5).unwrap() - 3.0).abs() < 0.04);
    }

    #[test]
    fn report_text_and_json_carry_every_number() {
        let mut h = Histogram::new();
        h.record(0.4);
        let r = RunReport {
            devices: 8,
            seconds: 20.0,
            poses_sent: 4800,
            poses_seen: 33600,
            final_poses_missing: 0,
            pose_age: h.summary(),
            pose_look_period_ms: 1.0,
            messages_sent: 12,
            messages_delivered: 84,
            messages_lost: 0,
            messages_duplicated: 0,
            rtt: None,
            anchors_placed: 3,
            blobs_received: 21,
        };
        let t = r.text();
        assert!(
            t.contains("8 devices") && t.contains("84 delivered") && t.contains("0 lost"),
            "{t}"
        );
        let j: serde_json::Value = serde_json::from_str(&r.json()).unwrap();
        assert_eq!(j["report"], "run");
        assert_eq!(j["messages_lost"], 0);
        assert_eq!(j["pose_age"]["samples"], 1);
    }

    #[test]
    fn summary_line_formats_rates() {
        let t = HubTotals {
            rooms: 2,
            peers: 9,
            messages_per_s: 240.4,
            poses_per_s: 720.0,
            bytes_in_per_s: 45_100.0,
            bytes_out_per_s: 3_200_000.0,
            queue_high_water: 512,
            ..HubTotals::default()
        };
        assert_eq!(
            summary_line(&t),
            "rooms 2 · peers 9 · 240 msg/s · 720 poses/s · in 45.1 kB/s · out 3.2 MB/s · queue peak 512 B"
        );
        let j: serde_json::Value = serde_json::from_str(&summary_json(&t)).unwrap();
        assert_eq!(
            (j["report"].as_str(), j["peers"].as_u64()),
            (Some("summary"), Some(9))
        );
        assert_eq!(rate(999.0), "999 B/s");
    }
}
