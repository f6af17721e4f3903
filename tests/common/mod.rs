//! Helpers shared by the integration tests. Everything goes through the exported C functions,
//! exactly as a C, C# or Python caller would use them.
#![allow(dead_code)]

pub use arsock::ffi::arsock_status::*;
pub mod native;

pub use arsock::ffi::*;
use std::ffi::{CStr, CString};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The detail of this thread's last failure.
pub fn last_error() -> String {
    unsafe { CStr::from_ptr(arsock_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

/// Assert a call succeeded, showing the last-error text if not.
#[track_caller]
pub fn ok(status: arsock_status) {
    assert_eq!(status, ARSOCK_OK, "last error: {}", last_error());
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A listening server on `host` with an OS-chosen port.
pub fn listen_on(host: &str) -> (arsock_handle, u16) {
    let mut server = 0;
    ok(arsock_server_bind(cstr(host).as_ptr(), 0, &mut server));
    ok(arsock_server_listen(server, 0));
    let mut port = 0;
    ok(arsock_server_local_port(server, &mut port));
    (server, port)
}

pub fn listen() -> (arsock_handle, u16) {
    listen_on("127.0.0.1")
}

pub fn connect(host: &str, port: u16) -> arsock_handle {
    let mut client = 0;
    ok(arsock_client_connect(
        cstr(host).as_ptr(),
        port,
        5000,
        &mut client,
    ));
    client
}

pub fn accept(server: arsock_handle) -> arsock_handle {
    let mut client = 0;
    ok(arsock_server_accept(server, 5000, &mut client));
    client
}

/// A server plus one connected pair: (server, client side, accepted side).
pub fn pair() -> (arsock_handle, arsock_handle, arsock_handle) {
    let (server, port) = listen();
    let client = connect("127.0.0.1", port);
    let accepted = accept(server);
    (server, client, accepted)
}

pub fn send_raw(h: arsock_handle, data: &[u8]) {
    ok(arsock_client_send(h, data.as_ptr(), data.len()));
}

/// Raw receive of exactly `n` bytes (several `recv` calls), 5 s per call at most.
pub fn recv_raw_exact(h: arsock_handle, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut buf = vec![0u8; 64 * 1024];
    while out.len() < n {
        let mut got = 0;
        let want = (n - out.len()).min(buf.len());
        ok(arsock_client_recv(
            h,
            buf.as_mut_ptr(),
            want,
            5000,
            &mut got,
        ));
        out.extend_from_slice(&buf[..got]);
    }
    out
}

pub fn send_msg(h: arsock_handle, data: &[u8]) {
    ok(arsock_client_send_msg(h, data.as_ptr(), data.len()));
}

/// Receive one message (up to `cap` bytes) with a 10 s timeout.
pub fn recv_msg(h: arsock_handle, cap: usize) -> Vec<u8> {
    let mut buf = vec![0u8; cap];
    let mut n = 0;
    ok(arsock_client_recv_msg(
        h,
        buf.as_mut_ptr(),
        cap,
        10_000,
        &mut n,
    ));
    buf.truncate(n);
    buf
}

pub fn recv_msg_status(h: arsock_handle, cap: usize, timeout_ms: i32) -> (arsock_status, Vec<u8>) {
    let mut buf = vec![0u8; cap];
    let mut n = 0;
    let st = arsock_client_recv_msg(h, buf.as_mut_ptr(), cap, timeout_ms, &mut n);
    buf.truncate(if st == ARSOCK_OK { n } else { 0 });
    (st, buf)
}

/// Run `f` on a thread and fail the test if it does not finish within `limit`
/// (a hang is a bug; this bounds the test, it does not measure speed).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("call did not return in time (hang)")
}

/// Deterministic pseudo-random bytes (xorshift), for content checks.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
