//! A device's side of poses, the room clock and blobs (frames of [`super::super::ext_wire`]).
//!
//! Poses: the device stamps its own poses (per-entity seq), keeps only the newest per entity
//! and queues at most one batch at a time, as a control frame, so its poses never queue
//! behind each other or behind messages and blob chunks. Received poses go to a table keeping
//! the newest four per (peer, entity) for sampling; seq-older ones are dropped.
//!
//! Clock: pings every 100 ms while the estimate converges, every second after; the
//! [`ClockEstimator`] turns the pongs into room time with an error bound.
//!
//! Blobs: a put is copied and uploaded in chunks only when nothing else waits; every blob of
//! the room is downloaded behind live traffic and announced with BLOB_AVAILABLE once held.

mod api;

use super::Inner;
use crate::blob::chunk::Reassembly;
use crate::blob::MAX_CHUNK_LEN;
use crate::clock::{ClockConfig, ClockEstimator};
use crate::pose::outbox::PoseOutbox;
use crate::pose::seq::SeqStamper;
use crate::pose::table::{PoseTable, DEFAULT_MAX_ENTITIES_PER_PEER, MAX_HISTORY};
use crate::pose::Pose;
use crate::session::client_core::{ClientCore, Violation};
use crate::session::ext_wire::{self, info_flag, ExtFrame};
use crate::session::stream::Bytes;
use crate::session::wire::{self, peer_what, Frame};
use crate::session::{event_kind, micros_at, Event};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// BLOB_AVAILABLE flags (distinct from the other events' flags).
pub mod blob_flag {
    /// The blob was deleted from the room (`size` 0; `get_blob` says NOT_FOUND from now on).
    pub const DELETED: u32 = 8;
    /// This session's upload was refused by the hub (room budget full); nothing was stored.
    pub const REFUSED: u32 = 16;
}

/// Most remote (peer, entity) entries a device keeps: 256 peers × 256 entities.
const MAX_REMOTE_ENTITIES: usize = 256 * DEFAULT_MAX_ENTITIES_PER_PEER;
/// Most blob bytes a device holds: the room's blobs, newer versions arriving while the older
/// are still held, and its own uploads (3 × the room's budget); a hub announcing more is
/// ignored.
const MAX_HELD_BLOB_BYTES: u64 = 3 * crate::blob::ROOM_BLOB_BUDGET;
/// Most poses one `send_poses` call may carry.
pub const MAX_POSES_PER_SEND: usize = 4096;
const POSES_PER_BATCH: usize = 512;
/// Poses wait while the kernel holds more than this unsent for the link.
const POSE_KERNEL_LIMIT: usize = 48 * 1024;
/// Upload chunks wait while the kernel holds more than this (after a chunk it holds at most
/// two, below the pose limit: chunks never hold poses back).
const CHUNK_KERNEL_LIMIT: usize = 16 * 1024;
/// Re-check delay while poses or chunks wait only for the kernel to drain.
pub(super) const HELD_RETRY: Duration = Duration::from_millis(1);
/// Timer id of that re-check (the housekeeping tick uses 0).
pub(super) const HELD_TIMER_ID: u64 = 1;

struct Upload {
    key: String,
    tag: u32,
    data: Arc<Vec<u8>>,
    begun: bool,
    offset: usize,
}

struct Held {
    data: Arc<Vec<u8>>,
    uploader: u32,
    tag: u32,
}

struct Download {
    uploader: u32,
    tag: u32,
    r: Reassembly,
}

/// Poses, clock and blob state of one session.
pub(super) struct ClientExt {
    stamper: SeqStamper,
    mine: PoseTable,
    out: PoseOutbox,
    pose_frame: Option<Bytes>,
    remote: PoseTable,
    scratch: Vec<Pose>,
    clock: ClockEstimator,
    next_ping: Option<Instant>,
    uploads: Vec<Upload>,
    next_tag: u32,
    store: BTreeMap<String, Held>,
    downloads: HashMap<String, Download>,
    /// The held-retry timer is set.
    pub(super) timer_armed: bool,
    /// Keys of the blobs the snapshot being received lists (between WELCOME and SNAPSHOT_END).
    snapshot_blobs: Option<HashSet<String>>,
}

