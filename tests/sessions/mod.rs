//! Helpers for the session tests: a hub, devices, and event waits, all through the C API.
#![allow(dead_code)]

pub use arsock::ffi::arsock_status::*;
pub use arsock::ffi::*;
pub mod delay;
pub mod proxy;
pub mod raw;
use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::time::{Duration, Instant};

pub fn last_error() -> String {
    unsafe { CStr::from_ptr(arsock_last_error_message()) }
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
pub fn ok(status: arsock_status) {
    assert_eq!(status, ARSOCK_OK, "last error: {}", last_error());
}

pub fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// A hub on 127.0.0.1 with `edit` applied to the default config.
pub fn hub_with(edit: impl FnOnce(&mut arsock_hub_config)) -> (arsock_handle, u16) {
    let host = cstr("127.0.0.1");
    let mut cfg: arsock_hub_config = unsafe { std::mem::zeroed() };
    unsafe { arsock_hub_config_init(&mut cfg) };
    cfg.host = host.as_ptr();
    edit(&mut cfg);
    let mut hub = 0;
    ok(unsafe { arsock_hub_start(&cfg, &mut hub) });
    let mut port = 0;
    ok(unsafe { arsock_hub_local_port(hub, &mut port) });
    (hub, port)
}

pub fn hub() -> (arsock_handle, u16) {
    hub_with(|_| {})
}

/// An event with its payload read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ev {
    pub kind: u32,
    pub peer: u32,
    pub reason: i32,
    pub flags: u32,
    pub size: u64,
    pub time_us: i64,
    pub payload: Vec<u8>,
}

/// A device: a session handle and the events it has seen but not yet consumed.
pub struct Dev {
    pub h: arsock_handle,
    pub id: u32,
    pub backlog: VecDeque<Ev>,
}

pub fn open_with(port: u16, room: &str, name: &str, token: Option<&str>) -> arsock_handle {
    let host = cstr("127.0.0.1");
    let room = cstr(room);
    let name = cstr(name);
    let token = token.map(cstr);
    let mut cfg: arsock_session_config = unsafe { std::mem::zeroed() };
    unsafe { arsock_session_config_init(&mut cfg) };
    cfg.name = name.as_ptr();
    cfg.token = token.as_ref().map_or(std::ptr::null(), |t| t.as_ptr());
    let mut s = 0;
    ok(unsafe { arsock_session_open(host.as_ptr(), port, room.as_ptr(), &cfg, &mut s) });
    s
}

/// Poll once (up to `timeout_ms`), reading every payload.
pub fn poll(h: arsock_handle, timeout_ms: i32) -> Result<Vec<Ev>, arsock_status> {
    let mut evs = [arsock_event::default(); 64];
    let mut n = 0;
    let st = unsafe { arsock_session_poll(h, evs.as_mut_ptr(), evs.len(), timeout_ms, &mut n) };
    if st != ARSOCK_OK {
        return Err(st);
    }
    let mut out = Vec::with_capacity(n);
    for e in &evs[..n] {
        let mut payload = Vec::new();
        if e.payload != 0 {
            // BLOB_AVAILABLE: the payload is the key (≤ 255 bytes), `size` the blob's size.
            let blob = e.kind == ARSOCK_EVENT_BLOB_AVAILABLE;
            payload = vec![0u8; if blob { 255 } else { e.size as usize }];
            let mut len = 0;
            ok(unsafe {
                arsock_session_read(h, e.payload, payload.as_mut_ptr(), payload.len(), &mut len)
            });
            if blob {
                payload.truncate(len);
            } else {
                assert_eq!(len as u64, e.size);
            }
        }
        out.push(Ev {
            kind: e.kind,
            peer: e.peer,
            reason: e.reason,
            flags: e.flags,
            size: e.size,
            time_us: e.time_us,
            payload,
        });
    }
    Ok(out)
}

