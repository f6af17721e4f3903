//! One simulated device of a [`Fleet`](super::Fleet): its session, its walk, what it sends
//! and what it counts (the phases are described in the parent module).

use super::*;
use crate::sim::{device_name, Walker};
use arsock::pose::seq::seq_newer;
use arsock::pose::Pose;
use arsock::session::{blob_flag, event_flag, event_kind, Event, Session, SessionConfig};
use arsock::Timeout;
use std::collections::{HashMap, VecDeque};

/// The part of a device name after "· " (used in anchor keys).
pub(super) fn short_name(name: &str) -> String {
    name.rsplit("· ").next().unwrap_or(name).replace(' ', "-")
}

struct Bot<'a> {
    shared: &'a Shared,
    index: usize,
    session: Session,
    me: u32,
    name: String,
    walker: Walker,
    /// Peers present (fleet or not).
    present: std::collections::BTreeSet<u32>,
    res: BotResult,
    /// Per sender device: last seq seen.
    last_seq: HashMap<usize, u64>,
    status_sent: VecDeque<(u64, Instant)>,
    status_n: u64,
    last_rtt: Option<f64>,
    anchors: VecDeque<String>,
    last_sent_pose: Option<i64>,
    scratch: Vec<(u32, u32, i64)>,
    /// This device counted itself in `Shared::finished`.
    finished: bool,
    /// Peer id → device index of this run.
    index_of: HashMap<u32, usize>,
    look_period: Duration,
}

pub(super) fn bot(shared: &Shared, index: usize) -> BotResult {
    let cfg = &shared.cfg;
    let name = device_name(index);
    let scfg = SessionConfig {
        token: cfg.token.clone(),
        name: name.clone(),
        connect_timeout: Duration::from_secs(5),
    };
    let session = match Session::open(&cfg.host, cfg.port, &cfg.room, scfg) {
        Ok(s) => s,
        Err(e) => {
            shared.fail(format!("device {} ({name}): {e}", index + 1));
            return BotResult::default();
        }
    };
    let mut b = Bot {
        shared,
        index,
        session,
        me: 0,
        name: name.clone(),
        walker: Walker::new(
            cfg.seed.wrapping_add(index as u64 * 7919),
            ROOM_SIZE.0,
            ROOM_SIZE.1,
        ),
        present: Default::default(),
        res: BotResult::default(),
        last_seq: HashMap::new(),
        status_sent: VecDeque::new(),
        status_n: 0,
        last_rtt: None,
        anchors: VecDeque::new(),
        last_sent_pose: None,
        scratch: Vec::new(),
        index_of: HashMap::new(),
        finished: false,
        look_period: look_period(cfg.devices),
    };
    if let Err(why) = b.run() {
        shared.fail(format!("device {} ({name}): {why}", index + 1));
    }
    if !b.finished {
        shared.finished.fetch_add(1, Ordering::AcqRel);
    }
    b.session.close();
    b.res
}

