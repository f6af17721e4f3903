//! Unit tests of the clock estimator, most against a simulated hub: a hub clock with a known
//! offset (and drift) from the device's, and a network with chosen delays. Deterministic.

use super::*;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn around(&mut self, mean: f64, spread: f64) -> f64 {
        (mean + spread * (2.0 * self.unit() - 1.0)).max(0.0)
    }
}

/// A device and a hub. Local time is true time; the hub reads `local·(1 + drift) + offset`.
struct Sim {
    offset_us: f64,
    drift_ppm: f64,
    /// Delays in µs: each way `base ± jitter`, plus `asymmetry` on the way to the hub.
    base_us: f64,
    jitter_us: f64,
    asymmetry_us: f64,
    rng: Rng,
}

/// One observation: local time, error of room time against the truth, reported bound.
struct Obs {
    local: i64,
    room: i64,
    error: i64,
    bound: i64,
}

impl Sim {
    fn new(offset_us: f64, base_us: f64, jitter_us: f64, asymmetry_us: f64) -> Self {
        Sim {
            offset_us,
            drift_ppm: 0.0,
            base_us,
            jitter_us,
            asymmetry_us,
            rng: Rng(42),
        }
    }

    fn hub(&self, local: f64) -> i64 {
        (local * (1.0 + self.drift_ppm * 1e-6) + self.offset_us).floor() as i64
    }

    /// One exchange sent at local `t0`: (t0, t1, t2, t3).
    fn exchange(&mut self, t0: i64) -> (i64, i64, i64, i64) {
        let d1 = self.rng.around(self.base_us, self.jitter_us) + self.asymmetry_us;
        let d2 = self.rng.around(self.base_us, self.jitter_us);
        let hold = 20.0; // the hub's own processing, µs
        let t1 = self.hub(t0 as f64 + d1);
        let t2 = self.hub(t0 as f64 + d1 + hold);
        let t3 = (t0 as f64 + d1 + hold + d2).ceil() as i64;
        (t0, t1, t2, t3)
    }

    /// Run for `duration_us` of local time from 1 s, pinging on the estimator's schedule (one
    /// ping in flight at a time) and reading room time every `read_every_us`.
    fn run(&mut self, est: &mut ClockEstimator, duration_us: i64, read_every_us: i64) -> Vec<Obs> {
        let start = 1_000_000;
        let mut obs = Vec::new();
        let mut next_ping = start;
        let mut in_flight: Option<(i64, i64, i64, i64)> = None;
        let mut local = start;
        while local < start + duration_us {
            if let Some(x) = in_flight {
                if x.3 <= local {
                    est.on_pong(x.0, x.1, x.2, x.3);
                    in_flight = None;
                    next_ping = x.3 + est.ping_interval_us();
                }
            }
            if in_flight.is_none() && local >= next_ping {
                in_flight = Some(self.exchange(local));
            }
            if let Some(t) = est.now(local) {
                let truth = self.hub(local as f64);
                obs.push(Obs {
                    local: local - start,
                    room: t.room_us,
                    error: t.room_us - truth,
                    bound: t.error_bound_us,
                });
            }
            local += read_every_us;
        }
        obs
    }
}

/// p-quantile of |error| over observations at or after `from_us`.
fn quantile_abs_error(obs: &[Obs], from_us: i64, q: f64) -> i64 {
    let mut e: Vec<i64> = obs
        .iter()
        .filter(|o| o.local >= from_us)
        .map(|o| o.error.abs())
        .collect();
    e.sort_unstable();
    e[((e.len() - 1) as f64 * q) as usize]
}

fn report(name: &str, obs: &[Obs], from_us: i64) {
    println!(
        "{name}: {} reads; |error| after {} s p50 {} µs p99 {} µs max {} µs; bound covers {:.4}",
        obs.len(),
        from_us / 1_000_000,
        quantile_abs_error(obs, from_us, 0.5),
        quantile_abs_error(obs, from_us, 0.99),
        quantile_abs_error(obs, from_us, 1.0),
        coverage(obs)
    );
}

