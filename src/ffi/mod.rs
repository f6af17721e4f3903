//! The C API. Each exported function converts its arguments, calls the safe core, and maps
//! the result to an [`arsock_status`]; [`boundary`] wraps every body so that no panic
//! crosses into the host (since Rust 1.81 that would abort the process: the Unity editor).
//!
//! Conventions (README "API conventions"): handle first, inputs next, out-params last;
//! out-params are written only on success, except that with `ARSOCK_ERR_BUFFER_TOO_SMALL`
//! `*out_len` (`recv_msg`) and `out_msgs[0]` (`recv_msgs`) hold the size needed;
//! `(NULL, 0)` is an empty buffer.

mod client;
mod handles;
mod hub;
mod last_error;
mod message;
mod pose;
mod server;
mod session;
mod session_poses;
mod status;
mod version;

pub use client::*;
pub use handles::arsock_close;
pub use hub::*;
pub use last_error::arsock_last_error_message;
pub use message::*;
pub use pose::arsock_pose;
pub use server::*;
pub use session::*;
pub use session_poses::*;
pub use status::{arsock_status, arsock_status_str};
pub use version::*;

use crate::error::Error;
use crate::timeout::Timeout;
use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// A server or client object. 0 is never a valid handle; a closed handle is never reused.
#[allow(non_camel_case_types)]
pub type arsock_handle = u64;

/// `timeout_ms` value meaning "wait as long as it takes".
pub const ARSOCK_WAIT_FOREVER: i32 = -1;

/// An error of the C layer: a core error, or one only the C layer can see.
#[derive(Debug)]
pub(crate) enum FfiError {
    Core(Error),
    InvalidHandle(String),
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError::Core(e)
    }
}

fn invalid(msg: impl Into<String>) -> FfiError {
    FfiError::Core(Error::InvalidArgument(msg.into()))
}

/// Run an exported function's body: map its error to a status and record the message,
/// and turn a panic into `ARSOCK_ERR_PANIC`.
pub(crate) fn boundary(body: impl FnOnce() -> Result<(), FfiError>) -> arsock_status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => arsock_status::ARSOCK_OK,
        Ok(Err(FfiError::Core(e))) => {
            last_error::set(&e.to_string());
            arsock_status::from(&e)
        }
        Ok(Err(FfiError::InvalidHandle(msg))) => {
            last_error::set(&msg);
            arsock_status::ARSOCK_ERR_INVALID_HANDLE
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic payload".into());
            last_error::set(&format!(
                "internal error (panic caught at the C boundary): {what}"
            ));
            arsock_status::ARSOCK_ERR_PANIC
        }
    }
}

/// A required out-pointer.
fn out_ptr<'a, T>(p: *mut T, name: &str) -> Result<&'a mut T, FfiError> {
    // SAFETY: the caller promises `p` is NULL or valid for writes of one T (header contract).
    unsafe { p.as_mut() }.ok_or_else(|| invalid(format!("{name} is NULL")))
}

/// A NUL-terminated UTF-8 string argument.
fn str_arg<'a>(p: *const c_char, name: &str) -> Result<&'a str, FfiError> {
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    // SAFETY: the caller promises a NUL-terminated string (header contract).
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| invalid(format!("{name} is not valid UTF-8")))
}

/// An input buffer; `(NULL, 0)` is empty.
fn slice_arg<'a>(p: *const u8, len: usize, name: &str) -> Result<&'a [u8], FfiError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL but its length is {len}")));
    }
    if len > isize::MAX as usize {
        return Err(invalid(format!("{name} length {len} is too large")));
    }
    // SAFETY: non-NULL, length fits isize; the caller promises `len` readable bytes.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

/// An input array of `count` items; `(NULL, 0)` is empty.
fn array_arg<'a, T>(p: *const T, count: usize, name: &str) -> Result<&'a [T], FfiError> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL but count is {count}")));
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!("{name} count {count} is too large")));
    }
    // SAFETY: non-NULL, size fits isize; the caller promises `count` readable items.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// An output array of `count` items (`count` > 0).
fn array_mut_arg<'a, T>(p: *mut T, count: usize, name: &str) -> Result<&'a mut [T], FfiError> {
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL")));
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(invalid(format!("{name} count {count} is too large")));
    }
    // SAFETY: non-NULL, size fits isize; the caller promises `count` writable items that
    // nothing else accesses during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, count) })
}

/// An output buffer; `(NULL, 0)` is empty.
fn slice_mut_arg<'a>(p: *mut u8, cap: usize, name: &str) -> Result<&'a mut [u8], FfiError> {
    if cap == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(invalid(format!("{name} is NULL but its capacity is {cap}")));
    }
    if cap > isize::MAX as usize {
        return Err(invalid(format!("{name} capacity {cap} is too large")));
    }
    // SAFETY: non-NULL, length fits isize; the caller promises `cap` writable bytes that
    // nothing else accesses during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, cap) })
}

fn timeout_arg(ms: i32) -> Result<Timeout, FfiError> {
    Ok(Timeout::from_millis(ms)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    /// A test-build-only export whose body panics: proves the boundary catches it.
    extern "C" fn arsock_test_force_panic() -> arsock_status {
        boundary(|| panic!("forced panic for the boundary test"))
    }

    #[test]
    fn a_panic_inside_an_exported_body_becomes_arsock_err_panic() {
        let status = arsock_test_force_panic();
        assert_eq!(status, arsock_status::ARSOCK_ERR_PANIC);
        let msg = unsafe { CStr::from_ptr(arsock_last_error_message()) }.to_string_lossy();
        assert!(msg.contains("forced panic for the boundary test"), "{msg}");
    }
}