impl ClientExt {
    pub(super) fn new() -> ClientExt {
        ClientExt {
            stamper: SeqStamper::new(DEFAULT_MAX_ENTITIES_PER_PEER),
            mine: PoseTable::new(DEFAULT_MAX_ENTITIES_PER_PEER, 1),
            out: PoseOutbox::new(),
            pose_frame: None,
            remote: PoseTable::new(DEFAULT_MAX_ENTITIES_PER_PEER, MAX_HISTORY),
            scratch: Vec::new(),
            clock: ClockEstimator::new(ClockConfig::default()),
            next_ping: None,
            uploads: Vec::new(),
            next_tag: 1,
            store: BTreeMap::new(),
            downloads: HashMap::new(),
            timer_armed: false,
            snapshot_blobs: None,
        }
    }

    /// Room time now: the clock estimate, or the WELCOME's hub time before the first pong.
    fn room_now(&mut self, core: &ClientCore, now: Instant) -> i64 {
        match self.clock.now(micros_at(now)) {
            Some(t) => t.room_us,
            None => core.hub_time(now),
        }
    }

    fn blob_bytes(&self) -> u64 {
        let s: u64 = self.store.values().map(|h| h.data.len() as u64).sum();
        let d: u64 = self.downloads.values().map(|d| d.r.size()).sum();
        let u: u64 = self.uploads.iter().map(|u| u.data.len() as u64).sum();
        s + d + u
    }

    /// The link is live again after a WELCOME (join or resume): send own poses afresh, restart
    /// uploads, drop partial downloads (the snapshot announces them again), ping at once.
    fn on_welcome(&mut self, now: Instant) {
        self.pose_frame = None;
        self.out.mark_all(&self.mine, &mut self.scratch);
        for u in &mut self.uploads {
            u.begun = false;
            u.offset = 0;
        }
        self.downloads.clear();
        self.next_ping = Some(now);
        self.snapshot_blobs = Some(HashSet::new());
    }

    /// End of a snapshot: blobs held but no longer in the room (deleted while this session was
    /// away) are dropped and announced deleted.
    fn snapshot_done(&mut self, core: &mut ClientCore, time_us: i64) {
        let Some(keys) = self.snapshot_blobs.take() else {
            return;
        };
        let gone: Vec<String> = self
            .store
            .keys()
            .filter(|k| !keys.contains(*k))
            .cloned()
            .collect();
        for k in gone {
            if let Some(h) = self.store.remove(&k) {
                Self::announce(core, &k, h.uploader, blob_flag::DELETED, 0, time_us);
            }
        }
    }

    fn peer_left(&mut self, peer: u32) {
        self.remote.remove_peer(peer);
    }

