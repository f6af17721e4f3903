//! The hub's side of poses, the room clock and blobs (frames of [`super::super::ext_wire`]).
//!
//! Poses: each room keeps only the newest pose per (peer, entity) ([`PoseTable`] with no
//! history) and each connection a [`PoseOutbox`] of the keys it still needs. At most one pose
//! batch per connection is queued at a time, as a control frame (ahead of queued messages and
//! blob chunks), and only while the kernel holds little unsent data for it; a reader that
//! stops therefore gets the newest poses when it reads again, never a backlog, and the hub
//! holds one batch plus one key per changed entity for it.
//!
//! Clock: a PING is answered at once with a PONG stamped with the hub's clock (room time).
//!
//! Blobs: each room has a [`BlobStore`] (256 MiB budget). A complete blob is announced to
//! every peer (BLOB_INFO) and its body queued for every peer but its uploader as a download;
//! chunks are written only when nothing else is queued for the connection.

use super::{ConnId, HubCore, Violation};
use crate::blob::store::BlobStore;
use crate::blob::{MAX_CHUNK_LEN, ROOM_BLOB_BUDGET};
use crate::pose::outbox::PoseOutbox;
use crate::pose::table::{PoseTable, DEFAULT_MAX_ENTITIES_PER_PEER};
use crate::pose::Pose;
use crate::session::ext_wire::{self, info_flag, ExtFrame};
use crate::session::micros_at;
use crate::session::stream::Bytes;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

mod blobs;

/// Most poses in one batch frame the hub writes.
pub(crate) const POSES_PER_BATCH: usize = 512;
/// Poses wait while the kernel holds more than this for the connection.
pub(crate) const POSE_KERNEL_LIMIT: usize = 48 * 1024;
/// Answers the hub owes a connection (PONG, refusals) are dropped while its outbox holds more
/// than this: a peer that sends pings or refused uploads without reading cannot grow the
/// hub's memory (its clock simply gets fewer samples).
const ANSWER_OUTBOX_LIMIT: usize = 256 * 1024;
/// Blob chunks wait while the kernel holds more than this for the connection (so that after a
/// chunk it holds at most two, below the pose limit: chunks never hold poses back).
pub(crate) const CHUNK_KERNEL_LIMIT: usize = 16 * 1024;

/// A room's poses and blobs.
pub(super) struct RoomExt {
    poses: PoseTable,
    blobs: BlobStore,
    /// Upload tag of each upload in progress, by (uploader, key).
    tags: HashMap<(u32, String), u32>,
    /// Tag of each complete blob.
    done_tags: HashMap<String, u32>,
}

impl Default for RoomExt {
    fn default() -> Self {
        RoomExt {
            poses: PoseTable::new(DEFAULT_MAX_ENTITIES_PER_PEER, 1),
            blobs: BlobStore::new(ROOM_BLOB_BUDGET),
            tags: HashMap::new(),
            done_tags: HashMap::new(),
        }
    }
}

struct Download {
    key: String,
    uploader: u32,
    tag: u32,
    data: Arc<Vec<u8>>,
    offset: usize,
}

/// What one connection still needs.
#[derive(Default)]
pub(super) struct ConnExt {
    poses: PoseOutbox,
    /// The pose batch queued in the outbox (still there while its count is above one).
    pose_frame: Option<Bytes>,
    downloads: VecDeque<Download>,
}

/// Hub-wide state of this module.
#[derive(Default)]
pub(super) struct HubExt {
    rooms: HashMap<Arc<str>, RoomExt>,
    conns: HashMap<ConnId, ConnExt>,
    scratch: Vec<Pose>,
}

/// Memory the hub holds for one connection's poses and blob downloads (diagnostics).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnPoseMemory {
    /// (peer, entity) keys waiting to be sent.
    pub pose_keys: usize,
    /// Bytes of the pose batch queued, if any.
    pub pose_frame_bytes: usize,
    /// Blob downloads queued (bodies are shared, not copied).
    pub downloads: usize,
    /// Bytes queued in the connection's outbox (messages, presence, state, batches, chunks).
    pub outbox_bytes: usize,
}

