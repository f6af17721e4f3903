//! Simulated devices for `bots` and `demo` (and the viewer's browser test): plausible head
//! poses of people walking around a room, as pure functions of time, so a bot's pose at any
//! moment is reproducible from its seed.
//!
//! Coordinates as in [`crate::view`]: metres, y up, x right, z towards the viewer; the room is
//! centred on the origin. Rotations are unit quaternions `[x, y, z, w]` as in `arsock_pose`.

use std::f64::consts::TAU;

/// Fastest walking speed a walker reaches (m/s).
pub const MAX_SPEED: f64 = 1.4;

/// Names the simulated devices get, in order (the list repeats with a number after 8).
pub const NAMES: [&str; 8] = [
    "Vision Pro · Ana",
    "Quest 3 · Ben",
    "iPhone 15 · Chloe",
    "Pixel 8 · Dev",
    "iPad Pro · Eli",
    "Quest 3 · Fay",
    "Galaxy S24 · Gus",
    "HoloLens 2 · Hana",
];

/// The display name of simulated device `index` (0-based).
pub fn device_name(index: usize) -> String {
    let base = NAMES[index % NAMES.len()];
    match index / NAMES.len() {
        0 => base.to_string(),
        round => format!("{base} {}", round + 1),
    }
}

/// A head pose at one moment.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimPose {
    /// Metres; y is eye height.
    pub position: [f32; 3],
    /// Unit quaternion `[x, y, z, w]`: heading `yaw` about +y, then a little pitch.
    pub rotation: [f32; 4],
    /// Heading about +y in radians (0 = looking along -z), as the viewer draws it.
    pub yaw: f32,
}

/// One person walking a smooth closed path inside a `width` × `depth` room: each horizontal
/// axis is the sum of two slow sinusoids, scaled so the path stays inside the room (0.3 m from
/// the walls) and the speed stays under [`MAX_SPEED`]. They look where they walk, glancing
/// left and right by up to 25°.
#[derive(Clone, Debug)]
pub struct Walker {
    /// Per axis (x, z): two (amplitude m, angular speed rad/s, phase rad) terms.
    terms: [[(f64, f64, f64); 2]; 2],
    height: f64,
    glance: (f64, f64),
}

/// Deterministic pseudo-random numbers in [0, 1) (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl Walker {
    /// A walker for a room of `width` (x) by `depth` (z) metres (each at least 1 m), its path
    /// chosen by `seed`.
    pub fn new(seed: u64, width: f64, depth: f64) -> Walker {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let mut axis = |half: f64| {
            let reach = (half - 0.3).max(0.2);
            // Split the reach between a big slow term and a smaller faster one.
            let big = reach * (0.55 + 0.25 * rng.next());
            let small = reach - big;
            let w1 = 0.12 + 0.18 * rng.next();
            let w2 = w1 * (1.7 + 0.8 * rng.next());
            [(big, w1, TAU * rng.next()), (small, w2, TAU * rng.next())]
        };
        let mut terms = [axis(width.max(1.0) / 2.0), axis(depth.max(1.0) / 2.0)];
        // Peak speed ≤ Σ|a·w| over both axes; scale time down if it could exceed MAX_SPEED.
        let peak: f64 = terms
            .iter()
            .map(|t| t.iter().map(|(a, w, _)| a * w).sum::<f64>())
            .map(|v| v * v)
            .sum::<f64>()
            .sqrt();
        if peak > MAX_SPEED {
            let k = MAX_SPEED / peak;
            for t in terms.iter_mut().flatten() {
                t.1 *= k;
            }
        }
        Walker {
            terms,
            height: 1.5 + 0.25 * rng.next(),
            glance: (0.3 + 0.4 * rng.next(), TAU * rng.next()),
        }
    }

    fn axis(&self, i: usize, t: f64) -> (f64, f64) {
        self.terms[i].iter().fold((0.0, 0.0), |(p, v), (a, w, ph)| {
            (p + a * (w * t + ph).sin(), v + a * w * (w * t + ph).cos())
        })
    }

    /// Position and velocity on the floor (x, z) at `t` seconds.
    pub fn floor(&self, t: f64) -> ([f64; 2], [f64; 2]) {
        let (x, vx) = self.axis(0, t);
        let (z, vz) = self.axis(1, t);
        ([x, z], [vx, vz])
    }

    /// The head pose at `t` seconds.
    pub fn pose_at(&self, t: f64) -> SimPose {
        let ([x, z], [vx, vz]) = self.floor(t);
        let walking = (-vx).atan2(-vz);
        let glance = 0.43 * (self.glance.0 * t + self.glance.1).sin(); // ±25°
        let yaw = walking + glance;
        let pitch = -0.12 + 0.05 * (0.7 * t).sin(); // looking a little down
        let y = self.height + 0.02 * (TAU * 1.8 * t).sin(); // step bob
                                                            // q = yaw about +y, then pitch about the rotated +x.
        let (sy, cy) = (yaw / 2.0).sin_cos();
        let (sp, cp) = (pitch / 2.0).sin_cos();
        let q = [cy * sp, sy * cp, -sy * sp, cy * cp];
        SimPose {
            position: [x as f32, y as f32, z as f32],
            rotation: q.map(|c| c as f32),
            yaw: yaw.rem_euclid(TAU) as f32,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::yaw_from_quaternion;

    #[test]
    fn walkers_stay_inside_the_room_below_walking_speed() {
        for seed in 0..50 {
            let w = Walker::new(seed, 8.0, 6.0);
            for i in 0..6000 {
                let t = i as f64 * 0.1;
                let ([x, z], [vx, vz]) = w.floor(t);
                assert!(
                    x.abs() <= 3.7 + 1e-9 && z.abs() <= 2.7 + 1e-9,
                    "seed {seed} t {t}: {x} {z}"
                );
                assert!(
                    (vx * vx + vz * vz).sqrt() <= MAX_SPEED + 1e-9,
                    "seed {seed} t {t}"
                );
            }
        }
    }

    #[test]
    fn walkers_actually_walk() {
        let w = Walker::new(3, 8.0, 6.0);
        let (a, _) = w.floor(0.0);
        let (b, _) = w.floor(1.0);
        let moved = ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt();
        assert!(moved > 0.05, "moved {moved} m in 1 s");
    }

    #[test]
    fn rotation_is_a_unit_quaternion_whose_heading_is_the_yaw() {
        let w = Walker::new(9, 5.0, 5.0);
        for i in 0..500 {
            let p = w.pose_at(i as f64 * 0.37);
            let n: f32 = p.rotation.iter().map(|c| c * c).sum();
            assert!((n - 1.0).abs() < 1e-5);
            let d = (yaw_from_quaternion(p.rotation) - p.yaw).rem_euclid(std::f32::consts::TAU);
            assert!(d.min(std::f32::consts::TAU - d) < 1e-3, "{p:?}");
            assert!((1.4..=1.8).contains(&p.position[1]));
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_path_and_others_differ() {
        let (a, b, c) = (
            Walker::new(1, 8.0, 6.0),
            Walker::new(1, 8.0, 6.0),
            Walker::new(2, 8.0, 6.0),
        );
        assert_eq!(a.pose_at(12.5), b.pose_at(12.5));
        assert_ne!(a.pose_at(12.5), c.pose_at(12.5));
    }

    #[test]
    fn device_names_repeat_with_a_number() {
        assert_eq!(device_name(0), "Vision Pro · Ana");
        assert_eq!(device_name(8), "Vision Pro · Ana 2");
        assert_eq!(device_name(17), "Quest 3 · Ben 3");
    }
}
