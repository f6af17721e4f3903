//! Library and ABI versions.

use std::ffi::c_char;

/// Version of the C ABI. It changes whenever a signature, struct layout or status value
/// changes incompatibly; bindings compare it with `arsock_abi_version()` at load time.
pub const ARSOCK_ABI_VERSION: u32 = 1;

/// The library version ("MAJOR.MINOR.PATCH"), a static NUL-terminated string; never NULL,
/// never to be freed. Never blocks. Any thread.
#[no_mangle]
pub extern "C" fn arsock_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// The ABI version this library was built with (ARSOCK_ABI_VERSION of its header).
/// Never blocks. Any thread.
#[no_mangle]
pub extern "C" fn arsock_abi_version() -> u32 {
    ARSOCK_ABI_VERSION
}
