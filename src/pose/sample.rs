//! Sampling an entity's recent poses at a render time: interpolate between the samples that
//! bracket it, extrapolate a little past the newest, hold before the oldest.

use super::quat;
use super::Pose;

/// How far past its newest pose an entity is extrapolated; later times hold the value
/// reached here (no jump back).
pub const MAX_EXTRAPOLATION_US: i64 = 100_000;
/// Velocities come from the newest pose and the latest earlier one at least this much older
/// (normally the previous pose); closer samples would turn noise into speed.
pub const MIN_VELOCITY_SPAN_US: i64 = 1_000;

fn lerp3(a: [f32; 3], b: [f32; 3], t: f64) -> [f32; 3] {
    let f = |i: usize| (a[i] as f64 + (b[i] as f64 - a[i] as f64) * t) as f32;
    [f(0), f(1), f(2)]
}

fn span(a: i64, b: i64) -> f64 {
    (b as i128 - a as i128) as f64
}

/// The pose of one entity at `render_time_us`, from its `history`: poses of that entity
/// sorted by `time_us` ascending with distinct times (as [`super::table::PoseTable`] keeps
/// them). `None` for an empty history.
///
/// - Before (or at) the oldest: the oldest, held.
/// - Between two samples: position linear, rotation slerp on the shorter arc.
/// - Past the newest: extrapolated with the linear and angular velocity between the newest
///   and the previous sample (see [`MIN_VELOCITY_SPAN_US`]) for at most
///   [`MAX_EXTRAPOLATION_US`], then held; with no usable previous sample, the newest, held.
///
/// The result has `time_us = render_time_us`, the peer and entity of the history, and the
/// `seq` and `flags` of the sample at or after the render time (the newest when past it).
pub fn sample(history: &[Pose], render_time_us: i64) -> Option<Pose> {
    let oldest = history.first()?;
    let newest = history.last()?;
    let t = render_time_us;
    let at = |from: &Pose, position: [f32; 3], rotation: [f32; 4]| Pose {
        time_us: t,
        position,
        rotation,
        ..*from
    };
    if t <= oldest.time_us {
        return Some(at(oldest, oldest.position, oldest.rotation));
    }
    if t <= newest.time_us {
        // First sample at or after t; it has a predecessor because t > oldest.
        let i = history.iter().position(|p| p.time_us >= t)?;
        let (a, b) = (&history[i.checked_sub(1)?], &history[i]);
        if b.time_us == t {
            return Some(at(b, b.position, b.rotation));
        }
        let f = span(a.time_us, t) / span(a.time_us, b.time_us);
        let rotation = quat::slerp(quat::widen(a.rotation), quat::widen(b.rotation), f);
        return Some(at(
            b,
            lerp3(a.position, b.position, f),
            quat::narrow(rotation),
        ));
    }
    let prev = history
        .iter()
        .rev()
        .find(|p| span(p.time_us, newest.time_us) >= MIN_VELOCITY_SPAN_US as f64);
    let Some(prev) = prev else {
        return Some(at(newest, newest.position, newest.rotation));
    };
    let ahead = span(newest.time_us, t).min(MAX_EXTRAPOLATION_US as f64);
    let f = 1.0 + ahead / span(prev.time_us, newest.time_us);
    let rotation = quat::slerp(quat::widen(prev.rotation), quat::widen(newest.rotation), f);
    Some(at(
        newest,
        lerp3(prev.position, newest.position, f),
        quat::narrow(rotation),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_PI_2;

    /// A pose at `t` ms, at x = `x` m, rotated `deg` degrees about z.
    fn p(t_ms: i64, x: f32, deg: f64, seq: u32) -> Pose {
        let half = deg.to_radians() / 2.0;
        Pose {
            peer: 3,
            entity: 4,
            time_us: t_ms * 1000,
            position: [x, 0.0, 0.0],
            rotation: [0.0, 0.0, half.sin() as f32, half.cos() as f32],
            seq,
            flags: seq * 10,
        }
    }

    fn yaw_deg(q: [f32; 4]) -> f64 {
        let q = quat::widen(q);
        (2.0 * q[2].atan2(q[3])).to_degrees()
    }

    #[test]
    fn empty_history_samples_nothing() {
        assert_eq!(sample(&[], 5), None);
    }

    #[test]
    fn before_oldest_holds_oldest() {
        let h = [p(100, 1.0, 0.0, 1), p(110, 2.0, 10.0, 2)];
        let s = sample(&h, 50_000).unwrap();
        assert_eq!(s.position, [1.0, 0.0, 0.0]);
        assert_eq!(s.rotation, h[0].rotation);
        assert_eq!(
            (s.time_us, s.seq, s.flags, s.peer, s.entity),
            (50_000, 1, 10, 3, 4)
        );
    }

    #[test]
    fn between_samples_interpolates_position_and_rotation() {
        let h = [
            p(100, 1.0, 0.0, 1),
            p(110, 2.0, 20.0, 2),
            p(120, 4.0, 40.0, 3),
        ];
        let s = sample(&h, 115_000).unwrap();
        assert!((s.position[0] - 3.0).abs() < 1e-6);
        assert!((yaw_deg(s.rotation) - 30.0).abs() < 1e-4);
        assert_eq!((s.seq, s.flags), (3, 30), "seq/flags of the sample after");
        let s = sample(&h, 102_500).unwrap();
        assert!((s.position[0] - 1.25).abs() < 1e-6);
        assert!((yaw_deg(s.rotation) - 5.0).abs() < 1e-4);
    }

    #[test]
    fn at_a_sample_time_returns_that_sample() {
        let h = [
            p(100, 1.0, 0.0, 1),
            p(110, 2.0, 20.0, 2),
            p(120, 4.0, 40.0, 3),
        ];
        let s = sample(&h, 110_000).unwrap();
        assert_eq!(
            (s.position, s.rotation, s.seq),
            (h[1].position, h[1].rotation, 2)
        );
    }

    #[test]
    fn interpolation_takes_the_shorter_arc() {
        // 170° and -170° are 20° apart through 180°.
        let h = [p(0, 0.0, 170.0, 1), p(10, 0.0, -170.0, 2)];
        let s = sample(&h, 5_000).unwrap();
        assert!((yaw_deg(s.rotation).abs() - 180.0).abs() < 1e-3);
    }

    #[test]
    fn past_newest_extrapolates_with_last_two_velocities() {
        // 1 m and 10° per 10 ms from the last two; the first sample must not matter.
        let h = [
            p(0, -50.0, 90.0, 1),
            p(100, 1.0, 0.0, 2),
            p(110, 2.0, 10.0, 3),
        ];
        let s = sample(&h, 140_000).unwrap();
        assert!((s.position[0] - 5.0).abs() < 1e-5);
        assert!((yaw_deg(s.rotation) - 40.0).abs() < 1e-3);
        assert_eq!((s.seq, s.flags, s.time_us), (3, 30, 140_000));
    }

    #[test]
    fn extrapolation_stops_at_100_ms_and_holds_without_jumping_back() {
        let h = [p(100, 1.0, 0.0, 1), p(110, 2.0, 1.0, 2)];
        let at_limit = sample(&h, 210_000).unwrap();
        assert!((at_limit.position[0] - 12.0).abs() < 1e-5);
        assert!((yaw_deg(at_limit.rotation) - 11.0).abs() < 1e-3);
        for later in [210_001, 250_000, 10_000_000, i64::MAX] {
            let s = sample(&h, later).unwrap();
            assert_eq!(
                (s.position, s.rotation),
                (at_limit.position, at_limit.rotation)
            );
        }
    }

    #[test]
    fn extrapolated_rotation_keeps_the_angular_velocity_past_180_degrees() {
        // 90° per 10 ms: 100 ms ahead is 900° further, i.e. 180° from the newest (mod 360).
        let h = [p(0, 0.0, 0.0, 1), p(10, 0.0, 90.0, 2)];
        let s = sample(&h, 110_000).unwrap();
        let newest = quat::widen(h[1].rotation);
        let got = quat::widen(s.rotation);
        assert!((quat::angle_between(newest, got) - 2.0 * FRAC_PI_2).abs() < 1e-3);
    }

    #[test]
    fn single_sample_holds_past_newest() {
        let h = [p(100, 1.0, 30.0, 1)];
        let s = sample(&h, 150_000).unwrap();
        assert_eq!((s.position, s.rotation), (h[0].position, h[0].rotation));
    }

    #[test]
    fn velocity_skips_samples_closer_than_one_ms() {
        // The newest is 0.5 ms after the previous; velocity comes from 100 → 110.5 ms.
        let mut h = [
            p(100, 1.0, 0.0, 1),
            p(110, 2.0, 0.0, 2),
            p(110, 2.05, 0.0, 3),
        ];
        h[2].time_us = 110_500;
        let s = sample(&h, 131_500).unwrap();
        // 1.05 m per 10.5 ms = 0.1 m/ms; 21 ms ahead of 2.05 m.
        assert!((s.position[0] - 4.15).abs() < 1e-5);
        let close = [h[1], h[2]];
        let held = sample(&close, 131_500).unwrap();
        assert_eq!(held.position, h[2].position, "no usable velocity: hold");
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let mut h = [p(0, 1.0, 0.0, 1), p(0, 2.0, 0.0, 2)];
        h[0].time_us = i64::MIN;
        h[1].time_us = i64::MAX;
        let s = sample(&h, 0).unwrap();
        assert!(s.position[0].is_finite() && (s.position[0] - 1.5).abs() < 1e-3);
        assert!(sample(&h, i64::MIN).is_some());
    }
}