fn coverage(obs: &[Obs]) -> f64 {
    obs.iter().filter(|o| o.error.abs() <= o.bound).count() as f64 / obs.len() as f64
}

fn assert_monotonic(obs: &[Obs]) {
    for w in obs.windows(2) {
        assert!(
            w[1].room >= w[0].room,
            "room time went back at {}",
            w[1].local
        );
    }
}

#[test]
fn quiet_link_error_p99_within_100_us_after_2_s() {
    let mut sim = Sim::new(123_456_789.0, 40.0, 15.0, 0.0);
    let mut est = ClockEstimator::new(ClockConfig::default());
    let obs = sim.run(&mut est, 10_000_000, 1_000);
    report("quiet", &obs, 2_000_000);
    let p99 = quantile_abs_error(&obs, 2_000_000, 0.99);
    assert!(p99 <= 100, "p99 {p99} µs");
    assert_eq!(coverage(&obs), 1.0);
    assert_monotonic(&obs);
}

#[test]
fn jittery_link_error_within_2_ms_after_10_s() {
    // 50 ± 20 ms each way, independently.
    let mut sim = Sim::new(-987_654_321.0, 50_000.0, 20_000.0, 0.0);
    let mut est = ClockEstimator::new(ClockConfig::default());
    let obs = sim.run(&mut est, 30_000_000, 1_000);
    report("jitter 50±20 ms", &obs, 10_000_000);
    let worst = quantile_abs_error(&obs, 10_000_000, 1.0);
    assert!(worst <= 2_000, "worst {worst} µs after 10 s");
    assert_eq!(coverage(&obs), 1.0);
    assert_monotonic(&obs);
}

#[test]
fn bound_covers_the_true_error_with_20_ms_one_way_asymmetry() {
    let mut sim = Sim::new(5_000_000.0, 1_000.0, 500.0, 20_000.0);
    let mut est = ClockEstimator::new(ClockConfig::default());
    let obs = sim.run(&mut est, 20_000_000, 1_000);
    report("asymmetry +20 ms", &obs, 5_000_000);
    // Asymmetry cannot be seen from the timestamps: the error is about 10 ms, and the bound
    // must say so.
    assert!(quantile_abs_error(&obs, 5_000_000, 0.5) > 5_000);
    assert!(coverage(&obs) >= 0.99, "coverage {}", coverage(&obs));
    assert_monotonic(&obs);
}

#[test]
fn bound_covers_drift_within_the_allowance() {
    let mut sim = Sim::new(1_000.0, 300.0, 200.0, 0.0);
    sim.drift_ppm = 40.0;
    let mut est = ClockEstimator::new(ClockConfig::default());
    let obs = sim.run(&mut est, 60_000_000, 5_000);
    report("drift 40 ppm", &obs, 5_000_000);
    assert!(coverage(&obs) >= 0.99, "coverage {}", coverage(&obs));
    assert!(quantile_abs_error(&obs, 5_000_000, 0.99) <= 1_000);
    assert_monotonic(&obs);
}

#[test]
fn first_sample_steps_and_room_time_is_none_before_it() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    assert_eq!(est.now(5), None);
    // 100 µs each way, offset 1 s.
    let out = est.on_pong(1_000, 1_001_100, 1_001_100, 1_200);
    assert_eq!(out, SampleOutcome::Accepted { stepped: true });
    let t = est.now(1_200).unwrap();
    assert_eq!(t.room_us, 1_001_200);
    assert!(t.error_bound_us >= 100 && t.error_bound_us <= 102);
    assert_eq!(est.stats().steps, 1);
}

