//! The thread-local detail of the last failure, libgit2-style.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

thread_local! {
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
}

/// Record `msg` as this thread's last error (interior NULs become spaces).
pub(crate) fn set(msg: &str) {
    let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = Some(text));
}

/// A readable description of the last failed arsock call on the calling thread, including
/// OS error text where there was one; "" if no call on this thread has failed yet.
///
/// Ownership: the string belongs to arsock; do not free it. It stays valid until the next
/// arsock call on this thread fails (successful calls leave it alone); copy it to keep it.
/// Thread-safety: each thread has its own message. Never blocks. Never returns NULL.
#[no_mangle]
pub extern "C" fn arsock_last_error_message() -> *const c_char {
    LAST_ERROR
        .try_with(|e| e.borrow().as_ref().map(|s| s.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}
