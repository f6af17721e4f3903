//! The hub's blobs: uploads, completion (announce to every peer, queue the body for all but
//! the uploader), deletion, and the blob list of a snapshot.

use super::{info_flag, Download, ExtFrame};
use crate::session::ext_wire;
use crate::session::hub_core::{ConnId, HubCore};
use crate::session::micros_at;
use crate::session::stream::Bytes;
use std::sync::Arc;
use std::time::Instant;

impl HubCore {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn blob_begin(
        &mut self,
        id: ConnId,
        room: &Arc<str>,
        peer: u32,
        tag: u32,
        size: u64,
        key: &str,
        now: Instant,
    ) {
        let re = self.ext.rooms.entry(room.clone()).or_default();
        re.tags.remove(&(peer, key.to_string()));
        match re.blobs.begin_upload(peer, key, size) {
            Ok(None) => {
                re.tags.insert((peer, key.to_string()), tag);
            }
            Ok(Some(_)) => self.blob_complete(room, peer, tag, key, now),
            Err(_) => {
                let f = ext_wire::encode(&ExtFrame::BlobInfo {
                    flags: info_flag::REFUSED,
                    uploader: peer,
                    tag,
                    size,
                    time_us: micros_at(now),
                    key,
                });
                self.answer(id, f, false, now);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn blob_chunk(
        &mut self,
        id: ConnId,
        room: &Arc<str>,
        peer: u32,
        offset: u64,
        key: &str,
        data: &[u8],
        now: Instant,
    ) {
        let Some(re) = self.ext.rooms.get_mut(room) else {
            return;
        };
        let Some(&tag) = re.tags.get(&(peer, key.to_string())) else {
            return; // a refused or replaced upload: its chunks are ignored
        };
        match re.blobs.add_chunk(peer, key, offset, data) {
            Ok(None) => {}
            Ok(Some(_)) => {
                re.tags.remove(&(peer, key.to_string()));
                self.blob_complete(room, peer, tag, key, now);
            }
            Err(_) => {
                re.tags.remove(&(peer, key.to_string()));
                let f = ext_wire::encode(&ExtFrame::BlobInfo {
                    flags: info_flag::REFUSED,
                    uploader: peer,
                    tag,
                    size: 0,
                    time_us: micros_at(now),
                    key,
                });
                self.answer(id, f, false, now);
            }
        }
    }

    /// The hub holds the whole blob: announce it to everyone, queue its body for all but
    /// the uploader.
    fn blob_complete(&mut self, room: &Arc<str>, uploader: u32, tag: u32, key: &str, now: Instant) {
        let Some(re) = self.ext.rooms.get_mut(room) else {
            return;
        };
        let Some(data) = re.blobs.get(key) else {
            return;
        };
        re.done_tags.insert(key.to_string(), tag);
        let f: Bytes = ext_wire::encode(&ExtFrame::BlobInfo {
            flags: 0,
            uploader,
            tag,
            size: data.len() as u64,
            time_us: micros_at(now),
            key,
        })
        .into();
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let targets: Vec<(u32, ConnId)> = r
            .peers
            .iter()
            .filter_map(|(&o, p)| p.conn.map(|c| (o, c)))
            .collect();
        for (other, c) in targets {
            let ce = self.ext.conns.entry(c).or_default();
            ce.downloads.retain(|d| d.key != key);
            if other != uploader {
                ce.downloads.push_back(Download {
                    key: key.to_string(),
                    uploader,
                    tag,
                    data: data.clone(),
                    offset: 0,
                });
            }
        }
        let conns: Vec<ConnId> = r.peers.values().filter_map(|p| p.conn).collect();
        self.push_shared(&conns, &f, now);
    }

    pub(super) fn blob_delete(&mut self, room: &Arc<str>, peer: u32, key: &str, now: Instant) {
        let Some(re) = self.ext.rooms.get_mut(room) else {
            return;
        };
        if re.blobs.abort_upload(peer, key) {
            re.tags.remove(&(peer, key.to_string()));
        }
        if !re.blobs.delete(key) {
            return;
        }
        re.done_tags.remove(key);
        let f: Bytes = ext_wire::encode(&ExtFrame::BlobInfo {
            flags: info_flag::DELETED,
            uploader: peer,
            tag: 0,
            size: 0,
            time_us: micros_at(now),
            key,
        })
        .into();
        let Some(r) = self.rooms.get(room) else {
            return;
        };
        let conns: Vec<ConnId> = r.peers.values().filter_map(|p| p.conn).collect();
        for c in &conns {
            if let Some(ce) = self.ext.conns.get_mut(c) {
                ce.downloads.retain(|d| d.key != key);
            }
        }
        self.push_shared(&conns, &f, now);
    }

    /// Snapshot part: one BLOB_INFO (flag SNAPSHOT) per complete blob, for `frames` before
    /// SNAPSHOT_END.
    pub(in crate::session::hub_core) fn ext_snapshot_frames(
        &self,
        room: &Arc<str>,
        t: i64,
        frames: &mut Vec<Vec<u8>>,
    ) {
        let Some(re) = self.ext.rooms.get(room) else {
            return;
        };
        for b in re.blobs.list() {
            frames.push(ext_wire::encode(&ExtFrame::BlobInfo {
                flags: info_flag::SNAPSHOT,
                uploader: b.uploader,
                tag: re.done_tags.get(&b.key).copied().unwrap_or(0),
                size: b.size,
                time_us: t,
                key: &b.key,
            }));
        }
    }
}
