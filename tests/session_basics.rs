//! Sessions through the C API: join, presence, messages, state, close.

mod sessions;
use sessions::*;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn two_devices_see_each_other_exchange_messages_and_share_state() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let mut a = Dev::join(port, "room", "alice");
        let mut b = Dev::join(port, "room", "bob");
        assert_ne!(a.id, b.id);
        let seen = a.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED);
        assert_eq!(seen.last().unwrap().peer, b.id);
        // b joined after a: its snapshot names a.
        let seen = b.until(T, |e| e.kind == ARSOCK_EVENT_PEER_JOINED);
        assert_eq!(seen.last().unwrap().peer, a.id);

        a.send(0, b"hello all");
        a.send(b.id, b"hello bob");
        let m1 = b
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!(
            (m1.peer, m1.payload.as_slice(), m1.flags),
            (a.id, &b"hello all"[..], 0)
        );
        let m2 = b
            .until(T, |e| e.kind == ARSOCK_EVENT_MESSAGE)
            .pop()
            .unwrap();
        assert_eq!(
            (m2.payload.as_slice(), m2.flags),
            (&b"hello bob"[..], ARSOCK_MESSAGE_DIRECT)
        );

        b.set("anchor", b"xyz");
        let bid = b.id;
        for d in [&mut a, &mut b] {
            let e = d
                .until(T, |e| e.kind == ARSOCK_EVENT_STATE_CHANGED)
                .pop()
                .unwrap();
            assert_eq!((e.peer, e.payload.as_slice()), (bid, &b"anchor"[..]));
            assert_eq!(d.get("anchor").unwrap(), b"xyz");
        }
        assert_eq!(a.get("nothing"), Err(ARSOCK_ERR_NOT_FOUND));

        b.close();
        let e = a
            .until(T, |e| e.kind == ARSOCK_EVENT_PEER_LEFT)
            .pop()
            .unwrap();
        assert_eq!((e.peer, e.reason), (b.id, ARSOCK_REASON_REMOTE_CLOSE));
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_session_opened_by_host_name_joins() {
    within(Duration::from_secs(30), || {
        // The hub listens on IPv4 only; where "localhost" resolves to ::1 first, the session
        // tries the next address of the same attempt.
        let (hub, port) = hub();
        let host = cstr("localhost");
        let room = cstr("r");
        let mut s = 0;
        ok(unsafe {
            arsock_session_open(host.as_ptr(), port, room.as_ptr(), std::ptr::null(), &mut s)
        });
        let mut d = Dev {
            h: s,
            id: 0,
            backlog: Default::default(),
        };
        let e = d.next(T).unwrap();
        assert_eq!(e.kind, ARSOCK_EVENT_JOINED, "{e:?}");
        d.close();
        ok(arsock_close(hub));
    });
}
