//! A room's blobs: complete ones by key and uploads in progress, within one memory budget.
//! The hub keeps one per room (budget [`super::ROOM_BLOB_BUDGET`]); a device can keep one as
//! its cache of the room's blobs.

use super::chunk::Reassembly;
use super::{BlobError, MAX_BLOB_LEN};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// What the store lists for a complete blob (a joiner's snapshot lists these).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// The key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// The peer that uploaded it.
    pub uploader: u32,
}

#[derive(Debug)]
struct Stored {
    data: Arc<Vec<u8>>,
    uploader: u32,
}

/// Complete blobs by key plus uploads in progress. Every byte counts against the budget from
/// the moment an upload is announced (its whole size) until the blob is deleted, replaced or
/// the upload aborted; a replacing upload and the blob it replaces both count until the new
/// one completes. Last completed upload of a key wins.
#[derive(Debug)]
pub struct BlobStore {
    limit: u64,
    used: u64,
    complete: BTreeMap<String, Stored>,
    uploads: HashMap<(u32, String), Reassembly>,
}

impl BlobStore {
    /// An empty store holding at most `limit` bytes.
    pub fn new(limit: u64) -> Self {
        BlobStore {
            limit,
            used: 0,
            complete: BTreeMap::new(),
            uploads: HashMap::new(),
        }
    }

    fn take(&mut self, n: u64) -> Result<(), BlobError> {
        let available = self.limit - self.used;
        if n > available {
            return Err(BlobError::BudgetFull {
                needed: n,
                available,
            });
        }
        self.used += n;
        Ok(())
    }

    /// Announce an upload of `size` bytes under `key` by `uploader`. An upload of the same key
    /// by the same peer still in progress is abandoned first. A 0-byte blob completes at once
    /// (returned as `Some`).
    pub fn begin_upload(
        &mut self,
        uploader: u32,
        key: &str,
        size: u64,
    ) -> Result<Option<BlobInfo>, BlobError> {
        if size > MAX_BLOB_LEN {
            return Err(BlobError::TooLarge {
                size,
                max: MAX_BLOB_LEN,
            });
        }
        let r = Reassembly::new(size)?;
        self.abort_upload(uploader, key);
        self.take(size)?;
        if size == 0 {
            return Ok(Some(self.complete_upload(uploader, key, Vec::new())));
        }
        self.uploads.insert((uploader, key.to_string()), r);
        Ok(None)
    }

    /// Add the chunk at `offset` to `uploader`'s upload of `key`; returns the blob's info
    /// when this chunk completed it. A refused chunk aborts the upload (its budget is freed):
    /// the sender broke the protocol.
    pub fn add_chunk(
        &mut self,
        uploader: u32,
        key: &str,
        offset: u64,
        chunk: &[u8],
    ) -> Result<Option<BlobInfo>, BlobError> {
        let id = (uploader, key.to_string());
        let r = self.uploads.get_mut(&id).ok_or(BlobError::NoUpload)?;
        match r.add(offset, chunk) {
            Ok(false) => Ok(None),
            Ok(true) => {
                let r = self.uploads.remove(&id).ok_or(BlobError::NoUpload)?;
                let size = r.size();
                match r.into_complete() {
                    Some(data) => Ok(Some(self.complete_upload(uploader, key, data))),
                    // Unreachable (add() said complete); keep the books right regardless.
                    None => {
                        self.used -= size;
                        Err(BlobError::NoUpload)
                    }
                }
            }
            Err(e) => {
                self.abort_upload(uploader, key);
                Err(e)
            }
        }
    }

    /// Store a whole blob at once (a device's own put, or a blob received whole), within the
    /// budget; replaces the key's blob.
    pub fn put(&mut self, uploader: u32, key: &str, data: Vec<u8>) -> Result<BlobInfo, BlobError> {
        let size = data.len() as u64;
        if size > MAX_BLOB_LEN {
            return Err(BlobError::TooLarge {
                size,
                max: MAX_BLOB_LEN,
            });
        }
        self.take(size)?;
        Ok(self.complete_upload(uploader, key, data))
    }

    /// Move a finished blob (already counted) into place, freeing the one it replaces.
    fn complete_upload(&mut self, uploader: u32, key: &str, data: Vec<u8>) -> BlobInfo {
        let size = data.len() as u64;
        let stored = Stored {
            data: Arc::new(data),
            uploader,
        };
        if let Some(old) = self.complete.insert(key.to_string(), stored) {
            self.used -= old.data.len() as u64;
        }
        BlobInfo {
            key: key.to_string(),
            size,
            uploader,
        }
    }

    /// Abandon `uploader`'s upload of `key`, freeing its budget; false if there was none.
    pub fn abort_upload(&mut self, uploader: u32, key: &str) -> bool {
        match self.uploads.remove(&(uploader, key.to_string())) {
            Some(r) => {
                self.used -= r.size();
                true
            }
            None => false,
        }
    }

    /// Abandon every upload of `peer` (it left); its complete blobs stay in the room.
    pub fn abort_uploads_of(&mut self, peer: u32) -> usize {
        let keys: Vec<String> = self
            .uploads
            .keys()
            .filter(|(p, _)| *p == peer)
            .map(|(_, k)| k.clone())
            .collect();
        for k in &keys {
            self.abort_upload(peer, k);
        }
        keys.len()
    }

    /// The complete blob under `key` (shared, not copied).
    pub fn get(&self, key: &str) -> Option<Arc<Vec<u8>>> {
        self.complete.get(key).map(|s| Arc::clone(&s.data))
    }