#[test]
fn small_corrections_slew_by_at_most_one_percent_of_elapsed_time() {
    let mut est = ClockEstimator::new(ClockConfig {
        outliers_to_reset: 1,
        ..ClockConfig::default()
    });
    est.on_pong(0, 10, 10, 20); // offset 0 ± 10
    let before = est.now(20).unwrap().room_us;
    // The hub is now 50 ms ahead (below the 200 ms step threshold): a restart, no step.
    let out = est.on_pong(1_000_000, 1_050_010, 1_050_010, 1_000_020);
    assert_eq!(out, SampleOutcome::Accepted { stepped: false });
    let mut last = (1_000_020, est.now(1_000_020).unwrap().room_us);
    assert!(last.1 > before);
    let mut local = last.0;
    let mut caught_up = false;
    while local < 10_000_000 {
        local += 777;
        let room = est.now(local).unwrap().room_us;
        let gained = (room - last.1) - (local - last.0);
        assert!(
            gained >= 0 && gained <= (local - last.0) / 100 + 1,
            "gained {gained}"
        );
        caught_up |= room == local + 50_000;
        last = (local, room);
    }
    assert!(caught_up, "slewed 50 ms within 9 s (1 % takes 5 s)");
}

#[test]
fn large_offset_change_steps_forward() {
    let mut est = ClockEstimator::new(ClockConfig {
        outliers_to_reset: 1,
        ..ClockConfig::default()
    });
    est.on_pong(0, 10, 10, 20);
    est.now(20);
    let out = est.on_pong(1_000, 501_010, 501_010, 1_020);
    assert_eq!(out, SampleOutcome::Accepted { stepped: true });
    assert_eq!(est.now(1_020).unwrap().room_us, 501_020);
}

#[test]
fn backward_step_holds_room_time_instead_of_decreasing() {
    let mut est = ClockEstimator::new(ClockConfig {
        outliers_to_reset: 1,
        ..ClockConfig::default()
    });
    est.on_pong(0, 1_000_010, 1_000_010, 20); // hub 1 s ahead
    let high = est.now(100).unwrap().room_us;
    assert_eq!(high, 1_000_100);
    // Now the hub is level with the device: step back by 1 s.
    let out = est.on_pong(1_000, 1_010, 1_010, 1_020);
    assert_eq!(out, SampleOutcome::Accepted { stepped: true });
    let held = est.now(2_000).unwrap();
    assert_eq!(held.room_us, high, "held, not decreased");
    assert!(
        held.error_bound_us >= high - 2_000,
        "the hold is in the bound"
    );
    // Room time resumes once the device's clock passes the held value.
    let later = est.now(1_000_200).unwrap();
    assert_eq!(later.room_us, 1_000_200);
    assert!(later.error_bound_us < 100);
}

#[test]
fn invalid_and_too_slow_exchanges_are_rejected() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    let bad = SampleOutcome::Rejected(Rejected::Invalid);
    assert_eq!(est.on_pong(100, 0, 0, 50), bad, "t3 before t0");
    assert_eq!(est.on_pong(0, 10, 5, 50), bad, "t2 before t1");
    assert_eq!(
        est.on_pong(0, 0, 100, 50),
        bad,
        "hub held it longer than the round trip"
    );
    assert_eq!(
        est.on_pong(0, 0, 0, 6_000_000),
        SampleOutcome::Rejected(Rejected::RttTooLarge)
    );
    assert_eq!(
        est.on_pong(i64::MIN, i64::MAX, i64::MAX, i64::MAX),
        SampleOutcome::Rejected(Rejected::RttTooLarge)
    );
    assert_eq!(est.now(0), None);
    assert_eq!(est.stats().invalid, 5);
}

#[test]
fn outliers_are_discarded_and_enough_in_a_row_restart_the_window() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    est.on_pong(0, 1_000_050, 1_000_050, 100); // offset 1 s ± 50 µs
                                               // Two exchanges claiming the hub is 1 s behind that: impossible together with the first.
    for i in 1..=2 {
        let t0 = i * 1_000;
        let out = est.on_pong(t0, t0 + 50, t0 + 50, t0 + 100);
        assert_eq!(out, SampleOutcome::Rejected(Rejected::Outlier));
    }
    assert_eq!(est.now(3_000).unwrap().room_us, 1_003_000);
    // The third in a row: the clocks really moved.
    let out = est.on_pong(3_000, 3_050, 3_050, 3_100);
    assert_eq!(out, SampleOutcome::Accepted { stepped: true });
    assert_eq!(est.stats().outliers, 2);
    assert_eq!(est.stats().resets, 1);
    assert_eq!(
        est.ping_interval_us(),
        100_000,
        "fast again after a restart"
    );
}

