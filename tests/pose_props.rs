//! Property tests of the pose wire form and the newest-pose table, driven by a small
//! deterministic PRNG (stable Rust, no extra dependency). Each prints its execution count and
//! the worst errors seen (`cargo test --test pose_props -- --nocapture`).

use arsock::pose::quat::{angle_between, normalise, widen};
use arsock::pose::table::PoseTable;
use arsock::pose::wire::{decode_poses, encode_poses, MAX_BATCH_POSES};
use arsock::pose::Pose;

/// SplitMix64: tiny, fast, good enough to drive property tests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// A u32 of random bit length, so every varint length occurs.
    fn any_u32(&mut self) -> u32 {
        (self.next() as u32) >> self.below(33).min(31) >> (self.below(2) as u32)
    }
    fn any_i64(&mut self) -> i64 {
        match self.below(4) {
            0 => [i64::MIN, i64::MAX, 0, -1][self.below(4) as usize],
            1 => self.next() as i64,
            _ => 1_700_000_000_000_000 + self.range(-1e9, 1e9) as i64,
        }
    }
    /// Uniform random rotation (Shoemake), scaled to a norm in [0.5, 2].
    fn rotation(&mut self) -> [f32; 4] {
        let (u1, u2, u3) = (self.unit(), self.unit(), self.unit());
        let tau = std::f64::consts::TAU;
        let q = [
            (1.0 - u1).sqrt() * (tau * u2).sin(),
            (1.0 - u1).sqrt() * (tau * u2).cos(),
            u1.sqrt() * (tau * u3).sin(),
            u1.sqrt() * (tau * u3).cos(),
        ];
        let s = self.range(0.5, 2.0) * 0.999 + 0.0005;
        q.map(|c| (c * s) as f32)
    }
    fn pose(&mut self, extent_m: f64) -> Pose {
        Pose {
            peer: self.any_u32(),
            entity: self.any_u32(),
            time_us: self.any_i64(),
            position: [0; 3].map(|_| self.range(-extent_m, extent_m) as f32),
            rotation: self.rotation(),
            seq: self.any_u32(),
            flags: self.any_u32(),
        }
    }
}

fn half_ulp(x: f32) -> f64 {
    let x = x.abs();
    (f32::from_bits(x.to_bits() + 1) as f64 - x as f64) / 2.0
}

/// Encode `sent` and decode it back; check every field, return worst (position m, angle rad).
fn round_trip(sent: &[Pose], check_euclid: bool) -> (f64, f64) {
    let mut bytes = Vec::new();
    encode_poses(sent, &mut bytes).unwrap();
    let mut got = Vec::new();
    assert_eq!(
        decode_poses(&bytes, MAX_BATCH_POSES, &mut got),
        Ok(sent.len())
    );
    let (mut worst_pos, mut worst_angle) = (0f64, 0f64);
    for (s, g) in sent.iter().zip(&got) {
        assert_eq!(
            (s.peer, s.entity, s.seq, s.flags, s.time_us),
            (g.peer, g.entity, g.seq, g.flags, g.time_us)
        );
        let mut sq = 0.0;
        for i in 0..3 {
            let d = (s.position[i] as f64 - g.position[i] as f64).abs();
            // Fixed point adds ≤ 0.05 mm; f32 adds half an ulp at the value (>0 beyond 256 m).
            assert!(
                d <= 0.5e-4 + half_ulp(g.position[i]) + 1e-12,
                "{s:?} -> {g:?}"
            );
            sq += d * d;
        }
        let euclid = sq.sqrt();
        if check_euclid {
            assert!(euclid <= 1e-4, "position error {euclid} m: {s:?} -> {g:?}");
        }
        worst_pos = worst_pos.max(euclid);
        let angle = angle_between(normalise(widen(s.rotation)), widen(g.rotation));
        assert!(angle <= 2e-4, "rotation error {angle} rad: {s:?} -> {g:?}");
        worst_angle = worst_angle.max(angle);
    }
    (worst_pos, worst_angle)
}

#[test]
fn random_poses_round_trip_within_a_tenth_of_a_millimetre_and_2e4_rad() {
    let mut rng = Rng(0x5EED_0001);
    let (mut n, mut worst_pos, mut worst_angle) = (0usize, 0f64, 0f64);
    for _ in 0..6000 {
        let len = 1 + rng.below(32) as usize;
        // Room scale (±250 m, where f32 itself resolves 0.015 mm) checked as a 3-D distance.
        let extent = [2.0, 20.0, 250.0][rng.below(3) as usize];
        let batch: Vec<Pose> = (0..len).map(|_| rng.pose(extent)).collect();
        let (p, a) = round_trip(&batch, true);
        worst_pos = worst_pos.max(p);
        worst_angle = worst_angle.max(a);
        n += len;
    }
    println!(
        "{n} poses: worst position error {:.4} mm, worst rotation error {:.3e} rad",
        worst_pos * 1e3,
        worst_angle
    );
}

