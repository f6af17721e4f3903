//! The application's calls for poses, the room clock and blobs on a [`Session`].

use super::super::{Inner, Session};
use super::{Upload, MAX_POSES_PER_SEND};
use crate::blob::{MAX_BLOB_LEN, ROOM_BLOB_BUDGET};
use crate::error::{Error, Result};
use crate::pose::{prepare_for_send, Pose};
use crate::session::client_core::check_key;
use crate::session::ext_wire::{self, ExtFrame};
use crate::session::micros_at;
use std::sync::Arc;
use std::time::Instant;

fn not_over(g: &Inner) -> Result<()> {
    if g.core.is_over() {
        return Err(Error::Closed(
            "the session has ended (see its last event)".into(),
        ));
    }
    Ok(())
}

fn joined(g: &Inner) -> Result<()> {
    not_over(g)?;
    if g.core.peer_id().is_none() {
        return Err(Error::State("not joined yet (wait for JOINED)".into()));
    }
    Ok(())
}

impl Session {
    /// Send poses (validated, normalised, `time_us` 0 = now, seq stamped): all or nothing.
    /// Only the newest pose per entity is kept until the link takes it.
    pub fn send_poses(&self, poses: &[Pose]) -> Result<()> {
        if poses.len() > MAX_POSES_PER_SEND {
            return Err(Error::InvalidArgument(format!(
                "{} poses in one call; at most {MAX_POSES_PER_SEND}",
                poses.len()
            )));
        }
        let mut g = self.usable()?;
        joined(&g)?;
        let now = Instant::now();
        let Inner { core, ext, .. } = &mut *g;
        let t = ext.room_now(core, now);
        let ready = prepare_for_send(poses, t, &mut ext.stamper)
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        for p in ready {
            if ext.mine.insert(p).accepted() {
                ext.out.mark(0, p.entity);
            }
        }
        g.write();
        Ok(())
    }

    /// Run `f` on the newest pose of every remote (peer, entity), sorted by peer and entity.
    pub fn with_latest_poses<R>(&self, f: impl FnOnce(&[Pose]) -> R) -> Result<R> {
        let mut g = self.usable()?;
        let ext = &mut g.ext;
        ext.remote.latest_into(&mut ext.scratch);
        Ok(f(&ext.scratch))
    }

    /// Run `f` on every remote entity sampled at `render_time_us` (room time).
    pub fn with_sampled_poses<R>(
        &self,
        render_time_us: i64,
        f: impl FnOnce(&[Pose]) -> R,
    ) -> Result<R> {
        let mut g = self.usable()?;
        let ext = &mut g.ext;
        ext.remote.sample_into(render_time_us, &mut ext.scratch);
        Ok(f(&ext.scratch))
    }

    /// Room time now and its error bound, in microseconds. State until the first clock
    /// exchange completed (shortly after JOINED).
    pub fn room_time(&self) -> Result<(i64, i64)> {
        let mut g = self.usable()?;
        joined(&g)?;
        match g.ext.clock.now(micros_at(Instant::now())) {
            Some(t) => Ok((t.room_us, t.error_bound_us)),
            None => Err(Error::State(
                "no room clock estimate yet (the first ping is on its way)".into(),
            )),
        }
    }

    /// Store a copy of `data` under `key` in the room (uploaded behind poses and messages).
    pub fn put_blob(&self, key: &str, data: &[u8]) -> Result<()> {
        check_key(key)?;
        if data.len() as u64 > MAX_BLOB_LEN {
            return Err(Error::InvalidArgument(format!(
                "blob of {} bytes; at most {MAX_BLOB_LEN}",
                data.len()
            )));
        }
        // The budget is checked before copying (a full budget costs no copy), the copy is made
        // without the session's lock (a render thread sampling poses meanwhile never waits for
        // a 64 MiB memcpy), and the budget is checked again when the copy is queued.
        let over_budget = |g: &Inner| -> Result<()> {
            let replaced: u64 = g
                .ext
                .uploads
                .iter()
                .filter(|u| u.key == key)
                .map(|u| u.data.len() as u64)
                .sum();
            let used = g.ext.blob_bytes() - replaced;
            if used + data.len() as u64 > ROOM_BLOB_BUDGET {
                return Err(Error::WouldBlock {
                    queued: used as usize,
                    limit: ROOM_BLOB_BUDGET as usize,
                });
            }
            Ok(())
        };
        {
            let g = self.usable()?;
            joined(&g)?;
            over_budget(&g)?;
        }
        let mut copy = Vec::new();
        copy.try_reserve_exact(data.len())
            .map_err(|_| Error::WouldBlock {
                queued: 0,
                limit: ROOM_BLOB_BUDGET as usize,
            })?;
        copy.extend_from_slice(data);
        let mut g = self.usable()?;
        joined(&g)?;
        over_budget(&g)?;
        let ext = &mut g.ext;
        ext.uploads.retain(|u| u.key != key);
        let tag = ext.next_tag;
        ext.next_tag = ext.next_tag.wrapping_add(1).max(1);
        ext.uploads.push(Upload {
            key: key.to_string(),
            tag,
            data: Arc::new(copy),
            begun: false,
            offset: 0,
        });
        g.write();
        Ok(())
    }

    /// A complete blob of the room held by this session.
    pub fn get_blob(&self, key: &str) -> Result<Arc<Vec<u8>>> {
        check_key(key)?;
        let g = self.usable()?;
        not_over(&g)?;
        g.ext
            .store
            .get(key)
            .map(|h| h.data.clone())
            .ok_or_else(|| Error::NotFound(format!("no complete blob {key:?} (yet)")))
    }

    /// Delete a blob from the room (and cancel this session's upload of it).
    pub fn delete_blob(&self, key: &str) -> Result<()> {
        check_key(key)?;
        let mut g = self.usable()?;
        joined(&g)?;
        let known = g.ext.store.contains_key(key)
            || g.ext.downloads.contains_key(key)
            || g.ext.uploads.iter().any(|u| u.key == key);
        if !known {
            return Err(Error::NotFound(format!("no blob {key:?} in the room")));
        }
        g.ext.uploads.retain(|u| u.key != key);
        if g.core.is_live() {
            let f = ext_wire::encode(&ExtFrame::BlobDelete { key });
            g.core.outbox().push_data(f.into());
        }
        g.write();
        Ok(())
    }
}