#[test]
fn intervals_of_different_exchanges_combine_below_the_minimum_round_trip() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    // True offset 0. One exchange is fast out and slow back, the other the reverse; each
    // has a 1000 µs round trip, and together they pin the offset to ±100 µs.
    est.on_pong(0, 100, 100, 1_000);
    est.on_pong(10_000, 10_900, 10_900, 11_000);
    // The first exchange alone said -400 ± 500: the second moves the estimate by 400 µs,
    // slewed in over 40 ms, and the bound counts what is not slewed in yet.
    let t = est.now(11_000).unwrap();
    assert_eq!(t.room_us, 11_000 - 400);
    assert!(t.error_bound_us >= 500, "{t:?}");
    let t = est.now(100_000).unwrap();
    assert!(t.room_us.abs_diff(100_000) <= 1, "{t:?}");
    assert!(t.error_bound_us <= 110, "{t:?}");
}

#[test]
fn ping_interval_is_fast_while_converging_then_slow() {
    let cfg = ClockConfig::default();
    let mut est = ClockEstimator::new(cfg.clone());
    assert_eq!(est.ping_interval_us(), cfg.fast_interval_us);
    for i in 0..cfg.converge_samples as i64 {
        assert_eq!(est.ping_interval_us(), cfg.fast_interval_us);
        let t0 = i * 100_000;
        est.on_pong(t0, t0 + 50, t0 + 50, t0 + 100);
    }
    assert_eq!(est.ping_interval_us(), cfg.slow_interval_us);
}

#[test]
fn samples_age_out_of_the_window_and_the_bound_grows_with_age() {
    let mut est = ClockEstimator::new(ClockConfig::default());
    est.on_pong(0, 50, 50, 100);
    let fresh = est.now(100).unwrap().error_bound_us;
    let old = est.now(10_000_100).unwrap().error_bound_us;
    // 50 ppm of 10 s = 500 µs more.
    assert!((old - fresh - 500).abs() <= 2, "fresh {fresh} old {old}");
    // 25 s later the first sample has left the window; a new one alone decides.
    est.on_pong(25_000_000, 25_000_040, 25_000_040, 25_000_080);
    let t = est.now(25_000_080).unwrap();
    assert!(t.error_bound_us <= 45, "{t:?}");
}

#[test]
fn hostile_stamps_and_configs_never_panic_and_room_time_never_decreases() {
    let mut rng = Rng(7);
    let extremes = [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX - 1, i64::MAX];
    let pick = |rng: &mut Rng| {
        if rng.unit() < 0.3 {
            extremes[(rng.unit() * extremes.len() as f64) as usize % extremes.len()]
        } else {
            (rng.unit() * 2e6) as i64 - 1_000_000
        }
    };
    let configs = [
        ClockConfig::default(),
        ClockConfig {
            window: 0,
            slew_divisor: i64::MIN,
            drift_ppm: i64::MAX,
            max_rtt_us: i64::MAX,
            max_sample_age_us: i64::MAX,
            step_threshold_us: i64::MAX,
            ..ClockConfig::default()
        },
    ];
    let mut runs = 0;
    for cfg in configs {
        let mut est = ClockEstimator::new(cfg);
        let mut last = i64::MIN;
        for _ in 0..20_000 {
            let (t0, t1, t2, t3) = (
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
                pick(&mut rng),
            );
            est.on_pong(t0, t1, t2, t3);
            if let Some(t) = est.now(pick(&mut rng)) {
                assert!(t.room_us >= last);
                assert!(t.error_bound_us >= 0);
                last = t.room_us;
            }
            runs += 1;
        }
    }
    println!("clock: {runs} hostile exchanges");
}
