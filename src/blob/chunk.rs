//! Splitting a blob into chunks and putting it back together, with bounds.

use super::{BlobError, MAX_BLOB_LEN, MAX_CHUNK_LEN};

/// The sender's position in a blob: yields `(offset, len)` of each chunk in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChunkCursor {
    size: u64,
    next: u64,
    chunk_len: usize,
}

impl ChunkCursor {
    /// Chunks of `chunk_len` bytes (clamped to 1..=[`MAX_CHUNK_LEN`]) over `size` bytes. A
    /// blob of 0 bytes has no chunks (its announcement completes it).
    pub fn new(size: u64, chunk_len: usize) -> Self {
        ChunkCursor {
            size,
            next: 0,
            chunk_len: chunk_len.clamp(1, MAX_CHUNK_LEN),
        }
    }

    /// Continue from `offset` (after a resume, from what the other side acknowledged);
    /// clamped to the size.
    pub fn resume_from(&mut self, offset: u64) {
        self.next = offset.min(self.size);
    }

    /// Bytes not yet handed out.
    pub fn remaining(&self) -> u64 {
        self.size - self.next
    }

    /// True once every chunk was handed out.
    pub fn is_done(&self) -> bool {
        self.next == self.size
    }
}

impl Iterator for ChunkCursor {
    type Item = (u64, usize);

    fn next(&mut self) -> Option<(u64, usize)> {
        if self.is_done() {
            return None;
        }
        let len = self.remaining().min(self.chunk_len as u64) as usize;
        let at = self.next;
        self.next += len as u64;
        Some((at, len))
    }
}

/// The receiver's side: a blob of announced size filled by in-order chunks. Memory grows with
/// the bytes received (never the announced size up front, never past it).
#[derive(Debug)]
pub struct Reassembly {
    size: u64,
    data: Vec<u8>,
}

impl Reassembly {
    /// Start a blob of `size` bytes (at most [`MAX_BLOB_LEN`]).
    pub fn new(size: u64) -> Result<Self, BlobError> {
        if size > MAX_BLOB_LEN {
            return Err(BlobError::TooLarge {
                size,
                max: MAX_BLOB_LEN,
            });
        }
        Ok(Reassembly {
            size,
            data: Vec::new(),
        })
    }

    /// Add the chunk at `offset`; returns true when the blob is complete. A chunk above
    /// [`MAX_CHUNK_LEN`], out of order, or past the size is refused and changes nothing.
    pub fn add(&mut self, offset: u64, chunk: &[u8]) -> Result<bool, BlobError> {
        if chunk.len() > MAX_CHUNK_LEN {
            return Err(BlobError::ChunkTooLarge {
                len: chunk.len(),
                max: MAX_CHUNK_LEN,
            });
        }
        let expected = self.data.len() as u64;
        if offset != expected {
            return Err(BlobError::UnexpectedOffset {
                expected,
                got: offset,
            });
        }
        let end = expected + chunk.len() as u64;
        if end > self.size {
            return Err(BlobError::PastEnd {
                end,
                size: self.size,
            });
        }
        if end as usize > self.data.capacity() {
            // Double, but never past the announced size.
            let want = (self.data.capacity() * 2)
                .max(end as usize)
                .min(self.size as usize);
            self.data
                .try_reserve_exact(want - self.data.len())
                .map_err(|_| BlobError::OutOfMemory { size: self.size })?;
        }
        self.data.extend_from_slice(chunk);
        Ok(self.is_complete())
    }

    /// Announced size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Bytes received so far (the offset the next chunk must have).
    pub fn received(&self) -> u64 {
        self.data.len() as u64
    }

    /// True when every byte arrived.
    pub fn is_complete(&self) -> bool {
        self.received() == self.size
    }

    /// The whole blob, once complete; `None` before.
    pub fn into_complete(self) -> Option<Vec<u8>> {
        self.is_complete().then_some(self.data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_covers_the_blob_in_chunks_of_at_most_16_kib() {
        let chunks: Vec<_> = ChunkCursor::new(40_000, 1 << 20).collect();
        assert_eq!(chunks, [(0, 16_384), (16_384, 16_384), (32_768, 7_232)]);
        let exact: Vec<_> = ChunkCursor::new(32_768, 16_384).collect();
        assert_eq!(exact, [(0, 16_384), (16_384, 16_384)]);
        assert_eq!(ChunkCursor::new(0, 100).next(), None);
        assert_eq!(ChunkCursor::new(3, 0).count(), 3, "chunk length at least 1");
    }

    #[test]
    fn cursor_resumes_from_an_offset() {
        let mut c = ChunkCursor::new(10, 4);
        assert_eq!(c.next(), Some((0, 4)));
        c.resume_from(2);
        assert_eq!(c.next(), Some((2, 4)));
        c.resume_from(99);
        assert!(c.is_done());
        assert_eq!(c.next(), None);
    }

    #[test]
    fn reassembly_rebuilds_the_blob_from_cursor_chunks() {
        let blob: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
        let mut r = Reassembly::new(blob.len() as u64).unwrap();
        let mut done = false;
        for (at, len) in ChunkCursor::new(blob.len() as u64, MAX_CHUNK_LEN) {
            assert!(!done);
            done = r.add(at, &blob[at as usize..at as usize + len]).unwrap();
        }
        assert!(done);
        assert!(
            r.data.capacity() <= blob.len(),
            "never allocates past the size"
        );
        assert_eq!(r.into_complete().unwrap(), blob);
    }

    #[test]
    fn reassembly_refuses_oversized_blob_and_chunk_out_of_order_or_past_end() {
        assert_eq!(
            Reassembly::new(MAX_BLOB_LEN + 1).unwrap_err(),
            BlobError::TooLarge {
                size: MAX_BLOB_LEN + 1,
                max: MAX_BLOB_LEN
            }
        );
        let mut r = Reassembly::new(MAX_BLOB_LEN).unwrap();
        assert_eq!(
            r.data.capacity(),
            0,
            "nothing allocated for the announcement"
        );
        assert!(matches!(
            r.add(0, &vec![0; MAX_CHUNK_LEN + 1]),
            Err(BlobError::ChunkTooLarge { .. })
        ));
        let mut r = Reassembly::new(10).unwrap();
        assert_eq!(r.add(0, &[1; 4]), Ok(false));
        assert_eq!(
            r.add(0, &[1; 4]),
            Err(BlobError::UnexpectedOffset {
                expected: 4,
                got: 0
            })
        );
        assert_eq!(
            r.add(8, &[1; 2]),
            Err(BlobError::UnexpectedOffset {
                expected: 4,
                got: 8
            })
        );
        assert_eq!(
            r.add(4, &[1; 7]),
            Err(BlobError::PastEnd { end: 11, size: 10 })
        );
        assert_eq!(r.received(), 4, "refused chunks change nothing");
        assert_eq!(r.add(4, &[2; 6]), Ok(true));
        assert!(r.into_complete().is_some());
    }

    #[test]
    fn empty_blob_is_complete_at_once_and_partial_blob_is_not() {
        assert_eq!(
            Reassembly::new(0).unwrap().into_complete(),
            Some(Vec::new())
        );
        let mut r = Reassembly::new(5).unwrap();
        r.add(0, &[1, 2]).unwrap();
        assert_eq!(r.into_complete(), None);
    }
}