    /// Delete the complete blob under `key`; false if there was none.
    pub fn delete(&mut self, key: &str) -> bool {
        match self.complete.remove(key) {
            Some(old) => {
                self.used -= old.data.len() as u64;
                true
            }
            None => false,
        }
    }

    /// Every complete blob, sorted by key (a joiner's snapshot).
    pub fn list(&self) -> Vec<BlobInfo> {
        self.complete
            .iter()
            .map(|(k, s)| BlobInfo {
                key: k.clone(),
                size: s.data.len() as u64,
                uploader: s.uploader,
            })
            .collect()
    }

    /// Bytes counted against the budget.
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The budget.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MAX_CHUNK_LEN, ROOM_BLOB_BUDGET};
    use super::*;

    fn upload(s: &mut BlobStore, peer: u32, key: &str, data: &[u8]) -> Option<BlobInfo> {
        let mut done = s.begin_upload(peer, key, data.len() as u64).unwrap();
        for (i, c) in data.chunks(MAX_CHUNK_LEN).enumerate() {
            assert!(done.is_none());
            done = s
                .add_chunk(peer, key, (i * MAX_CHUNK_LEN) as u64, c)
                .unwrap();
        }
        done
    }

    #[test]
    fn upload_in_chunks_completes_and_reads_back() {
        let mut s = BlobStore::new(ROOM_BLOB_BUDGET);
        let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let info = upload(&mut s, 3, "mesh", &data).unwrap();
        assert_eq!(
            info,
            BlobInfo {
                key: "mesh".into(),
                size: 40_000,
                uploader: 3
            }
        );
        assert_eq!(*s.get("mesh").unwrap(), data);
        assert_eq!(s.used(), 40_000);
        assert_eq!(s.list(), [info]);
    }

    #[test]
    fn incomplete_upload_is_not_readable() {
        let mut s = BlobStore::new(1000);
        s.begin_upload(1, "k", 10).unwrap();
        s.add_chunk(1, "k", 0, &[0; 5]).unwrap();
        assert!(s.get("k").is_none());
        assert!(s.list().is_empty());
    }

    #[test]
    fn budget_counts_announced_sizes_and_refuses_beyond() {
        let mut s = BlobStore::new(100);
        s.begin_upload(1, "a", 60).unwrap();
        assert_eq!(
            s.begin_upload(2, "b", 41),
            Err(BlobError::BudgetFull {
                needed: 41,
                available: 40
            })
        );
        s.begin_upload(2, "b", 40).unwrap();
        assert_eq!(s.used(), 100);
        assert!(s.abort_upload(1, "a"));
        assert_eq!(s.used(), 40);
        assert!(matches!(
            s.put(1, "c", vec![0; 61]),
            Err(BlobError::BudgetFull { .. })
        ));
    }

    #[test]
    fn oversized_blob_is_refused_before_the_budget() {
        let mut s = BlobStore::new(u64::MAX);
        assert!(matches!(
            s.begin_upload(1, "big", MAX_BLOB_LEN + 1),
            Err(BlobError::TooLarge { .. })
        ));
        assert_eq!(s.used(), 0);
    }

    #[test]
    fn replacing_a_key_frees_the_old_blob_when_the_new_one_completes() {
        let mut s = BlobStore::new(1000);
        upload(&mut s, 1, "k", &[1; 300]);
        s.begin_upload(2, "k", 400).unwrap();
        assert_eq!(s.used(), 700, "both count while the new one uploads");
        assert_eq!(*s.get("k").unwrap(), vec![1; 300]);
        s.add_chunk(2, "k", 0, &[2; 400]).unwrap().unwrap();
        assert_eq!(s.used(), 400);
        assert_eq!(*s.get("k").unwrap(), vec![2; 400]);
        assert_eq!(s.list()[0].uploader, 2);
    }

    #[test]
    fn bad_chunk_aborts_the_upload_and_frees_its_budget() {
        let mut s = BlobStore::new(1000);
        s.begin_upload(1, "k", 100).unwrap();
        assert!(matches!(
            s.add_chunk(1, "k", 50, &[0; 10]),
            Err(BlobError::UnexpectedOffset { .. })
        ));
        assert_eq!(s.used(), 0);
        assert_eq!(s.add_chunk(1, "k", 0, &[0; 10]), Err(BlobError::NoUpload));
    }

    #[test]
    fn peer_leaving_aborts_its_uploads_but_keeps_its_blobs() {
        let mut s = BlobStore::new(1000);
        upload(&mut s, 1, "done", &[1; 10]);
        s.begin_upload(1, "a", 100).unwrap();
        s.begin_upload(1, "b", 100).unwrap();
        s.begin_upload(2, "c", 100).unwrap();
        assert_eq!(s.abort_uploads_of(1), 2);
        assert_eq!(s.used(), 110);
        assert!(s.get("done").is_some());
    }

    #[test]
    fn reannouncing_an_upload_restarts_it() {
        let mut s = BlobStore::new(150);
        s.begin_upload(1, "k", 100).unwrap();
        s.add_chunk(1, "k", 0, &[0; 50]).unwrap();
        s.begin_upload(1, "k", 100).unwrap();
        assert_eq!(s.used(), 100);
        assert!(s.add_chunk(1, "k", 0, &[0; 100]).unwrap().is_some());
    }

    #[test]
    fn empty_blob_completes_on_announcement_and_delete_frees() {
        let mut s = BlobStore::new(100);
        assert!(s.begin_upload(1, "empty", 0).unwrap().is_some());
        assert_eq!(s.get("empty").unwrap().len(), 0);
        s.put(1, "x", vec![0; 30]).unwrap();
        assert!(s.delete("x"));
        assert!(!s.delete("x"));
        assert_eq!(s.used(), 0);
    }
}