impl HubCore {
    /// A frame of kinds 0x90–0x9F from a joined connection.
    pub(super) fn ext_frame(
        &mut self,
        id: ConnId,
        room: &Arc<str>,
        peer: u32,
        k: u8,
        payload: &[u8],
        now: Instant,
    ) -> Result<(), Violation> {
        let t1 = micros_at(now);
        let frame = match ext_wire::decode(k, payload) {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => return Err(Violation(format!("malformed frame of kind 0x{k:02x}: {e}"))),
        };
        match frame {
            ExtFrame::Poses(poses) => self.poses_from(room, peer, poses),
            ExtFrame::Ping { t0 } => {
                let t2 = micros_at(Instant::now());
                let f = ext_wire::encode(&ExtFrame::Pong { t0, t1, t2 });
                self.answer(id, f, true, now);
            }
            ExtFrame::BlobBegin { tag, size, key } => {
                self.blob_begin(id, room, peer, tag, size, key, now)
            }
            ExtFrame::BlobChunk {
                offset, key, data, ..
            } => self.blob_chunk(id, room, peer, offset, key, data, now),
            ExtFrame::BlobDelete { key } => self.blob_delete(room, peer, key, now),
            ExtFrame::BlobHave { tag, key } => {
                if let Some(ce) = self.ext.conns.get_mut(&id) {
                    // Chunks are whole frames and a device ignores those of a blob it holds, so
                    // a download may stop anywhere.
                    ce.downloads.retain(|d| !(d.key == key && d.tag == tag));
                }
            }
            ExtFrame::Pong { .. } | ExtFrame::BlobInfo { .. } => {
                return Err(Violation(format!(
                    "frame of kind 0x{k:02x} is not for the hub"
                )))
            }
        }
        Ok(())
    }

    /// Queue an answer unless the connection's outbox is over [`ANSWER_OUTBOX_LIMIT`].
    fn answer(&mut self, id: ConnId, f: Vec<u8>, control: bool, now: Instant) {
        if self
            .conns
            .get(&id)
            .is_some_and(|c| c.outbox.len() <= ANSWER_OUTBOX_LIMIT)
        {
            self.push(id, f, control, now);
        }
    }

    fn poses_from(&mut self, room: &Arc<str>, peer: u32, poses: Vec<Pose>) {
        self.obs.poses_arrived(room, peer, &poses);
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let targets: Vec<ConnId> = r
            .peers
            .iter()
            .filter(|(&o, _)| o != peer)
            .filter_map(|(_, p)| p.conn)
            .collect();
        let re = self.ext.rooms.entry(room.clone()).or_default();
        let mut changed = Vec::new();
        for mut p in poses {
            p.peer = peer;
            if re.poses.insert(p).accepted() {
                changed.push(p.entity);
            }
        }
        if changed.is_empty() {
            return;
        }
        for c in targets {
            let ce = self.ext.conns.entry(c).or_default();
            for &e in &changed {
                ce.poses.mark(peer, e);
            }
            self.dirty.push(c);
        }
    }

    /// After a WELCOME and its snapshot: every newest pose (all of it now, as control frames,
    /// so it arrives before SNAPSHOT_END), then the blobs' bodies behind live traffic.
    pub(super) fn ext_welcome(&mut self, id: ConnId, room: &Arc<str>, peer: u32, now: Instant) {
        let HubExt {
            rooms,
            conns,
            scratch,
        } = &mut self.ext;
        let ce = conns.entry(id).or_default();
        *ce = ConnExt::default();
        let Some(re) = rooms.get(room) else { return };
        ce.poses.mark_all(&re.poses, scratch);
        ce.poses.forget_peer(peer);
        let mut frames = Vec::new();
        loop {
            scratch.clear();
            if ce.poses.take_batch(&re.poses, POSES_PER_BATCH, scratch) == 0 {
                break;
            }
            frames.push(ext_wire::encode(&ExtFrame::Poses(std::mem::take(scratch))));
        }
        for b in re.blobs.list() {
            if let Some(data) = re.blobs.get(&b.key) {
                ce.downloads.push_back(Download {
                    tag: re.done_tags.get(&b.key).copied().unwrap_or(0),
                    key: b.key,
                    uploader: b.uploader,
                    data,
                    offset: 0,
                });
            }
        }
        for f in frames {
            self.push(id, f, true, now);
        }
    }

    /// A peer left the room: its poses vanish and its uploads in progress end.
    pub(super) fn ext_peer_left(&mut self, room: &Arc<str>, peer: u32) {
        if let Some(re) = self.ext.rooms.get_mut(room) {
            re.poses.remove_peer(peer);
            re.blobs.abort_uploads_of(peer);
            re.tags.retain(|(p, _), _| *p != peer);
        }
        for ce in self.ext.conns.values_mut() {
            ce.poses.forget_peer(peer);
        }
    }

