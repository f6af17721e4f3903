//! Simulated devices (`arsock bots`, and the 8 of `arsock demo`): one session and one thread
//! per device, each walking a [`Walker`] path around the room. What a device does, and what the
//! report counts, is described in docs/CLI.md ("bots").
//!
//! A run has three phases. Joining: every device opens its session and waits until it has
//! seen every other device of the fleet join, so that every message of the run has a known set
//! of recipients. Running: each device broadcasts a small reliable message twice a second,
//! writes its status (with its measured round-trip time) once a second, places an anchor every
//! few seconds, and sends head poses when the library has them. Ending: each device
//! broadcasts an END message carrying how many messages it sent, removes its status and
//! anchors, and waits (bounded) for the END of every other device before it closes; then a
//! receiver knows exactly which messages it should have seen.

use crate::report::{Histogram, RunReport};
use crate::Failure;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Width and depth of the simulated room, metres.
pub const ROOM_SIZE: (f64, f64) = (8.0, 6.0);
/// Reliable messages each device broadcasts per second.
pub const MESSAGES_PER_S: f64 = 2.0;
/// How often each device writes its status key.
pub const STATUS_PERIOD: Duration = Duration::from_secs(1);
/// Anchors each device keeps placed (the oldest is removed when it places another).
pub const ANCHORS_KEPT: usize = 2;
/// How long the end phase waits for the other devices' END messages and final poses.
pub const END_WAIT: Duration = Duration::from_secs(5);
/// How often a device looks at the newest poses of the others (pose ages are measured then,
/// so they include up to this much waiting): every millisecond in a fleet of up to 16
/// devices, one more millisecond per 16 more (the looks of a big fleet would eat the CPU).
pub fn look_period(devices: u32) -> Duration {
    Duration::from_millis(u64::from(devices.div_ceil(16).max(1)))
}
/// Size of the blob stored with each anchor (stands for its mesh or map).
pub const ANCHOR_BLOB_LEN: usize = 64 * 1024;
/// The pose entity of a device's head.
pub const HEAD: u32 = crate::feed::HEAD_ENTITY;

mod device;
use device::bot;

const MAGIC: &[u8; 4] = b"ARSB";
const KIND_CHAT: u8 = 1;
const KIND_END: u8 = 2;
const MSG_LEN: usize = 4 + 8 + 1 + 8 + 8;

/// What to run.
#[derive(Clone, Debug)]
pub struct FleetConfig {
    pub host: String,
    pub port: u16,
    pub room: String,
    pub devices: u32,
    pub hz: f64,
    pub token: Option<String>,
    /// Seeds the walkers' paths and the message ids of this run.
    pub seed: u64,
}

/// Running totals, for the progress line.
#[derive(Debug, Default)]
pub struct Progress {
    pub joined: AtomicUsize,
    pub ready: AtomicUsize,
    pub messages_sent: AtomicU64,
    pub messages_received: AtomicU64,
    pub poses_sent: AtomicU64,
    pub poses_received: AtomicU64,
    pub anchors_placed: AtomicU64,
    pub blobs_received: AtomicU64,
    pub reconnects: AtomicU64,
}