#[test]
fn poses_up_to_200_km_round_trip_within_fixed_point_plus_f32_resolution() {
    let mut rng = Rng(0x5EED_0002);
    let mut n = 0;
    for _ in 0..2000 {
        let batch: Vec<Pose> = (0..16).map(|_| rng.pose(200_000.0)).collect();
        round_trip(&batch, false);
        n += batch.len();
    }
    let edges = [200_000.0, -200_000.0, 0.0, 1e-5, -1e-5, 0.00005, 255.99998];
    let batch: Vec<Pose> = edges
        .iter()
        .map(|&x| Pose {
            position: [x, -x, x / 2.0],
            ..Pose::default()
        })
        .collect();
    round_trip(&batch, false);
    println!("{} poses over ±200 km", n + batch.len());
}

/// Check that a decoded pose is something a sender could have sent.
fn assert_sane(p: &Pose) {
    assert!(p
        .position
        .iter()
        .all(|v| v.is_finite() && v.abs() <= 200_000.0));
    let q = widen(p.rotation);
    let norm = (q.iter().map(|c| c * c).sum::<f64>()).sqrt();
    assert!((norm - 1.0).abs() < 1e-5, "{p:?}");
}

#[test]
fn decoder_never_panics_on_random_truncated_or_mutated_bytes() {
    let mut rng = Rng(0x5EED_0003);
    let (mut execs, mut accepted) = (0u64, 0u64);
    let mut out = Vec::new();
    let mut decode = |bytes: &[u8], out: &mut Vec<Pose>| {
        out.clear();
        execs += 1;
        let max = [0, 1, 4, MAX_BATCH_POSES][(execs % 4) as usize];
        if let Ok(n) = decode_poses(bytes, max, out) {
            accepted += 1;
            assert_eq!(n, out.len());
            out.iter().for_each(assert_sane);
        } else {
            assert!(out.is_empty(), "nothing appended on error");
        }
    };
    for _ in 0..20_000 {
        let len = rng.below(6) as usize;
        let batch: Vec<Pose> = (0..len).map(|_| rng.pose(300.0)).collect();
        let mut valid = Vec::new();
        encode_poses(&batch, &mut valid).unwrap();
        // Every truncation.
        for cut in 0..valid.len() {
            decode(&valid[..cut], &mut out);
        }
        // Bit flips, byte overwrites, insertions and deletions.
        for _ in 0..20 {
            let mut m = valid.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len() as u64) as usize;
                match rng.below(4) {
                    0 => m[i] ^= 1 << rng.below(8),
                    1 => m[i] = rng.next() as u8,
                    2 => m.insert(i, rng.next() as u8),
                    _ => {
                        m.remove(i);
                        if m.is_empty() {
                            m.push(0);
                        }
                    }
                }
            }
            decode(&m, &mut out);
        }
        // Pure noise, with a plausible count up front half the time.
        let mut noise: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        if noise.len() >= 2 && rng.below(2) == 0 {
            noise[0] = rng.below(8) as u8;
            noise[1] = 0;
        }
        decode(&noise, &mut out);
    }
    println!("decoder: {execs} executions, {accepted} accepted");
    assert!(execs > 1_000_000);
}

#[test]
fn table_never_surfaces_a_seq_older_pose_across_wrap() {
    let mut rng = Rng(0x5EED_0004);
    let mut table = PoseTable::new(64, 3);
    let mut stale = 0u64;
    let mut inserts = 0u64;
    for entity in 0..16u32 {
        let start = u32::MAX - 5000 + entity * 300; // every stream crosses the wrap
                                                    // Seqs in order, then shuffled within windows of 8 (reordering and duplicates).
        let mut seqs: Vec<u32> = (0..10_000u32).map(|i| start.wrapping_add(i)).collect();
        for w in seqs.chunks_mut(8) {
            for i in (1..w.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                w.swap(i, j);
            }
        }
        let mut surfaced: Option<u32> = None;
        for (i, &seq) in seqs.iter().enumerate() {
            let dup = i % 97 == 0;
            for _ in 0..1 + dup as usize {
                inserts += 1;
                let pose = Pose {
                    peer: 1,
                    entity,
                    seq,
                    time_us: seq as i64,
                    ..Pose::default()
                };
                if table.insert(pose).accepted() {
                    if let Some(prev) = surfaced {
                        assert!(
                            arsock::pose::seq::seq_newer(seq, prev),
                            "{seq} after {prev}"
                        );
                    }
                    surfaced = Some(seq);
                } else {
                    stale += 1;
                }
                assert_eq!(table.latest(1, entity).map(|p| p.seq), surfaced);
            }
        }
        assert_eq!(surfaced, Some(start.wrapping_add(9_999)));
    }
    assert_eq!(table.stats().dropped_stale, stale);
    println!("table: {inserts} inserts, {stale} dropped as older or equal");
}
