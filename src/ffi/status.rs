//! `arsock_status`: the one status enum of the C API, and `arsock_status_str`.

use crate::error::Error;
use std::ffi::{c_char, CStr};

/// Result of every fallible arsock call: `ARSOCK_OK` (0) or a negative error.
/// Values are part of the ABI: they never change and are never reused.
#[allow(non_camel_case_types)]
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum arsock_status {
    /// Success.
    ARSOCK_OK = 0,
    /// NULL where a pointer is required, a length that does not fit, bad UTF-8, capacity 0,
    /// a timeout below -1, or another out-of-range argument.
    ARSOCK_ERR_INVALID_ARGUMENT = -1,
    /// The handle is 0, closed, stale, never issued, or of the wrong kind.
    ARSOCK_ERR_INVALID_HANDLE = -2,
    /// Nothing happened within `timeout_ms`; the handle stays usable.
    ARSOCK_ERR_TIMEOUT = -3,
    /// The peer closed or reset the connection, the connection broke earlier, or the handle
    /// was closed during the call.
    ARSOCK_ERR_CLOSED = -4,
    /// The address is already in use.
    ARSOCK_ERR_ADDRESS_IN_USE = -5,
    /// Nobody accepts connections at the address.
    ARSOCK_ERR_CONNECTION_REFUSED = -6,
    /// The host cannot be parsed or resolved.
    ARSOCK_ERR_ADDRESS = -7,
    /// The call does not fit the object's state: accept before listen, listen twice, mixing
    /// raw and message calls on one connection.
    ARSOCK_ERR_STATE = -8,
    /// Any other operating-system error (details in `arsock_last_error_message`).
    ARSOCK_ERR_IO = -9,
    /// An internal bug was caught at the C boundary; please report it with the last-error text.
    ARSOCK_ERR_PANIC = -10,
    /// The receive buffer is too small for the next message; `*out_len` holds the size needed
    /// and the message stays queued.
    ARSOCK_ERR_BUFFER_TOO_SMALL = -11,
    /// The message exceeds the connection's size limit; nothing was sent.
    ARSOCK_ERR_MESSAGE_TOO_LARGE = -12,
    /// The peer broke the message framing (oversized or malformed frame, truncated frame,
    /// frame timeout); the connection has been closed and later calls return ARSOCK_ERR_CLOSED.
    ARSOCK_ERR_PROTOCOL = -13,
    /// Non-blocking send (send timeout 0): the send queue is full; nothing was queued.
    ARSOCK_ERR_WOULD_BLOCK = -14,
    /// The peer, state key or payload id does not exist (a payload id is valid only until
    /// the next poll).
    ARSOCK_ERR_NOT_FOUND = -15,
}

use arsock_status::*;

impl arsock_status {
    const ALL: [arsock_status; 16] = [
        ARSOCK_OK,
        ARSOCK_ERR_INVALID_ARGUMENT,
        ARSOCK_ERR_INVALID_HANDLE,
        ARSOCK_ERR_TIMEOUT,
        ARSOCK_ERR_CLOSED,
        ARSOCK_ERR_ADDRESS_IN_USE,
        ARSOCK_ERR_CONNECTION_REFUSED,
        ARSOCK_ERR_ADDRESS,
        ARSOCK_ERR_STATE,
        ARSOCK_ERR_IO,
        ARSOCK_ERR_PANIC,
        ARSOCK_ERR_BUFFER_TOO_SMALL,
        ARSOCK_ERR_MESSAGE_TOO_LARGE,
        ARSOCK_ERR_PROTOCOL,
        ARSOCK_ERR_WOULD_BLOCK,
        ARSOCK_ERR_NOT_FOUND,
    ];

    /// The status with this numeric value, if there is one.
    pub fn from_i32(v: i32) -> Option<arsock_status> {
        Self::ALL.into_iter().find(|s| *s as i32 == v)
    }

    fn text(self) -> &'static CStr {
        match self {
            ARSOCK_OK => c"success",
            ARSOCK_ERR_INVALID_ARGUMENT => c"invalid argument",
            ARSOCK_ERR_INVALID_HANDLE => c"invalid handle",
            ARSOCK_ERR_TIMEOUT => c"timed out",
            ARSOCK_ERR_CLOSED => c"connection closed",
            ARSOCK_ERR_ADDRESS_IN_USE => c"address in use",
            ARSOCK_ERR_CONNECTION_REFUSED => c"connection refused",
            ARSOCK_ERR_ADDRESS => c"bad or unresolvable address",
            ARSOCK_ERR_STATE => c"call not valid in this state",
            ARSOCK_ERR_IO => c"I/O error",
            ARSOCK_ERR_PANIC => c"internal error (panic caught)",
            ARSOCK_ERR_BUFFER_TOO_SMALL => c"buffer too small",
            ARSOCK_ERR_MESSAGE_TOO_LARGE => c"message too large",
            ARSOCK_ERR_PROTOCOL => c"protocol error",
            ARSOCK_ERR_WOULD_BLOCK => c"send queue full",
            ARSOCK_ERR_NOT_FOUND => c"not found",
        }
    }
}

impl From<&Error> for arsock_status {
    fn from(e: &Error) -> Self {
        match e {
            Error::InvalidArgument(_) => ARSOCK_ERR_INVALID_ARGUMENT,
            Error::Timeout => ARSOCK_ERR_TIMEOUT,
            Error::Closed(_) => ARSOCK_ERR_CLOSED,
            Error::AddressInUse(_) => ARSOCK_ERR_ADDRESS_IN_USE,
            Error::ConnectionRefused(_) => ARSOCK_ERR_CONNECTION_REFUSED,
            Error::Address(_) => ARSOCK_ERR_ADDRESS,
            Error::State(_) => ARSOCK_ERR_STATE,
            Error::Io(_) => ARSOCK_ERR_IO,
            Error::BufferTooSmall { .. } => ARSOCK_ERR_BUFFER_TOO_SMALL,
            Error::MessageTooLarge { .. } => ARSOCK_ERR_MESSAGE_TOO_LARGE,
            Error::Protocol(_) => ARSOCK_ERR_PROTOCOL,
            Error::WouldBlock { .. } => ARSOCK_ERR_WOULD_BLOCK,
            Error::NotFound(_) => ARSOCK_ERR_NOT_FOUND,
        }
    }
}

/// A short static description of `status`, for logs.
///
/// Accepts any value, including ones this version does not know ("unknown status").
/// Returns a NUL-terminated string with static lifetime: never NULL, never to be freed.
/// Never blocks; any thread.
#[no_mangle]
pub extern "C" fn arsock_status_str(status: i32) -> *const c_char {
    match arsock_status::from_i32(status) {
        Some(s) => s.text().as_ptr(),
        None => c"unknown status".as_ptr(),
    }
}
