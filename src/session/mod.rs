//! Sessions: a hub with rooms, presence, liveness, reliable relay, shared state, late joiners
//! and resume (docs/PROTOCOL.md, "Sessions").
//!
//! Layout: a sans-IO core that knows no sockets and is tested with plain bytes and times
//! ([`wire`](crate::session::wire) encodes and decodes every frame,
//! [`hub_core`](crate::session::hub_core) and [`client_core`](crate::session::client_core) are
//! the state machines), a framed nonblocking byte stream ([`stream`](crate::session::stream)),
//! and thin glue that runs both on the library's I/O thread (`hub_io`, `client_io`). The C
//! layer (`src/ffi/hub.rs`, `src/ffi/session.rs`) only calls [`Hub`](crate::session::Hub) and
//! [`Session`](crate::session::Session).

pub mod client_core;
mod client_io;
pub mod ext_wire;
pub mod hub_core;
mod hub_io;
pub mod stream;
pub mod wire;

pub use client_io::{blob_flag, Session, SessionConfig, MAX_POSES_PER_SEND};
pub use hub_core::ConnPoseMemory;
pub use hub_io::Hub;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Why a peer left, a join was refused, or a session ended (`ARSOCK_REASON_*`).
pub mod reason {
    /// No particular reason.
    pub const NONE: i32 = 0;
    /// This side closed the session.
    pub const LOCAL_CLOSE: i32 = 1;
    /// The other side closed cleanly.
    pub const REMOTE_CLOSE: i32 = 2;
    /// Silent for too long (or the resume grace ended).
    pub const TIMEOUT: i32 = 3;
    /// Removed by the hub.
    pub const KICKED: i32 = 4;
    /// The room has `max_peers_per_room` peers.
    pub const ROOM_FULL: i32 = 5;
    /// Incompatible protocol version.
    pub const VERSION: i32 = 6;
    /// Missing or wrong token.
    pub const AUTH: i32 = 7;
    /// Malformed or unexpected frame.
    pub const PROTOCOL: i32 = 8;
    /// The connection failed or broke.
    pub const NETWORK: i32 = 9;
    /// The hub was closed.
    pub const HUB_SHUTDOWN: i32 = 10;
    /// The peer's queue stayed over its limit for `slow_peer_ms`.
    pub const SLOW_PEER: i32 = 11;
}

/// Event kinds (`ARSOCK_EVENT_*`).
pub mod event_kind {
    /// This session joined its room (`peer` = own id).
    pub const JOINED: u32 = 1;
    /// The hub refused the session (`reason`).
    pub const REJECTED: u32 = 2;
    /// Another peer is in the room.
    pub const PEER_JOINED: u32 = 3;
    /// A peer went silent or lost its connection; it may come back.
    pub const PEER_STALE: u32 = 4;
    /// A stale peer was heard again.
    pub const PEER_RESUMED: u32 = 5;
    /// A peer left the room (`reason`).
    pub const PEER_LEFT: u32 = 6;
    /// A reliable message from `peer`.
    pub const MESSAGE: u32 = 7;
    /// A state key changed (payload = key).
    pub const STATE_CHANGED: u32 = 8;
    /// The link to the hub ended (`reason`; flag RESUMING when the session reconnects).
    pub const DISCONNECTED: u32 = 9;
    /// The session resumed after a break (`size` = messages the hub had to drop).
    pub const RECONNECTED: u32 = 10;
    /// Reserved for blobs (issue 11).
    pub const BLOB_AVAILABLE: u32 = 11;
}

/// Event flags.
pub mod event_flag {
    /// STATE_CHANGED: the key was deleted.
    pub const STATE_DELETED: u32 = 1;
    /// DISCONNECTED: the session is reconnecting on its own (a RECONNECTED or a final
    /// DISCONNECTED follows).
    pub const RESUMING: u32 = 2;
    /// MESSAGE: sent to this peer alone (not to everyone).
    pub const DIRECT: u32 = 4;
}

/// Limits shared by hub and sessions.
pub mod limits {
    /// Longest room name in bytes.
    pub const MAX_ROOM: usize = 64;
    /// Longest peer name in bytes.
    pub const MAX_NAME: usize = 64;
    /// Longest auth token in bytes.
    pub const MAX_TOKEN: usize = 1024;
    /// Longest state key in bytes.
    pub const MAX_KEY: usize = 255;
    /// Largest state value in bytes.
    pub const MAX_VALUE: usize = 64 * 1024;
    /// Most keys in a room's state.
    pub const MAX_KEYS: usize = 4096;
    /// Largest reliable message in bytes.
    pub const MAX_MESSAGE: usize = 256 * 1024;
    /// Bytes of reliable traffic a session, or the hub for one peer, keeps unacknowledged.
    pub const QUEUE_LIMIT: usize = 1024 * 1024;
    /// Most peers in a room.
    pub const MAX_PEERS: u32 = 256;
}

/// One thing that happened, for the application (`arsock_event` without payload ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// `event_kind::*`.
    pub kind: u32,
    /// The peer concerned; 0 = the hub.
    pub peer: u32,
    /// `reason::*` for REJECTED, PEER_LEFT, DISCONNECTED.
    pub reason: i32,
    /// `event_flag::*`.
    pub flags: u32,
    /// MESSAGE body or STATE_CHANGED key.
    pub payload: Option<std::sync::Arc<[u8]>>,
    /// Payload size, or the drop count of RECONNECTED.
    pub size: u64,
    /// Hub time in microseconds.
    pub time_us: i64,
}

/// Microseconds on a process-wide monotonic clock anchored at the Unix time of first use, so
/// that processes on one host roughly agree (the hub's clock is the room's clock).
pub fn now_us() -> i64 {
    micros_at(Instant::now())
}

/// [`now_us`] for an instant taken earlier.
pub fn micros_at(at: Instant) -> i64 {
    static ANCHOR: OnceLock<(Instant, i64)> = OnceLock::new();
    let (base, unix) = *ANCHOR.get_or_init(|| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0);
        (Instant::now(), unix)
    });
    match at.checked_duration_since(base) {
        Some(d) => unix.saturating_add(d.as_micros() as i64),
        None => unix.saturating_sub(base.duration_since(at).as_micros() as i64),
    }
}

/// Period of the housekeeping tick of hubs and sessions (acks, heartbeats, liveness).
pub(crate) const TICK: Duration = Duration::from_millis(50);