impl Bot<'_> {
    fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Acquire)
    }

    /// Poll for up to `wait` and handle what arrived. Err: the session is over.
    fn pump(&mut self, wait: Duration) -> Result<(), String> {
        let events = match self.session.poll(256, Timeout::After(wait)) {
            Ok(ev) => ev,
            Err(arsock::Error::Timeout) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        };
        for (e, _) in events {
            self.handle(&e)?;
        }
        Ok(())
    }

    /// The device index of a peer of this run (None for other peers in the room).
    fn fleet_index(&mut self, peer: u32) -> Option<usize> {
        if let Some(&i) = self.index_of.get(&peer) {
            return Some(i);
        }
        if self.index_of.len() < self.shared.cfg.devices as usize {
            let ids = self.shared.ids();
            self.index_of = (0..ids.len())
                .filter(|&i| ids[i] != 0)
                .map(|i| (ids[i], i))
                .collect();
        }
        self.index_of.get(&peer).copied()
    }

    fn handle(&mut self, e: &Event) -> Result<(), String> {
        match e.kind {
            event_kind::JOINED => {
                self.me = e.peer;
                self.shared.ids.lock().unwrap_or_else(|e| e.into_inner())[self.index] = e.peer;
                self.shared.progress.joined.fetch_add(1, Ordering::AcqRel);
            }
            event_kind::REJECTED => {
                return Err(format!(
                    "the hub refused it: {}",
                    crate::feed::reason_name(e.reason)
                ))
            }
            event_kind::PEER_JOINED => {
                self.present.insert(e.peer);
            }
            event_kind::PEER_LEFT => {
                self.present.remove(&e.peer);
            }
            event_kind::DISCONNECTED => {
                if self.me == 0 {
                    let c = &self.shared.cfg;
                    return Err(format!(
                        "could not join: no hub answered at {}:{} ({})",
                        c.host,
                        c.port,
                        crate::feed::reason_name(e.reason)
                    ));
                }
                if e.flags & event_flag::RESUMING == 0 {
                    return Err(format!(
                        "disconnected: {}",
                        crate::feed::reason_name(e.reason)
                    ));
                }
            }
            event_kind::RECONNECTED => {
                self.shared
                    .progress
                    .reconnects
                    .fetch_add(1, Ordering::Relaxed);
            }
            event_kind::MESSAGE => {
                let Some((kind, seq)) = e
                    .payload
                    .as_deref()
                    .and_then(|p| decode(self.shared.run_id, p))
                else {
                    return Ok(());
                };
                let Some(from) = self.fleet_index(e.peer) else {
                    return Ok(());
                };
                let entry = self.res.received.entry(from).or_default();
                if kind == KIND_END {
                    entry.2 = Some(seq);
                    return Ok(());
                }
                let last = self.last_seq.entry(from).or_insert(0);
                if seq <= *last {
                    entry.1 += 1;
                } else {
                    *last = seq;
                    entry.0 += 1;
                    self.shared
                        .progress
                        .messages_received
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            event_kind::BLOB_AVAILABLE => {
                if e.peer != self.me && e.flags & (blob_flag::DELETED | blob_flag::REFUSED) == 0 {
                    self.res.blobs_received += 1;
                    self.shared
                        .progress
                        .blobs_received
                        .fetch_add(1, Ordering::Relaxed);
                }
                if e.peer == self.me && e.flags & blob_flag::REFUSED != 0 {
                    return Err("the hub refused an anchor's blob (room budget full)".into());
                }
            }
            event_kind::STATE_CHANGED => {
                let key = format!("{}{}", crate::feed::STATUS_PREFIX, self.me);
                if e.payload.as_deref() == Some(key.as_bytes()) && e.peer == self.me {
                    self.status_echo(&key);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// Our status write came back from the hub: the time since we sent it is a round trip.
    fn status_echo(&mut self, key: &str) {
        let Ok(v) = self.session.get_state(key) else {
            return;
        };
        let Some(n) = serde_json::from_slice::<serde_json::Value>(&v)
            .ok()
            .and_then(|v| v.get("n").and_then(|n| n.as_u64()))
        else {
            return;
        };
        if let Some(pos) = self.status_sent.iter().position(|(k, _)| *k == n) {
            let (_, at) = self.status_sent[pos];
            let ms = at.elapsed().as_secs_f64() * 1000.0;
            self.status_sent.drain(..=pos);
            self.res.rtt.record(ms);
            self.last_rtt = Some(ms);
        }
    }

    fn write_status(&mut self) -> Result<(), String> {
        self.status_n += 1;
        let key = format!("{}{}", crate::feed::STATUS_PREFIX, self.me);
        let value =
            serde_json::json!({ "n": self.status_n, "name": self.name, "rtt_ms": self.last_rtt });
        if self.status_sent.len() >= 16 {
            self.status_sent.pop_front();
        }
        self.status_sent.push_back((self.status_n, Instant::now()));
        self.session
            .set_state(&key, Some(value.to_string().as_bytes()))
            .map_err(|e| e.to_string())
    }

    fn place_anchor(&mut self, t: f64) -> Result<(), String> {
        let p = self.walker.pose_at(t);
        // A metre in front of the device, on the floor.
        let (dx, dz) = (-(p.yaw as f64).sin(), -(p.yaw as f64).cos());
        let x = p.position[0] as f64 + dx;
        let z = p.position[2] as f64 + dz;
        self.res.anchors += 1;
        let key = format!(
            "{}{}-{}",
            crate::feed::ANCHOR_PREFIX,
            short_name(&self.name),
            self.res.anchors
        );
        let value = serde_json::json!({ "x": x, "y": 0.0, "z": z, "by": self.name });
        self.session
            .set_state(&key, Some(value.to_string().as_bytes()))
            .map_err(|e| e.to_string())?;
        self.shared
            .progress
            .anchors_placed
            .fetch_add(1, Ordering::Relaxed);
        let blob: Vec<u8> = (0..ANCHOR_BLOB_LEN)
            .map(|i| (i as u64 ^ self.res.anchors).wrapping_mul(2_654_435_761) as u8)
            .collect();
        self.session
            .put_blob(&key, &blob)
            .map_err(|e| format!("anchor blob: {e}"))?;
        self.anchors.push_back(key);
        while self.anchors.len() > ANCHORS_KEPT {
            if let Some(old) = self.anchors.pop_front() {
                self.remove_anchor(&old)?;
            }
        }
        Ok(())
    }

    fn remove_anchor(&mut self, key: &str) -> Result<(), String> {
        self.session
            .set_state(key, None)
            .map_err(|e| e.to_string())?;
        match self.session.delete_blob(key) {
            Ok(()) | Err(arsock::Error::NotFound(_)) => Ok(()),
            Err(e) => Err(format!("anchor blob: {e}")),
        }
    }

    fn broadcast(&mut self, kind: u8, seq: u64) -> Result<(), String> {
        let m = encode(self.shared.run_id, kind, seq, arsock::session::now_us());
        // WOULD_BLOCK (queue full) is waited out: a reliable message is never skipped.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match self.session.send(0, &m) {
                Ok(()) => return Ok(()),
                Err(arsock::Error::WouldBlock { .. }) if Instant::now() < deadline => {
                    self.pump(Duration::from_millis(5))?
                }
                Err(e) => return Err(format!("send: {e}")),
            }
        }
    }

    fn run(&mut self) -> Result<(), String> {
        let n = self.shared.cfg.devices as usize;
        // Joining: until every device of the fleet is known and present.
        let mut ready = false;
        loop {
            if self.stopping() {
                return Ok(());
            }
            self.pump(Duration::from_millis(20))?;
            if self.me == 0 {
                continue;
            }
            let ids = self.shared.ids();
            let clock = self.session.room_time().is_ok();
            let all = clock
                && ids.iter().all(|&id| id != 0)
                && ids
                    .iter()
                    .filter(|&&id| id != self.me)
                    .all(|id| self.present.contains(id));
            if all && !ready {
                ready = true;
                self.shared.progress.ready.fetch_add(1, Ordering::AcqRel);
            }
            if ready && self.shared.progress.ready.load(Ordering::Acquire) == n {
                break;
            }
        }
        // Running.
        let hz = self.shared.cfg.hz;
        let msg_period = Duration::from_secs_f64(1.0 / MESSAGES_PER_S);
        let pose_period = Duration::from_secs_f64(1.0 / hz);
        let offset = |k: u64| Duration::from_millis((self.index as u64 * k) % 1000);
        let start = Instant::now();
        let mut next_msg = start + offset(137) / 2;
        let mut next_status = start + offset(211);
        let mut next_anchor = start + Duration::from_secs(2) + offset(409) * 4;
        let mut next_pose = start + offset(53).min(pose_period);
        let mut next_look = start;
        let mut t_walk = 0.0;
        while !self.stopping() {
            let now = Instant::now();
            if now >= next_msg {
                self.res.sent += 1;
                self.broadcast(KIND_CHAT, self.res.sent)?;
                self.shared
                    .progress
                    .messages_sent
                    .fetch_add(1, Ordering::Relaxed);
                next_msg += msg_period;
            }
            if now >= next_status {
                self.write_status()?;
                next_status += STATUS_PERIOD;
            }
            if now >= next_anchor {
                self.place_anchor(t_walk)?;
                next_anchor += Duration::from_millis(6000 + (self.index as u64 * 1733) % 8000);
            }
            if now >= next_pose {
                t_walk = now.duration_since(start).as_secs_f64();
                self.send_pose(t_walk)?;
                next_pose += pose_period;
                if next_pose < now {
                    next_pose = now + pose_period; // fell behind: skip, poses are newest-only
                }
            }
            if now >= next_look {
                self.look_poses();
                next_look = now + self.look_period;
            }
            let due = next_msg
                .min(next_status)
                .min(next_anchor)
                .min(next_pose)
                .min(next_look);
            let wait = due.saturating_duration_since(Instant::now());
            self.pump(wait.min(Duration::from_millis(100)))?;
        }
        // Ending.
        if let Some(t) = self.last_sent_pose {
            self.shared
                .last_pose
                .lock()
                .unwrap_or_else(|e| e.into_inner())[self.index] = t;
        }
        self.broadcast(KIND_END, self.res.sent)?;
        let key = format!("{}{}", crate::feed::STATUS_PREFIX, self.me);
        let _ = self.session.set_state(&key, None);
        for a in std::mem::take(&mut self.anchors) {
            let _ = self.remove_anchor(&a);
        }
        let deadline = Instant::now() + END_WAIT;
        while Instant::now() < deadline {
            let ids = self.shared.ids();
            let last_pose = self
                .shared
                .last_pose
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            self.look_poses();
            let waiting = ids.iter().enumerate().any(|(i, id)| {
                i != self.index
                    && self.present.contains(id)
                    && (self.res.received.get(&i).is_none_or(|r| r.2.is_none())
                        || self.res.newest_pose.get(&i).map_or(0, |p| p.1) != last_pose[i])
            });
            if !waiting {
                break;
            }
            self.pump(Duration::from_millis(2))?;
        }
        // Close only once every device has what it waited for: a device's poses vanish from
        // the room when it leaves, so leaving earlier could take its last pose from the others.
        self.finished = true;
        self.shared.finished.fetch_add(1, Ordering::AcqRel);
        let n = self.shared.cfg.devices as usize;
        let deadline = Instant::now() + END_WAIT;
        while self.shared.finished.load(Ordering::Acquire) < n && Instant::now() < deadline {
            self.pump(Duration::from_millis(2))?;
        }
        Ok(())
    }

    /// Send the head pose at `t` seconds of the walk, captured now (room time).
    fn send_pose(&mut self, t: f64) -> Result<(), String> {
        let Ok((now_us, _)) = self.session.room_time() else {
            return Ok(()); // no room clock (yet): no capture time to give
        };
        let sim = self.walker.pose_at(t);
        let pose = Pose {
            entity: HEAD,
            time_us: now_us,
            position: sim.position,
            rotation: sim.rotation,
            ..Pose::default()
        };
        match self.session.send_poses(&[pose]) {
            Ok(()) => {
                self.res.poses_sent += 1;
                self.last_sent_pose = Some(now_us);
                self.shared
                    .progress
                    .poses_sent
                    .fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => Err(format!("send_poses: {e}")),
        }
    }

    /// Look at the newest poses of the other devices: each one not seen before is counted,
    /// and its age (room time now − capture time) recorded.
    fn look_poses(&mut self) {
        let Ok((now_us, _)) = self.session.room_time() else {
            return;
        };
        let mut fresh = std::mem::take(&mut self.scratch);
        fresh.clear();
        let _ = self.session.with_latest_poses(|poses| {
            for p in poses.iter().filter(|p| p.entity == HEAD) {
                fresh.push((p.peer, p.seq, p.time_us));
            }
        });
        for &(peer, seq, time_us) in &fresh {
            let Some(i) = self.fleet_index(peer) else {
                continue;
            };
            let newer = match self.res.newest_pose.get(&i) {
                None => true,
                Some(&(old, _)) => seq_newer(seq, old),
            };
            if newer {
                self.res.newest_pose.insert(i, (seq, time_us));
                self.res.poses_seen += 1;
                self.res.pose_age.record((now_us - time_us) as f64 / 1000.0);
                self.shared
                    .progress
                    .poses_received
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
        self.scratch = fresh;
    }
}