    /// Housekeeping: forget connections and rooms that are gone; connections with poses or
    /// chunks waiting get another chance to write.
    pub(super) fn ext_tick(&mut self) {
        let HubCore {
            ext, conns, rooms, ..
        } = self;
        ext.conns.retain(|id, _| conns.contains_key(id));
        ext.rooms.retain(|k, _| rooms.contains_key(k));
        self.ext_wake();
    }

    /// Connections with poses or chunks waiting get another chance to write (marked dirty).
    pub(crate) fn ext_wake(&mut self) {
        let ext = &self.ext;
        let waiting: Vec<ConnId> = ext
            .conns
            .iter()
            .filter(|(_, c)| !c.poses.is_empty() || !c.downloads.is_empty())
            .map(|(&id, _)| id)
            .collect();
        self.dirty.extend(waiting);
    }

    /// Before writing a connection: queue the next pose batch (if none is queued and the
    /// kernel holds little) and, when nothing else waits, one blob chunk. Returns true if a
    /// frame was queued; `held` is set when work waits only because the kernel is full.
    pub(crate) fn ext_fill(&mut self, id: ConnId, kernel_unsent: usize, held: &mut bool) -> bool {
        let HubCore {
            ext, conns, rooms, ..
        } = self;
        let (Some(conn), Some(ce)) = (conns.get_mut(&id), ext.conns.get_mut(&id)) else {
            return false;
        };
        let Some((room, _)) = conn.peer.as_ref() else {
            return false;
        };
        let mut pushed = false;
        let in_flight = ce
            .pose_frame
            .as_ref()
            .is_some_and(|f| Arc::strong_count(f) > 1);
        if !in_flight {
            ce.pose_frame = None;
        }
        if !in_flight && !ce.poses.is_empty() {
            if kernel_unsent > POSE_KERNEL_LIMIT {
                *held = true;
            } else if let Some(re) = ext.rooms.get(room) {
                ext.scratch.clear();
                if ce
                    .poses
                    .take_batch(&re.poses, POSES_PER_BATCH, &mut ext.scratch)
                    > 0
                {
                    let f: Bytes =
                        ext_wire::encode(&ExtFrame::Poses(std::mem::take(&mut ext.scratch))).into();
                    conn.outbox.push_control(f.clone());
                    ce.pose_frame = Some(f);
                    pushed = true;
                }
            }
        }
        let _ = rooms;
        // A chunk only when nothing at all waits, poses included.
        if conn.outbox.is_empty() && ce.poses.is_empty() {
            if let Some(d) = ce.downloads.front_mut() {
                if kernel_unsent > CHUNK_KERNEL_LIMIT {
                    *held = true;
                } else {
                    let end = (d.offset + MAX_CHUNK_LEN).min(d.data.len());
                    let f = ext_wire::encode(&ExtFrame::BlobChunk {
                        uploader: d.uploader,
                        tag: d.tag,
                        offset: d.offset as u64,
                        key: &d.key,
                        data: &d.data[d.offset..end],
                    });
                    d.offset = end;
                    if d.offset >= d.data.len() {
                        ce.downloads.pop_front();
                    }
                    conn.outbox.push_data(f.into());
                    pushed = true;
                }
            }
        }
        pushed
    }

    /// What the hub holds for the connection of `peer` in `room` (diagnostics and tests).
    pub fn conn_memory(&self, room: &str, peer: u32) -> Option<ConnPoseMemory> {
        let c = self.rooms.get(room)?.peers.get(&peer)?.conn?;
        let ce = self.ext.conns.get(&c);
        Some(ConnPoseMemory {
            pose_keys: ce.map_or(0, |e| e.poses.len()),
            pose_frame_bytes: ce
                .and_then(|e| e.pose_frame.as_ref())
                .filter(|f| Arc::strong_count(f) > 1)
                .map_or(0, |f| f.len()),
            downloads: ce.map_or(0, |e| e.downloads.len()),
            outbox_bytes: self.conns.get(&c).map_or(0, |x| x.outbox.len()),
        })
    }

    /// Newest poses the hub holds for a room (diagnostics and tests).
    pub fn room_poses(&self, room: &str) -> Vec<Pose> {
        let mut v = Vec::new();
        if let Some(re) = self.ext.rooms.get(room) {
            re.poses.latest_into(&mut v);
        }
        v
    }

    /// Keys and sizes of the complete blobs of a room (diagnostics and tests).
    pub fn room_blobs(&self, room: &str) -> Vec<(String, u64)> {
        self.ext.rooms.get(room).map_or_else(Vec::new, |re| {
            re.blobs
                .list()
                .into_iter()
                .map(|b| (b.key, b.size))
                .collect()
        })
    }
}