struct Shared {
    cfg: FleetConfig,
    run_id: u64,
    /// Peer id of each device once joined (0 = not yet).
    ids: Mutex<Vec<u32>>,
    /// Room time of the last pose each device sent (0 = none), published at its end.
    last_pose: Mutex<Vec<i64>>,
    progress: Progress,
    stop: AtomicBool,
    /// Devices done with their end phase (or gone): the others may close.
    finished: AtomicUsize,
    /// The first fatal problem of any device.
    failure: Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, why: String) {
        let mut f = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            *f = Some(why);
        }
        self.stop.store(true, Ordering::Release);
    }

    fn failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn ids(&self) -> Vec<u32> {
        self.ids.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// What one device counted.
#[derive(Default)]
struct BotResult {
    sent: u64,
    /// Per sender device index: messages received, duplicates or out of order, END total.
    received: HashMap<usize, (u64, u64, Option<u64>)>,
    poses_sent: u64,
    /// Distinct poses of other fleet devices seen, and the newest (seq, capture time) seen
    /// per sender.
    poses_seen: u64,
    newest_pose: HashMap<usize, (u32, i64)>,
    pose_age: Histogram,
    rtt: Histogram,
    anchors: u64,
    blobs_received: u64,
}

/// A running fleet of simulated devices.
pub struct Fleet {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<BotResult>>,
    running_since: Option<Instant>,
}

impl Fleet {
    /// Open every device's session (joining happens in the background; see [`Fleet::wait_ready`]).
    pub fn start(cfg: FleetConfig) -> Result<Fleet, Failure> {
        let n = cfg.devices as usize;
        let run_id = cfg.seed ^ arsock::session::now_us() as u64;
        let shared = Arc::new(Shared {
            cfg,
            run_id,
            ids: Mutex::new(vec![0; n]),
            last_pose: Mutex::new(vec![0; n]),
            progress: Progress::default(),
            stop: AtomicBool::new(false),
            finished: AtomicUsize::new(0),
            failure: Mutex::new(None),
        });
        let mut threads = Vec::with_capacity(n);
        for i in 0..n {
            let s = shared.clone();
            let t = thread::Builder::new()
                .name(format!("bot-{i}"))
                .stack_size(256 * 1024)
                .spawn(move || bot(&s, i))
                .map_err(|e| Failure::new(format!("cannot start device thread {i}: {e}")));
            match t {
                Ok(t) => threads.push(t),
                Err(f) => {
                    shared.fail(f.message.clone());
                    for t in threads {
                        let _ = t.join();
                    }
                    return Err(f);
                }
            }
        }
        Ok(Fleet {
            shared,
            threads,
            running_since: None,
        })
    }

    /// Running totals.
    pub fn progress(&self) -> &Progress {
        &self.shared.progress
    }

    /// Wait until every device has joined and seen all the others; `interrupted` is checked
    /// every 50 ms. Err: a device failed, the wait took longer than `timeout`, or it was
    /// interrupted (then `Ok(false)`).
    pub fn wait_ready(
        &mut self,
        timeout: Duration,
        interrupted: impl Fn() -> bool,
    ) -> Result<bool, Failure> {
        let n = self.shared.cfg.devices as usize;
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.shared.failure() {
                return Err(Failure::new(f));
            }
            if self.shared.progress.ready.load(Ordering::Acquire) == n {
                self.running_since = Some(Instant::now());
                return Ok(true);
            }
            if interrupted() {
                return Ok(false);
            }
            if Instant::now() >= deadline {
                let joined = self.shared.progress.joined.load(Ordering::Acquire);
                let f = format!(
                    "only {joined} of {n} devices joined room {:?} of {}:{} within {} s",
                    self.shared.cfg.room,
                    self.shared.cfg.host,
                    self.shared.cfg.port,
                    timeout.as_secs()
                );
                return Err(Failure::new(f));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// A device's fatal problem, if any happened.
    pub fn failure(&self) -> Option<String> {
        self.shared.failure()
    }

    /// Stop every device, wait for their end phase and count: the report, and the first fatal
    /// problem of a device (or missing END messages), if any.
    pub fn finish(self) -> (RunReport, Option<String>) {
        let seconds = self
            .running_since
            .map_or(0.0, |t| t.elapsed().as_secs_f64());
        self.shared.stop.store(true, Ordering::Release);
        let results: Vec<BotResult> = self
            .threads
            .into_iter()
            .map(|t| t.join().unwrap_or_default())
            .collect();
        let mut pose_age = Histogram::new();
        let mut rtt = Histogram::new();
        let (mut delivered, mut lost, mut duplicated) = (0u64, 0u64, 0u64);
        let mut missing_end = 0u64;
        let mut final_missing = 0u64;
        let last_pose = self
            .shared
            .last_pose
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for (r, res) in results.iter().enumerate() {
            pose_age.merge(&res.pose_age);
            rtt.merge(&res.rtt);
            for (s, sender) in results.iter().enumerate() {
                if s == r {
                    continue;
                }
                let (got, dup, end) = res.received.get(&s).copied().unwrap_or_default();
                delivered += got;
                duplicated += dup;
                if end.is_none() {
                    missing_end += 1;
                }
                // What the sender says it sent (its END), or else what it counted itself.
                let expected = end.unwrap_or(sender.sent);
                lost += expected.saturating_sub(got);
                let seen = res.newest_pose.get(&s).map_or(0, |p| p.1);
                if last_pose[s] != 0 && seen != last_pose[s] {
                    final_missing += 1;
                }
            }
        }
        let report = RunReport {
            devices: results.len() as u32,
            seconds,
            poses_sent: results.iter().map(|r| r.poses_sent).sum(),
            poses_seen: results.iter().map(|r| r.poses_seen).sum(),
            final_poses_missing: final_missing,
            pose_age: pose_age.summary(),
            pose_look_period_ms: look_period(self.shared.cfg.devices).as_secs_f64() * 1000.0,
            messages_sent: results.iter().map(|r| r.sent).sum(),
            messages_delivered: delivered,
            messages_lost: lost,
            messages_duplicated: duplicated,
            rtt: rtt.summary(),
            anchors_placed: results.iter().map(|r| r.anchors).sum(),
            blobs_received: results.iter().map(|r| r.blobs_received).sum(),
        };
        let mut failure = self.shared.failure();
        if failure.is_none() && missing_end > 0 {
            failure = Some(format!(
                "{missing_end} END messages did not arrive within {} s",
                END_WAIT.as_secs()
            ));
        }
        (report, failure)
    }
}

fn encode(run_id: u64, kind: u8, seq: u64, time_us: i64) -> [u8; MSG_LEN] {
    let mut m = [0u8; MSG_LEN];
    m[..4].copy_from_slice(MAGIC);
    m[4..12].copy_from_slice(&run_id.to_le_bytes());
    m[12] = kind;
    m[13..21].copy_from_slice(&seq.to_le_bytes());
    m[21..29].copy_from_slice(&time_us.to_le_bytes());
    m
}

/// (kind, seq) of a message of this run; None for anything else.
fn decode(run_id: u64, m: &[u8]) -> Option<(u8, u64)> {
    if m.len() != MSG_LEN || &m[..4] != MAGIC {
        return None;
    }
    let id = u64::from_le_bytes(m[4..12].try_into().ok()?);
    let seq = u64::from_le_bytes(m[13..21].try_into().ok()?);
    (id == run_id).then_some((m[12], seq))
}

#[cfg(test)]
mod tests {
    use super::device::short_name;
    use super::*;

    #[test]
    fn messages_of_this_run_decode_and_others_are_ignored() {
        let m = encode(42, KIND_CHAT, 7, 123);
        assert_eq!(decode(42, &m), Some((KIND_CHAT, 7)));
        assert_eq!(decode(43, &m), None);
        assert_eq!(decode(42, &m[..10]), None);
        assert_eq!(decode(42, b"hello, not a bot message at all"), None);
        assert_eq!(short_name("Quest 3 · Ben 2"), "Ben-2");
    }
}
