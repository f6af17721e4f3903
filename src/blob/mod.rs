//! Blobs: large values (anchors, meshes, world maps) stored in a room and moved in chunks that
//! never hold poses or messages back (issue 11).
//!
//! Pure logic, no I/O: splitting a blob into chunks ([`ChunkCursor`](crate::blob::chunk::ChunkCursor)), reassembling it
//! with bounds ([`Reassembly`](crate::blob::chunk::Reassembly)), a room's store with its memory budget
//! ([`BlobStore`](crate::blob::store::BlobStore)) and the send scheduler's priority rule ([`next_lane`](crate::blob::schedule::next_lane)).

pub mod chunk;
pub mod schedule;
pub mod store;

/// Largest chunk payload: a pose waits behind at most one chunk of this size.
pub const MAX_CHUNK_LEN: usize = 16 * 1024;
/// Largest blob.
pub const MAX_BLOB_LEN: u64 = 64 * 1024 * 1024;
/// Most blob bytes one room holds, complete and in progress together.
pub const ROOM_BLOB_BUDGET: u64 = 256 * 1024 * 1024;

/// Why a blob operation was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BlobError {
    /// The announced size is above [`MAX_BLOB_LEN`].
    #[error("blob of {size} bytes; at most {max}")]
    TooLarge {
        /// Size announced.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The budget cannot take the blob now.
    #[error("blob budget full: {needed} bytes needed, {available} available")]
    BudgetFull {
        /// Bytes asked for.
        needed: u64,
        /// Bytes left in the budget.
        available: u64,
    },
    /// A chunk above [`MAX_CHUNK_LEN`].
    #[error("chunk of {len} bytes; at most {max}")]
    ChunkTooLarge {
        /// Chunk length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A chunk not at the next expected offset (chunks arrive in order).
    #[error("chunk at offset {got}; expected {expected}")]
    UnexpectedOffset {
        /// Bytes received so far.
        expected: u64,
        /// Offset of the chunk.
        got: u64,
    },
    /// A chunk reaching past the announced size.
    #[error("chunk ends at {end}, past the blob's {size} bytes")]
    PastEnd {
        /// Where the chunk ends.
        end: u64,
        /// The blob's size.
        size: u64,
    },
    /// No upload of that key from that peer is in progress.
    #[error("no upload in progress for this key")]
    NoUpload,
    /// The allocator refused memory for the blob.
    #[error("out of memory for a blob of {size} bytes")]
    OutOfMemory {
        /// The blob's size.
        size: u64,
    },
}
