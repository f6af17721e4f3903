//! The room clock through the C API: an error bound that covers the true error (same host,
//! same clock base, so the true offset between hub and device is 0), room time never
//! decreasing, also through a delay proxy with jitter and a one-way asymmetry.

mod sessions;
use sessions::delay::{Delay, DelayProxy};
use sessions::*;
use std::time::{Duration, Instant};

struct Report {
    samples: usize,
    covered: usize,
    errors: Vec<i64>,
    bounds: Vec<i64>,
}

/// Wait for the first estimate, then read the room time every ~2 ms for `span`; each
/// sample's true error is its distance from the hub clock (`arsock::session::now_us`) read
/// just before and after.
fn watch(h: arsock_handle, span: Duration, skip: Duration) -> Report {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let (mut t, mut b) = (0, 0);
        match unsafe { arsock_session_time(h, &mut t, &mut b) } {
            ARSOCK_OK => break,
            ARSOCK_ERR_STATE => {
                assert!(Instant::now() < end, "no estimate in 10 s");
                std::thread::sleep(Duration::from_millis(5));
            }
            s => panic!("{s:?}: {}", last_error()),
        }
    }
    let start = Instant::now();
    let mut r = Report {
        samples: 0,
        covered: 0,
        errors: Vec::new(),
        bounds: Vec::new(),
    };
    let mut last = i64::MIN;
    while start.elapsed() < span {
        let before = arsock::session::now_us();
        let (mut t, mut b) = (0, 0);
        ok(unsafe { arsock_session_time(h, &mut t, &mut b) });
        let after = arsock::session::now_us();
        assert!(t >= last, "room time went back: {last} then {t}");
        assert!(b >= 0);
        last = t;
        if start.elapsed() >= skip {
            let err = if t < before {
                before - t
            } else {
                (t - after).max(0)
            };
            r.samples += 1;
            r.covered += (err <= b) as usize;
            r.errors.push(err);
            r.bounds.push(b);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    r.errors.sort_unstable();
    r.bounds.sort_unstable();
    r
}

fn p99(v: &[i64]) -> i64 {
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

#[test]
fn room_time_never_decreases_and_its_bound_covers_the_true_error_on_loopback() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let a = Dev::join(port, "c1", "a");
        let r = watch(a.h, Duration::from_secs(2), Duration::ZERO);
        println!(
            "loopback: {} samples, p99 error {} us, p99 bound {} us",
            r.samples,
            p99(&r.errors),
            p99(&r.bounds)
        );
        assert_eq!(r.covered, r.samples, "the bound must cover every sample");
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn a_20_ms_one_way_asymmetry_stays_inside_the_reported_bound() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let proxy = DelayProxy::start(
            port,
            Delay {
                base_us: 20_000,
                jitter_us: 1_000,
            },
            Delay {
                base_us: 0,
                jitter_us: 1_000,
            },
        );
        let a = Dev::join(proxy.port, "c2", "a");
        let r = watch(a.h, Duration::from_secs(3), Duration::ZERO);
        println!(
            "asymmetry +20 ms: {} samples, covered {}, p99 error {} us, p99 bound {} us",
            r.samples,
            r.covered,
            p99(&r.errors),
            p99(&r.bounds)
        );
        assert!(
            r.covered * 100 >= r.samples * 99,
            "{} of {}",
            r.covered,
            r.samples
        );
        a.close();
        ok(arsock_close(hub));
    });
}

#[test]
fn jitter_of_50_plus_minus_20_ms_stays_inside_the_reported_bound() {
    within(Duration::from_secs(60), || {
        let (hub, port) = hub();
        let j = Delay {
            base_us: 25_000,
            jitter_us: 10_000,
        };
        let proxy = DelayProxy::start(port, j, j);
        let a = Dev::join(proxy.port, "c3", "a");
        let r = watch(a.h, Duration::from_secs(4), Duration::from_secs(2));
        println!(
            "50±20 ms round trip: {} samples after 2 s, covered {}, p99 error {} us, p99 bound {} us",
            r.samples,
            r.covered,
            p99(&r.errors),
            p99(&r.bounds)
        );
        assert!(
            r.covered * 100 >= r.samples * 99,
            "{} of {}",
            r.covered,
            r.samples
        );
        a.close();
        ok(arsock_close(hub));
    });
}
