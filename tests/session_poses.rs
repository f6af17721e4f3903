//! Poses in a session through the C API: newest-only delivery, wire precision, validation,
//! latest/sample semantics, snapshot and departure, and a reader that stops.

mod sessions;
use arsock::pose::quat::{angle_between, widen};
use sessions::*;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn pose(entity: u32, time_us: i64, position: [f32; 3], rotation: [f32; 4]) -> arsock_pose {
    arsock_pose {
        peer: 0,
        entity,
        time_us,
        position,
        rotation,
        seq: 0,
        flags: 0,
        reserved: 0,
    }
}

fn send(d: &Dev, poses: &[arsock_pose]) -> arsock_status {
    unsafe { arsock_session_send_poses(d.h, poses.as_ptr(), poses.len()) }
}

fn latest(h: arsock_handle) -> Vec<arsock_pose> {
    let mut out = vec![arsock_pose::default(); 1024];
    let mut n = 0;
    ok(unsafe { arsock_session_latest_poses(h, out.as_mut_ptr(), out.len(), &mut n) });
    out.truncate(n);
    out
}

fn sample(h: arsock_handle, t: i64) -> Vec<arsock_pose> {
    let mut out = vec![arsock_pose::default(); 1024];
    let mut n = 0;
    ok(unsafe { arsock_session_sample_poses(h, t, out.as_mut_ptr(), out.len(), &mut n) });
    out.truncate(n);
    out
}