impl Dev {
    /// Open and wait for JOINED (panics on anything else first, or after `limit`).
    pub fn join(port: u16, room: &str, name: &str) -> Dev {
        Dev::join_with(port, room, name, None)
    }

    pub fn join_with(port: u16, room: &str, name: &str, token: Option<&str>) -> Dev {
        let h = open_with(port, room, name, token);
        let mut d = Dev {
            h,
            id: 0,
            backlog: VecDeque::new(),
        };
        let e = d
            .next(Duration::from_secs(10))
            .expect("no JOINED within 10 s");
        assert_eq!(e.kind, ARSOCK_EVENT_JOINED, "first event {e:?}");
        d.id = e.peer;
        d
    }

    /// The next event, waiting up to `limit`.
    pub fn next(&mut self, limit: Duration) -> Option<Ev> {
        let end = Instant::now() + limit;
        loop {
            if let Some(e) = self.backlog.pop_front() {
                return Some(e);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            match poll(self.h, left.as_millis().clamp(1, 1000) as i32) {
                Ok(v) => self.backlog.extend(v),
                Err(ARSOCK_ERR_TIMEOUT) => {}
                Err(st) => panic!("poll: {st:?} {}", last_error()),
            }
        }
    }

    /// Events until one matches `pred` (returned last), waiting up to `limit` in all.
    #[track_caller]
    pub fn until(&mut self, limit: Duration, mut pred: impl FnMut(&Ev) -> bool) -> Vec<Ev> {
        let end = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match self.next(left) {
                Some(e) => {
                    let hit = pred(&e);
                    seen.push(e);
                    if hit {
                        return seen;
                    }
                }
                None => panic!("no matching event within {limit:?}; seen {seen:?}"),
            }
        }
    }

    /// Every event arriving within `d`.
    pub fn drain(&mut self, d: Duration) -> Vec<Ev> {
        let end = Instant::now() + d;
        let mut v = Vec::new();
        while let Some(e) = self.next(end.saturating_duration_since(Instant::now())) {
            v.push(e);
        }
        v
    }

    #[track_caller]
    pub fn send(&self, to: u32, data: &[u8]) {
        ok(unsafe { arsock_session_send(self.h, to, data.as_ptr(), data.len()) });
    }

    /// One send attempt.
    pub fn try_send(&self, to: u32, data: &[u8]) -> arsock_status {
        unsafe { arsock_session_send(self.h, to, data.as_ptr(), data.len()) }
    }

    /// Send, retrying while the queue is full (WOULD_BLOCK), polling into the backlog
    /// meanwhile so acknowledgements and events keep flowing.
    pub fn send_retry(&mut self, to: u32, data: &[u8]) {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let st = unsafe { arsock_session_send(self.h, to, data.as_ptr(), data.len()) };
            match st {
                ARSOCK_OK => return,
                ARSOCK_ERR_WOULD_BLOCK if Instant::now() < end => {
                    if let Ok(v) = poll(self.h, 1) {
                        self.backlog.extend(v);
                    }
                }
                st => panic!("send: {st:?} {}; events {:?}", last_error(), self.backlog),
            }
        }
    }

    #[track_caller]
    pub fn set(&self, key: &str, value: &[u8]) {
        let k = cstr(key);
        ok(unsafe { arsock_session_set_state(self.h, k.as_ptr(), value.as_ptr(), value.len()) });
    }

    pub fn get(&self, key: &str) -> Result<Vec<u8>, arsock_status> {
        let k = cstr(key);
        let mut buf = vec![0u8; 70 * 1024];
        let mut len = 0;
        let st = unsafe {
            arsock_session_get_state(self.h, k.as_ptr(), buf.as_mut_ptr(), buf.len(), &mut len)
        };
        if st != ARSOCK_OK {
            return Err(st);
        }
        buf.truncate(len);
        Ok(buf)
    }

    pub fn close(&self) {
        ok(arsock_close(self.h));
    }
}

/// Run `f` on a thread; panic if it takes longer than `limit` (a watchdog, not a timing check).
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("test watchdog expired")
}