    fn frame(
        &mut self,
        core: &mut ClientCore,
        k: u8,
        p: &[u8],
        now: Instant,
    ) -> std::result::Result<(), Violation> {
        let frame = match ext_wire::decode(k, p) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Violation(format!("malformed frame of kind 0x{k:02x}: {e}"))),
        };
        let me = core.peer_id().unwrap_or(0);
        match frame {
            ExtFrame::Poses(poses) => {
                for pose in poses {
                    let known = self.remote.latest(pose.peer, pose.entity).is_some();
                    if pose.peer != 0
                        && pose.peer != me
                        && (known || self.remote.len() < MAX_REMOTE_ENTITIES)
                    {
                        self.remote.insert(pose);
                    }
                }
            }
            ExtFrame::Pong { t0, t1, t2 } => {
                self.clock.on_pong(t0, t1, t2, micros_at(now));
            }
            ExtFrame::BlobInfo {
                flags,
                uploader,
                tag,
                size,
                time_us,
                key,
            } => self.blob_info(core, flags, uploader, tag, size, time_us, key),
            ExtFrame::BlobChunk {
                uploader,
                tag,
                offset,
                key,
                data,
            } => self.blob_chunk(core, uploader, tag, offset, key, data, now),
            ExtFrame::Ping { .. }
            | ExtFrame::BlobBegin { .. }
            | ExtFrame::BlobDelete { .. }
            | ExtFrame::BlobHave { .. } => {
                return Err(Violation(format!(
                    "frame of kind 0x{k:02x} is not for a device"
                )))
            }
        }
        Ok(())
    }

    fn announce(core: &mut ClientCore, key: &str, uploader: u32, flags: u32, size: u64, t: i64) {
        core.push_event(Event {
            kind: event_kind::BLOB_AVAILABLE,
            peer: uploader,
            reason: 0,
            flags,
            payload: Some(Arc::from(key.as_bytes())),
            size,
            time_us: t,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn blob_info(
        &mut self,
        core: &mut ClientCore,
        flags: u8,
        uploader: u32,
        tag: u32,
        size: u64,
        time_us: i64,
        key: &str,
    ) {
        let me = core.peer_id().unwrap_or(0);
        if flags & info_flag::REFUSED != 0 {
            let before = self.uploads.len();
            self.uploads.retain(|u| !(u.key == key && u.tag == tag));
            if self.uploads.len() != before {
                Self::announce(core, key, me, blob_flag::REFUSED, 0, time_us);
            }
            return;
        }
        if flags & info_flag::SNAPSHOT != 0 {
            if let Some(keys) = self.snapshot_blobs.as_mut() {
                keys.insert(key.to_string());
            }
        }
        if flags & info_flag::DELETED != 0 {
            self.downloads.remove(key);
            if self.store.remove(key).is_some() {
                Self::announce(core, key, uploader, blob_flag::DELETED, 0, time_us);
            }
            return;
        }
        if self
            .store
            .get(key)
            .is_some_and(|h| h.uploader == uploader && h.tag == tag && h.data.len() as u64 == size)
        {
            // Already held (a snapshot after a resume): the hub need not send the body.
            let f = ext_wire::encode(&ExtFrame::BlobHave { tag, key });
            core.outbox().push_control(f.into());
            return;
        }
        if uploader == me {
            if let Some(i) = self
                .uploads
                .iter()
                .position(|u| u.key == key && u.tag == tag)
            {
                let u = self.uploads.remove(i);
                self.downloads.remove(key);
                self.store.insert(
                    key.to_string(),
                    Held {
                        data: u.data,
                        uploader,
                        tag,
                    },
                );
                Self::announce(core, key, uploader, 0, size, time_us);
                return;
            }
            if flags & info_flag::SNAPSHOT == 0 {
                // An older upload of ours, replaced here before the hub finished it: the hub
                // sends no body to its uploader, and the newer version's BLOB_INFO follows.
                return;
            }
        }
        if self.blob_bytes().saturating_add(size) > MAX_HELD_BLOB_BYTES {
            return; // more than a well-behaved hub can announce: ignored
        }
        match Reassembly::new(size) {
            Ok(r) if size == 0 => {
                let _ = r;
                self.store.insert(
                    key.to_string(),
                    Held {
                        data: Arc::new(Vec::new()),
                        uploader,
                        tag,
                    },
                );
                Self::announce(core, key, uploader, 0, 0, time_us);
            }
            Ok(r) => {
                self.downloads
                    .insert(key.to_string(), Download { uploader, tag, r });
            }
            Err(_) => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn blob_chunk(
        &mut self,
        core: &mut ClientCore,
        uploader: u32,
        tag: u32,
        offset: u64,
        key: &str,
        data: &[u8],
        now: Instant,
    ) {
        let Some(d) = self.downloads.get_mut(key) else {
            return;
        };
        if d.uploader != uploader || d.tag != tag {
            return; // a chunk of an older version
        }
        match d.r.add(offset, data) {
            Ok(false) => {}
            Ok(true) => {
                let Some(d) = self.downloads.remove(key) else {
                    return;
                };
                let size = d.r.size();
                if let Some(body) = d.r.into_complete() {
                    self.store.insert(
                        key.to_string(),
                        Held {
                            data: Arc::new(body),
                            uploader,
                            tag,
                        },
                    );
                    let t = self.room_now(core, now);
                    Self::announce(core, key, uploader, 0, size, t);
                }
            }
            Err(_) => {
                // Out of order after a replaced version: wait for the next announcement.
                self.downloads.remove(key);
            }
        }
    }

    /// Queue the next pose batch and, when nothing else waits, the next upload frame.
    fn fill(&mut self, core: &mut ClientCore, kernel_unsent: usize, held: &mut bool) -> bool {
        if !core.is_live() {
            return false;
        }
        let mut pushed = false;
        let in_flight = self
            .pose_frame
            .as_ref()
            .is_some_and(|f| Arc::strong_count(f) > 1);
        if !in_flight {
            self.pose_frame = None;
            if !self.out.is_empty() {
                if kernel_unsent > POSE_KERNEL_LIMIT {
                    *held = true;
                } else {
                    self.scratch.clear();
                    if self
                        .out
                        .take_batch(&self.mine, POSES_PER_BATCH, &mut self.scratch)
                        > 0
                    {
                        let f: Bytes =
                            ext_wire::encode(&ExtFrame::Poses(std::mem::take(&mut self.scratch)))
                                .into();
                        core.outbox().push_control(f.clone());
                        self.pose_frame = Some(f);
                        pushed = true;
                    }
                }
            }
        }
        // A chunk only when nothing at all waits, poses included.
        if core.outbox().is_empty() && self.out.is_empty() {
            if let Some(u) = self
                .uploads
                .iter_mut()
                .find(|u| !u.begun || u.offset < u.data.len())
            {
                if kernel_unsent > CHUNK_KERNEL_LIMIT {
                    *held = true;
                } else if !u.begun {
                    u.begun = true;
                    let f = ext_wire::encode(&ExtFrame::BlobBegin {
                        tag: u.tag,
                        size: u.data.len() as u64,
                        key: &u.key,
                    });
                    core.outbox().push_data(f.into());
                    pushed = true;
                } else {
                    let end = (u.offset + MAX_CHUNK_LEN).min(u.data.len());
                    let f = ext_wire::encode(&ExtFrame::BlobChunk {
                        uploader: 0,
                        tag: u.tag,
                        offset: u.offset as u64,
                        key: &u.key,
                        data: &u.data[u.offset..end],
                    });
                    u.offset = end;
                    core.outbox().push_data(f.into());
                    pushed = true;
                }
            }
        }
        pushed
    }

    /// Housekeeping: clock pings.
    fn tick(&mut self, core: &mut ClientCore, now: Instant) {
        if !core.is_live() {
            return;
        }
        if self.next_ping.map_or(true, |t| now >= t) {
            let f = ext_wire::encode(&ExtFrame::Ping {
                t0: micros_at(Instant::now()),
            });
            core.outbox().push_control(f.into());
            let every = Duration::from_micros(self.clock.ping_interval_us().max(1000) as u64);
            self.next_ping = Some(now + every);
        }
    }

    /// True while poses or upload chunks wait to be written.
    fn has_work(&self) -> bool {
        !self.out.is_empty()
            || self
                .uploads
                .iter()
                .any(|u| !u.begun || u.offset < u.data.len())
    }
}

/// Feed one frame: kinds 0x90–0x9F here, the rest to the session core (noting departures
/// and WELCOMEs on the way).
pub(super) fn on_frame(
    core: &mut ClientCore,
    ext: &mut ClientExt,
    k: u8,
    p: &[u8],
    now: Instant,
) -> std::result::Result<(), Violation> {
    if (ext_wire::kind::FIRST..=ext_wire::kind::LAST).contains(&k) {
        if !core.is_live() {
            return Ok(()); // before WELCOME or on a link already given up
        }
        return ext.frame(core, k, p, now);
    }
    match k {
        wire::kind::PEER => {
            if let Ok(Some(Frame::Peer {
                what: peer_what::LEFT,
                peer,
                ..
            })) = wire::decode(k, p)
            {
                ext.peer_left(peer);
            }
            core.on_frame(k, p, now)
        }
        wire::kind::SNAPSHOT_END => {
            let before: Vec<u32> = core.peers().keys().copied().collect();
            core.on_frame(k, p, now)?;
            for id in before {
                if !core.peers().contains_key(&id) {
                    ext.peer_left(id);
                }
            }
            let t = core.hub_time(now);
            ext.snapshot_done(core, t);
            Ok(())
        }
        wire::kind::WELCOME => {
            let was_live = core.is_live();
            core.on_frame(k, p, now)?;
            if !was_live && core.is_live() {
                ext.on_welcome(now);
            }
            Ok(())
        }
        _ => core.on_frame(k, p, now),
    }
}

impl Inner {
    /// Before a write: queue poses and chunks. Returns (queued something, held by the kernel).
    pub(super) fn ext_fill(&mut self) -> (bool, bool) {
        let unsent = match self.sock.as_ref() {
            Some((s, _)) if self.connected => kernel_unsent(s),
            _ => 0,
        };
        let mut held = false;
        let pushed = self.ext.fill(&mut self.core, unsent, &mut held);
        (pushed, held)
    }

    /// Housekeeping of this module (on the session's tick).
    pub(super) fn ext_tick(&mut self, now: Instant) {
        self.ext.tick(&mut self.core, now);
    }

    /// True while poses or chunks wait.
    pub(super) fn ext_has_work(&self) -> bool {
        self.ext.has_work()
    }
}

#[cfg(unix)]
fn kernel_unsent(s: &mio::net::TcpStream) -> usize {
    use std::os::fd::AsRawFd;
    ext_wire::kernel_unsent(s.as_raw_fd())
}

#[cfg(not(unix))]
fn kernel_unsent(_s: &mio::net::TcpStream) -> usize {
    0
}
