//! arsock: message-oriented sockets with a C ABI for real-time augmented-reality apps.
//!
//! The crate has two layers. The safe Rust core ([`Server`], [`Connection`], [`Error`],
//! [`Timeout`], [`frame`]) knows nothing of C and can be used from Rust directly. The `ffi`
//! module is the C API (`include/arsock.h`): it converts arguments, calls the core and maps
//! errors to `arsock_status` codes, catching every panic at the boundary. [`session`] is the
//! session layer (a hub with rooms, presence, reliable relay, shared state and resume) with
//! its own sans-IO cores.
//!
//! ```no_run
//! use arsock::{Connection, Server, Timeout};
//! let server = Server::bind("127.0.0.1", 0)?;
//! server.listen(0)?;
//! let port = server.local_addr().port();
//! let client = Connection::connect("127.0.0.1", port, Timeout::Forever)?;
//! let accepted = server.accept(Timeout::Forever)?;
//! client.send_msg(b"pose")?;
//! let mut buf = [0u8; 64];
//! let n = accepted.recv_msg(&mut buf, Timeout::Forever)?;
//! assert_eq!(&buf[..n], b"pose");
//! # Ok::<(), arsock::Error>(())
//! ```

mod conn;
mod error;
pub mod frame;
mod net;
#[allow(dead_code)] // the connection core and sessions build on it (issues 9 and 10)
pub(crate) mod reactor;
pub mod registry;
mod server;
/// cbindgen:ignore
pub mod session;
mod sys;
mod timeout;

pub mod ffi;

// Pure logic of issue 11 (no I/O, no C types); cbindgen skips them so the header stays the
// C layer's alone.
/// Blobs: chunking, reassembly, a room's store and the send priority.
/// cbindgen:ignore
pub mod blob;
/// The room clock estimator.
/// cbindgen:ignore
pub mod clock;
/// Poses: values, wire form, newest-pose table, outbox, sampling.
/// cbindgen:ignore
pub mod pose;

pub use conn::{
    Connection, DEFAULT_FRAME_TIMEOUT, DEFAULT_MAX_MESSAGE, DEFAULT_SEND_QUEUE_LIMIT, LINGER,
};
pub use error::{Error, Result};
pub use server::{Server, DEFAULT_BACKLOG};
pub use timeout::Timeout;