/// Wait (bounded) until `pred` holds for the device's latest poses.
fn latest_until(
    h: arsock_handle,
    mut pred: impl FnMut(&[arsock_pose]) -> bool,
) -> Vec<arsock_pose> {
    let end = Instant::now() + T;
    loop {
        let v = latest(h);
        if pred(&v) {
            return v;
        }
        assert!(Instant::now() < end, "condition not met; latest = {v:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn room_now(h: arsock_handle) -> i64 {
    let end = Instant::now() + T;
    loop {
        let (mut t, mut b) = (0, 0);
        match unsafe { arsock_session_time(h, &mut t, &mut b) } {
            ARSOCK_OK => return t,
            ARSOCK_ERR_STATE => {
                assert!(Instant::now() < end, "no clock estimate");
                std::thread::sleep(Duration::from_millis(5));
            }
            s => panic!("arsock_session_time: {s:?} {}", last_error()),
        }
    }
}

#[test]
fn poses_arrive_within_a_tenth_of_a_millimetre_and_2e_4_rad_with_peer_seq_and_time() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p1", "a");
        let b = Dev::join(port, "p1", "b");
        let s = 0.5f32.sqrt();
        let q = [0.1f32, -0.7, 0.3, 0.64];
        let sent = [
            pose(
                1,
                1_000_123,
                [1.23456, -0.00004, 199_999.5],
                [0.0, s, 0.0, s],
            ),
            pose(2, 0, [-3.0001, 2.5, 0.0], q),
        ];
        let before = room_now(a.h);
        ok(send(&a, &sent));
        let after = room_now(a.h);
        let got = latest_until(b.h, |v| v.len() == 2);
        for (g, s) in got.iter().zip(&sent) {
            assert_eq!((g.peer, g.entity, g.seq, g.flags), (a.id, s.entity, 1, 0));
            for i in 0..3 {
                let err = (g.position[i] as f64 - s.position[i] as f64).abs();
                // 0.05 mm of rounding, plus f32 spacing at the magnitude sent.
                let ulp = (s.position[i].abs() as f64) * f32::EPSILON as f64;
                assert!(err <= 1e-4 + ulp, "{g:?} vs {s:?}");
            }
            let want = arsock::pose::quat::normalise(widen(s.rotation));
            assert!(angle_between(widen(g.rotation), want) <= 2e-4, "{g:?}");
        }
        assert_eq!(got[0].time_us, 1_000_123);
        // time_us 0 = now, in room time.
        assert!(
            got[1].time_us >= before - 100 && got[1].time_us <= after + 100,
            "{got:?}"
        );
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn bad_poses_are_refused_with_invalid_argument_and_nothing_is_sent() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p2", "a");
        let b = Dev::join(port, "p2", "b");
        let id = [0.0, 0.0, 0.0, 1.0];
        let good = pose(1, 0, [0.0; 3], id);
        let bad = [
            pose(2, 0, [f32::NAN, 0.0, 0.0], id),
            pose(2, 0, [0.0, f32::INFINITY, 0.0], id),
            pose(2, 0, [0.0, 0.0, 200_001.0], id),
            pose(2, 0, [0.0; 3], [0.0, 0.0, 0.0, 0.49]),
            pose(2, 0, [0.0; 3], [0.0, 0.0, 0.0, 2.01]),
            pose(2, 0, [0.0; 3], [0.0, f32::NAN, 0.0, 1.0]),
        ];
        for p in bad {
            assert_eq!(send(&a, &[good, p]), ARSOCK_ERR_INVALID_ARGUMENT, "{p:?}");
            assert!(!last_error().is_empty());
        }
        assert_eq!(
            unsafe { arsock_session_send_poses(a.h, std::ptr::null(), 1) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        let many = vec![good; ARSOCK_SESSION_MAX_POSES + 1];
        assert_eq!(send(&a, &many), ARSOCK_ERR_INVALID_ARGUMENT);
        let too_many_entities: Vec<_> = (0..=ARSOCK_POSE_MAX_ENTITIES as u32)
            .map(|e| pose(100 + e, 0, [0.0; 3], id))
            .collect();
        assert_eq!(send(&a, &too_many_entities), ARSOCK_ERR_INVALID_ARGUMENT);
        // The handle stays usable; only what was accepted arrives, with seq 1 (the refused
        // calls stamped nothing).
        ok(send(&a, &[pose(3, 0, [1.0, 0.0, 0.0], id)]));
        let got = latest_until(b.h, |v| !v.is_empty());
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!((got[0].entity, got[0].seq), (3, 1));
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn latest_and_sample_report_buffer_too_small_with_the_count_needed() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p3", "a");
        let b = Dev::join(port, "p3", "b");
        let id = [0.0, 0.0, 0.0, 1.0];
        let poses: Vec<_> = (0..5).map(|e| pose(e, 0, [e as f32; 3], id)).collect();
        ok(send(&a, &poses));
        latest_until(b.h, |v| v.len() == 5);
        let mut out = [arsock_pose::default(); 4];
        let mut n = 0;
        let st = unsafe { arsock_session_latest_poses(b.h, out.as_mut_ptr(), 4, &mut n) };
        assert_eq!((st, n), (ARSOCK_ERR_BUFFER_TOO_SMALL, 5));
        let mut n = 0;
        let st = unsafe { arsock_session_sample_poses(b.h, 0, std::ptr::null_mut(), 0, &mut n) };
        assert_eq!((st, n), (ARSOCK_ERR_BUFFER_TOO_SMALL, 5));
        let mut n = 0;
        let st =
            unsafe { arsock_session_latest_poses(b.h, out.as_mut_ptr(), 4, std::ptr::null_mut()) };
        assert_eq!(st, ARSOCK_ERR_INVALID_ARGUMENT);
        // A device with no remote poses reports 0 with a NULL buffer.
        ok(unsafe { arsock_session_latest_poses(a.h, std::ptr::null_mut(), 0, &mut n) });
        assert_eq!(n, 0);
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn sample_interpolates_extrapolates_at_most_100_ms_then_holds() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p4", "a");
        let b = Dev::join(port, "p4", "b");
        let id = [0.0, 0.0, 0.0, 1.0];
        let t0 = 5_000_000i64;
        // Only the newest pose is ever sent: wait for the first before sending the second.
        ok(send(&a, &[pose(7, t0, [0.0, 0.0, 0.0], id)]));
        latest_until(b.h, |v| v.len() == 1);
        ok(send(&a, &[pose(7, t0 + 100_000, [1.0, 0.0, 0.0], id)]));
        latest_until(b.h, |v| v.len() == 1 && v[0].seq == 2);
        let x = |t: i64| {
            let v = sample(b.h, t);
            assert_eq!(v.len(), 1);
            assert_eq!(v[0].time_us, t);
            v[0].position[0]
        };
        let close = |a: f32, b: f32| (a - b).abs() < 1e-3;
        assert!(
            close(x(t0 - 50_000), 0.0),
            "before the oldest: held ({})",
            x(t0 - 50_000)
        );
        assert!(close(x(t0 + 50_000), 0.5), "interpolated");
        assert!(close(x(t0 + 150_000), 1.5), "extrapolated 50 ms at 10 m/s");
        assert!(close(x(t0 + 200_000), 2.0), "extrapolated the full 100 ms");
        assert!(close(x(t0 + 900_000), 2.0), "then held, no jump back");
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_joiners_snapshot_has_every_newest_pose_and_a_peers_poses_vanish_with_peer_left() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p5", "a");
        let b = Dev::join(port, "p5", "b");
        let id = [0.0, 0.0, 0.0, 1.0];
        for round in 1..=3 {
            let poses: Vec<_> = (0..32)
                .map(|e| pose(e, 0, [round as f32, 0.0, e as f32], id))
                .collect();
            ok(send(&a, &poses));
        }
        ok(send(&b, &[pose(9, 0, [9.0; 3], id)]));
        latest_until(b.h, |v| v.len() == 32 && v.iter().all(|p| p.seq == 3));
        latest_until(a.h, |v| v.len() == 1);
        // c's snapshot: by its JOINED every newest pose is there.
        let mut c = Dev::join(port, "p5", "c");
        let got = latest(c.h);
        assert_eq!(got.len(), 33, "{got:?}");
        assert!(got
            .iter()
            .filter(|p| p.peer == a.id)
            .all(|p| p.seq == 3 && p.position[0] == 3.0));
        assert!(got.iter().any(|p| p.peer == b.id && p.entity == 9));
        a.close();
        let e = c
            .until(T, |e| e.kind == ARSOCK_EVENT_PEER_LEFT)
            .pop()
            .unwrap();
        assert_eq!(e.peer, a.id);
        let got = latest(c.h);
        assert!(got.iter().all(|p| p.peer == b.id), "{got:?}");
        assert_eq!(sample(c.h, 0).len(), 1);
        b.close();
        c.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_device_that_does_not_call_for_a_while_then_sees_the_newest_poses() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "p6", "a");
        let b = Dev::join(port, "p6", "b");
        let id = [0.0, 0.0, 0.0, 1.0];
        let rounds = 90u32;
        for r in 1..=rounds {
            let poses: Vec<_> = (0..4)
                .map(|e| pose(e, 0, [r as f32, 0.0, 0.0], id))
                .collect();
            ok(send(&a, &poses));
            std::thread::sleep(Duration::from_millis(11));
        }
        // b made no call meanwhile; now it sees the newest of each entity, never an older one.
        let mut last = 0;
        let got = latest_until(b.h, |v| {
            for p in v {
                assert!(p.seq >= last || p.entity != 0, "seq went back");
            }
            last = v.iter().find(|p| p.entity == 0).map_or(0, |p| p.seq);
            v.len() == 4 && v.iter().all(|p| p.seq == rounds)
        });
        assert!(got.iter().all(|p| p.position[0] == rounds as f32));
        a.close();
        b.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn pose_clock_and_blob_calls_on_bad_handles_and_unjoined_sessions_get_clear_statuses() {
    within(Duration::from_secs(60), || {
        let id = [0.0, 0.0, 0.0, 1.0];
        let p = pose(1, 0, [0.0; 3], id);
        let key = cstr("k");
        let (mut t, mut b, mut n, mut len) = (0i64, 0i64, 0usize, 0usize);
        let mut out = [arsock_pose::default(); 2];
        for h in [0u64, 999_999] {
            assert_eq!(
                unsafe { arsock_session_send_poses(h, &p, 1) },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe { arsock_session_latest_poses(h, out.as_mut_ptr(), 2, &mut n) },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe { arsock_session_sample_poses(h, 0, out.as_mut_ptr(), 2, &mut n) },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe { arsock_session_time(h, &mut t, &mut b) },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe { arsock_session_put_blob(h, key.as_ptr(), b"x".as_ptr(), 1) },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe {
                    arsock_session_get_blob(h, key.as_ptr(), std::ptr::null_mut(), 0, &mut len)
                },
                ARSOCK_ERR_INVALID_HANDLE
            );
            assert_eq!(
                unsafe { arsock_session_delete_blob(h, key.as_ptr()) },
                ARSOCK_ERR_INVALID_HANDLE
            );
        }
        // A hub handle is not a session.
        let (hub, port) = hub();
        assert_eq!(
            unsafe { arsock_session_send_poses(hub, &p, 1) },
            ARSOCK_ERR_INVALID_HANDLE
        );
        // Not joined yet (a listener that never answers): STATE, and nothing was sent.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = open_with(silent.local_addr().unwrap().port(), "r", "early", None);
        assert_eq!(
            unsafe { arsock_session_send_poses(s, &p, 1) },
            ARSOCK_ERR_STATE
        );
        assert_eq!(
            unsafe { arsock_session_time(s, &mut t, &mut b) },
            ARSOCK_ERR_STATE
        );
        assert_eq!(
            unsafe { arsock_session_put_blob(s, key.as_ptr(), b"x".as_ptr(), 1) },
            ARSOCK_ERR_STATE
        );
        ok(unsafe { arsock_session_latest_poses(s, out.as_mut_ptr(), 2, &mut n) });
        assert_eq!(n, 0);
        // NULL out-pointers.
        assert_eq!(
            unsafe { arsock_session_time(s, std::ptr::null_mut(), &mut b) },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        assert_eq!(
            unsafe {
                arsock_session_get_blob(
                    s,
                    key.as_ptr(),
                    std::ptr::null_mut(),
                    0,
                    std::ptr::null_mut(),
                )
            },
            ARSOCK_ERR_INVALID_ARGUMENT
        );
        ok(arsock_close(s));
        // A closed session's handle is gone.
        assert_eq!(
            unsafe { arsock_session_send_poses(s, &p, 1) },
            ARSOCK_ERR_INVALID_HANDLE
        );
        let a = Dev::join(port, "r", "a");
        a.close();
        assert_eq!(
            unsafe { arsock_session_time(a.h, &mut t, &mut b) },
            ARSOCK_ERR_INVALID_HANDLE
        );
        ok(arsock_close(hub));
    });
}
