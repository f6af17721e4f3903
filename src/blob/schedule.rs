//! Which kind of traffic a connection writes next: poses before messages before blob chunks,
//! so a blob in flight delays a pose by at most about one chunk.

/// A kind of outgoing traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The newest poses (one batch).
    Poses,
    /// Reliable messages and state changes, in order.
    Messages,
    /// One blob chunk (≤ 16 KiB).
    BlobChunk,
}

/// What a connection has waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// Poses newer than the last sent wait.
    pub poses: bool,
    /// Messages wait.
    pub messages: bool,
    /// A blob chunk could be sent.
    pub blob_chunk: bool,
    /// Bytes already queued for the socket and not yet taken by it.
    pub unsent_bytes: usize,
}

/// The lane to write next, or `None` if nothing should be written now. Poses first, then
/// messages; a blob chunk only when neither waits **and** nothing is queued unsent, so that
/// whatever arrives next waits behind at most the one chunk being written. (The I/O layer
/// should count bytes the kernel holds too, or keep the socket's send buffer modest, for the
/// bound to hold on fast links.)
pub fn next_lane(p: &Pending) -> Option<Lane> {
    if p.poses {
        Some(Lane::Poses)
    } else if p.messages {
        Some(Lane::Messages)
    } else if p.blob_chunk && p.unsent_bytes == 0 {
        Some(Lane::BlobChunk)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(poses: bool, messages: bool, blob_chunk: bool, unsent_bytes: usize) -> Pending {
        Pending {
            poses,
            messages,
            blob_chunk,
            unsent_bytes,
        }
    }

    #[test]
    fn poses_go_before_everything() {
        assert_eq!(next_lane(&p(true, true, true, 0)), Some(Lane::Poses));
        assert_eq!(
            next_lane(&p(true, false, false, 1 << 20)),
            Some(Lane::Poses)
        );
    }

    #[test]
    fn messages_go_before_blob_chunks() {
        assert_eq!(next_lane(&p(false, true, true, 0)), Some(Lane::Messages));
        assert_eq!(next_lane(&p(false, true, false, 500)), Some(Lane::Messages));
    }

    #[test]
    fn blob_chunk_only_when_nothing_else_waits_or_is_queued() {
        assert_eq!(next_lane(&p(false, false, true, 0)), Some(Lane::BlobChunk));
        assert_eq!(next_lane(&p(false, false, true, 1)), None);
    }

    #[test]
    fn nothing_pending_writes_nothing() {
        assert_eq!(next_lane(&Pending::default()), None);
    }
}
