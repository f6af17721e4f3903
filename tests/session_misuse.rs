//! Bad use of the session and hub C API gives clear statuses, never a crash.

mod sessions;
use sessions::*;
use std::net::TcpListener;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn open_status(
    port: u16,
    room: &[u8],
    cfg: Option<&arsock_session_config>,
) -> (arsock_status, arsock_handle) {
    let host = cstr("127.0.0.1");
    let room = std::ffi::CString::new(room).unwrap();
    let mut h = 0;
    let st = unsafe {
        arsock_session_open(
            host.as_ptr(),
            port,
            room.as_ptr(),
            cfg.map_or(std::ptr::null(), |c| c),
            &mut h,
        )
    };
    (st, h)
}

#[test]
fn bad_room_names_and_configs_are_invalid_arguments() {
    let (hub, port) = hub();
    let long = vec![b'r'; 300];
    assert_eq!(
        open_status(port, &long, None).0,
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("300"), "{}", last_error());
    assert_eq!(open_status(port, b"", None).0, ARSOCK_ERR_INVALID_ARGUMENT);
    assert_eq!(
        open_status(port, b"\xff\xfe", None).0,
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    let mut cfg: arsock_session_config = unsafe { std::mem::zeroed() };
    unsafe { arsock_session_config_init(&mut cfg) };
    let long_name = cstr(&"n".repeat(65));
    cfg.name = long_name.as_ptr();
    assert_eq!(
        open_status(port, b"r", Some(&cfg)).0,
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    cfg.name = std::ptr::null();
    cfg.connect_timeout_ms = -1;
    assert_eq!(
        open_status(port, b"r", Some(&cfg)).0,
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    cfg.connect_timeout_ms = 0;
    cfg.struct_size = 8;
    assert_eq!(
        open_status(port, b"r", Some(&cfg)).0,
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert!(last_error().contains("struct_size"));
    // A zeroed config with only struct_size is valid (defaults).
    let zero = arsock_session_config {
        struct_size: std::mem::size_of::<arsock_session_config>() as u32,
        ..cfg
    };
    let zero = arsock_session_config {
        connect_timeout_ms: 0,
        name: std::ptr::null(),
        token: std::ptr::null(),
        ..zero
    };
    let (st, h) = open_status(port, b"r", Some(&zero));
    ok(st);
    ok(arsock_close(h));

    let mut hc: arsock_hub_config = unsafe { std::mem::zeroed() };
    let mut out = 0;
    assert_eq!(
        unsafe { arsock_hub_start(&hc, &mut out) },
        ARSOCK_ERR_INVALID_ARGUMENT,
        "struct_size 0"
    );
    for edit in [
        (|c: &mut arsock_hub_config| c.max_peers_per_room = 257) as fn(&mut arsock_hub_config),
        |c| c.resume_grace_ms = -2,
        |c| c.heartbeat_ms = -5,
        |c| c.stale_after_ms = -1,
        |c| {
            c.heartbeat_ms = 1000;
            c.stale_after_ms = 1000;
        },
    ] {
        unsafe { arsock_hub_config_init(&mut hc) };
        edit(&mut hc);
        assert_eq!(
            unsafe { arsock_hub_start(&hc, &mut out) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
    }
    unsafe { arsock_hub_config_init(&mut hc) };
    assert_eq!(
        unsafe { arsock_hub_start(&hc, std::ptr::null_mut()) },
        ARSOCK_ERR_INVALID_ARGUMENT
    );
    assert_eq!(hc.max_peers_per_room, 32);
    assert_eq!(
        (hc.heartbeat_ms, hc.stale_after_ms, hc.resume_grace_ms),
        (500, 2500, 30000)
    );
    unsafe { arsock_hub_config_init(std::ptr::null_mut()) }; // ignored, no crash
    ok(arsock_close(hub));
}

#[test]
fn wrong_peers_keys_sizes_and_payload_ids_have_clear_statuses() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "r", "a");
        let b = Dev::join(port, "r", "b");
        a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED);
        assert_eq!(a.try_send(999, b"x"), ARSOCK_ERR_NOT_FOUND);
        assert_eq!(a.try_send(a.id, b"x"), ARSOCK_ERR_INVALID_ARGUMENT);
        let huge = vec![0u8; ARSOCK_SESSION_MAX_MESSAGE + 1];
        assert_eq!(a.try_send(0, &huge), ARSOCK_ERR_MESSAGE_TOO_LARGE);
        assert_eq!(
            unsafe { arsock_session_send(a.h, 0, std::ptr::null(), 5) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        let value = vec![0u8; 65 * 1024];
        let key = cstr("k");
        let set = |k: &std::ffi::CString, v: &[u8]| unsafe {
            arsock_session_set_state(a.h, k.as_ptr(), v.as_ptr(), v.len())
        };
        assert_eq!(set(&key, &value), ARSOCK_ERR_INVALID_ARGUMENT);
        assert!(last_error().contains("65536"), "{}", last_error());
        assert_eq!(set(&cstr(""), b"v"), ARSOCK_ERR_INVALID_ARGUMENT);
        assert_eq!(
            set(&cstr(&"k".repeat(256)), b"v"),
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        ok(set(&key, &value[..64 * 1024]));
        let mut len = 0;
        let st = unsafe {
            arsock_session_get_state(
                a.h,
                cstr("none").as_ptr(),
                std::ptr::null_mut(),
                0,
                &mut len,
            )
        };
        assert_eq!(st, ARSOCK_ERR_NOT_FOUND);
        a.until(T, |e| e.kind == ARSOCK_EVENT_STATE_CHANGED);
        let mut small = [0u8; 10];
        let st = unsafe {
            arsock_session_get_state(a.h, key.as_ptr(), small.as_mut_ptr(), small.len(), &mut len)
        };
        assert_eq!((st, len), (ARSOCK_ERR_BUFFER_TOO_SMALL, 64 * 1024));
        let mut name = [0u8; 1];
        let st = unsafe { arsock_session_peer_name(a.h, b.id, std::ptr::null_mut(), 0, &mut len) };
        assert_eq!((st, len), (ARSOCK_ERR_BUFFER_TOO_SMALL, 1));
        let st = unsafe { arsock_session_peer_name(a.h, 777, name.as_mut_ptr(), 1, &mut len) };
        assert_eq!(st, ARSOCK_ERR_NOT_FOUND);

        // Payload ids live until the next poll.
        b.send(a.id, b"twelve bytes");
        let mut ev = [arsock_event::default(); 1];
        let mut n = 0;
        let msg = loop {
            ok(unsafe { arsock_session_poll(a.h, ev.as_mut_ptr(), 1, 5000, &mut n) });
            if ev[0].kind == ARSOCK_EVENT_MESSAGE {
                break ev[0];
            }
        };
        let st = unsafe { arsock_session_read(a.h, msg.payload, small.as_mut_ptr(), 5, &mut len) };
        assert_eq!((st, len), (ARSOCK_ERR_BUFFER_TOO_SMALL, 12));
        let mut buf = [0u8; 64];
        ok(unsafe { arsock_session_read(a.h, msg.payload, buf.as_mut_ptr(), buf.len(), &mut len) });
        assert_eq!(&buf[..len], b"twelve bytes");
        ok(unsafe { arsock_session_read(a.h, msg.payload, buf.as_mut_ptr(), buf.len(), &mut len) });
        assert_eq!(
            unsafe { arsock_session_poll(a.h, ev.as_mut_ptr(), 1, 0, &mut n) },
            ARSOCK_ERR_TIMEOUT
        );
        let st =
            unsafe { arsock_session_read(a.h, msg.payload, buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(st, ARSOCK_ERR_NOT_FOUND);
        assert_eq!(
            unsafe { arsock_session_read(a.h, 0, buf.as_mut_ptr(), 1, &mut len) },
            ARSOCK_ERR_NOT_FOUND
        );
        assert_eq!(
            unsafe { arsock_session_poll(a.h, ev.as_mut_ptr(), 0, 0, &mut n) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            unsafe { arsock_session_poll(a.h, ev.as_mut_ptr(), 1, -2, &mut n) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_closed_session_or_hub_handle_and_wrong_handle_kinds_are_invalid_handles() {
    let (hub, port) = hub();
    let d = Dev::join(port, "r", "a");
    let mut p = 0u16;
    assert_eq!(
        unsafe { arsock_hub_local_port(d.h, &mut p) },
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert!(last_error().contains("session"), "{}", last_error());
    assert_eq!(
        unsafe { arsock_session_send(hub, 0, std::ptr::null(), 0) },
        ARSOCK_ERR_INVALID_HANDLE
    );
    ok(arsock_close(d.h));
    assert_eq!(arsock_close(d.h), ARSOCK_ERR_INVALID_HANDLE);
    let mut id = 0;
    let mut n = 0;
    let mut ev = [arsock_event::default(); 1];
    assert_eq!(
        unsafe { arsock_session_peer_id(d.h, &mut id) },
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(
        unsafe { arsock_session_poll(d.h, ev.as_mut_ptr(), 1, 0, &mut n) },
        ARSOCK_ERR_INVALID_HANDLE
    );
    assert_eq!(d.try_send(0, b"x"), ARSOCK_ERR_INVALID_HANDLE);
    ok(arsock_close(hub));
    assert_eq!(
        unsafe { arsock_hub_local_port(hub, &mut p) },
        ARSOCK_ERR_INVALID_HANDLE
    );
}

#[test]
fn before_joined_calls_are_state_and_after_the_end_they_are_closed() {
    within(Duration::from_secs(30), || {
        // A "hub" that accepts and never answers: the session stays before JOINED.
        let mute = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = mute.local_addr().unwrap().port();
        let mut cfg: arsock_session_config = unsafe { std::mem::zeroed() };
        unsafe { arsock_session_config_init(&mut cfg) };
        cfg.connect_timeout_ms = 500;
        let (st, h) = open_status(port, b"r", Some(&cfg));
        ok(st);
        let mut id = 0;
        assert_eq!(
            unsafe { arsock_session_peer_id(h, &mut id) },
            ARSOCK_ERR_STATE
        );
        let d = Dev {
            h,
            id: 0,
            backlog: Default::default(),
        };
        assert_eq!(d.try_send(0, b"x"), ARSOCK_ERR_STATE);
        // No WELCOME within connect_timeout_ms: one DISCONNECTED(NETWORK), then it is over.
        let mut d = d;
        let e = d.next(T).unwrap();
        assert_eq!(
            (e.kind, e.reason, e.flags),
            (ARSOCK_EVENT_DISCONNECTED, ARSOCK_REASON_NETWORK, 0)
        );
        assert_eq!(d.try_send(0, b"x"), ARSOCK_ERR_CLOSED);
        assert_eq!(
            unsafe { arsock_session_peer_id(h, &mut id) },
            ARSOCK_ERR_CLOSED
        );
        assert_eq!(d.get("k"), Err(ARSOCK_ERR_CLOSED));
        assert!(
            d.next(Duration::from_millis(300)).is_none(),
            "nothing after the last event"
        );
        d.close();
        drop(mute);

        // Nobody listening: one DISCONNECTED(NETWORK).
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (st, h) = open_status(port, b"r", None);
        ok(st);
        let mut d = Dev {
            h,
            id: 0,
            backlog: Default::default(),
        };
        let e = d.next(T).unwrap();
        assert_eq!(
            (e.kind, e.reason),
            (ARSOCK_EVENT_DISCONNECTED, ARSOCK_REASON_NETWORK)
        );
        d.close();
    });
}

#[test]
fn auth_and_room_full_are_refused_with_their_reasons() {
    within(Duration::from_secs(30), || {
        let token = cstr("s3cret");
        let (hub, port) = hub_with(|c| {
            c.token = token.as_ptr();
            c.max_peers_per_room = 1;
        });
        for t in [None, Some("wrong")] {
            let mut d = Dev {
                h: open_with(port, "r", "x", t),
                id: 0,
                backlog: Default::default(),
            };
            let e = d.next(T).unwrap();
            assert_eq!(
                (e.kind, e.reason),
                (ARSOCK_EVENT_REJECTED, ARSOCK_REASON_AUTH)
            );
            assert_eq!(d.try_send(0, b"x"), ARSOCK_ERR_CLOSED);
            d.close();
        }
        let a = Dev::join_with(port, "r", "a", Some("s3cret"));
        let mut full = Dev {
            h: open_with(port, "r", "b", Some("s3cret")),
            id: 0,
            backlog: Default::default(),
        };
        let e = full.next(T).unwrap();
        assert_eq!(
            (e.kind, e.reason),
            (ARSOCK_EVENT_REJECTED, ARSOCK_REASON_ROOM_FULL)
        );
        full.close();
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn concurrent_polls_each_honour_their_timeout_and_close_wakes_a_blocked_poll() {
    within(Duration::from_secs(30), || {
        let (hub, port) = hub();
        let d = Dev::join(port, "r", "a");
        let h = d.h;
        let pollers: Vec<_> = (0..3)
            .map(|_| {
                std::thread::spawn(move || {
                    let mut ev = [arsock_event::default(); 4];
                    let mut n = 0;
                    unsafe { arsock_session_poll(h, ev.as_mut_ptr(), 4, 200, &mut n) }
                })
            })
            .collect();
        for p in pollers {
            assert_eq!(p.join().unwrap(), ARSOCK_ERR_TIMEOUT);
        }
        let blocked = std::thread::spawn(move || {
            let mut ev = [arsock_event::default(); 4];
            let mut n = 0;
            unsafe { arsock_session_poll(h, ev.as_mut_ptr(), 4, -1, &mut n) }
        });
        std::thread::sleep(Duration::from_millis(100));
        ok(arsock_close(h));
        let st = blocked.join().unwrap();
        assert!(
            st == ARSOCK_ERR_CLOSED || st == ARSOCK_ERR_INVALID_HANDLE,
            "{st:?}"
        );
        ok(arsock_close(hub));
    });
}
