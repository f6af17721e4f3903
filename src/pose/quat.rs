//! Quaternion helpers for poses: normalisation, the smallest-three wire form, slerp and the
//! angle between two rotations. Quaternions are `[x, y, z, w]`; arithmetic is done in `f64`.

/// Bits per transmitted component of the smallest-three form.
pub const COMPONENT_BITS: u32 = 15;
/// Largest valid component code; the code `0x7FFF` is not used (it would lie past 1/√2).
pub const MAX_COMPONENT_CODE: u32 = 32766;
/// Code of the value 0 (so that the identity rotation round-trips exactly).
const ZERO_CODE: i64 = 16383;
/// Value of one code step: codes 0..=32766 cover [-1/√2, 1/√2].
const STEP: f64 = std::f64::consts::SQRT_2 / MAX_COMPONENT_CODE as f64;
/// The three smallest components of a unit quaternion have squares summing to at most 3/4
/// (the largest is at least 1/2); quantisation adds under 1e-4. A decoder rejects more.
const MAX_SMALLEST_SUM_SQ: f64 = 0.7505;

/// A quaternion in `f64`.
pub type Quat = [f64; 4];

/// Widen an `f32` quaternion.
pub fn widen(q: [f32; 4]) -> Quat {
    [q[0] as f64, q[1] as f64, q[2] as f64, q[3] as f64]
}

/// Narrow to `f32`.
pub fn narrow(q: Quat) -> [f32; 4] {
    [q[0] as f32, q[1] as f32, q[2] as f32, q[3] as f32]
}

/// Euclidean norm.
pub fn norm(q: Quat) -> f64 {
    dot(q, q).sqrt()
}

/// Dot product.
pub fn dot(a: Quat, b: Quat) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2] + a[3] * b[3]
}

/// `q / |q|`; the identity for a zero quaternion (callers validate the norm first).
pub fn normalise(q: Quat) -> Quat {
    let n = norm(q);
    if n > 0.0 && n.is_finite() {
        [q[0] / n, q[1] / n, q[2] / n, q[3] / n]
    } else {
        [0.0, 0.0, 0.0, 1.0]
    }
}

/// Hamilton product `a * b` (apply `b`, then `a`).
pub fn mul(a: Quat, b: Quat) -> Quat {
    let [ax, ay, az, aw] = a;
    let [bx, by, bz, bw] = b;
    [
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ]
}

/// Conjugate (the inverse of a unit quaternion).
pub fn conj(q: Quat) -> Quat {
    [-q[0], -q[1], -q[2], q[3]]
}

/// Angle in radians of the rotation between unit quaternions `a` and `b`, in [0, π];
/// `q` and `-q` are the same rotation. Accurate for small angles (no `acos` near 1).
pub fn angle_between(a: Quat, b: Quat) -> f64 {
    let r = mul(conj(a), b);
    let v = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    2.0 * v.atan2(r[3].abs())
}

/// Rotation of `angle` radians about the unit `axis`.
fn from_axis_angle(axis: [f64; 3], angle: f64) -> Quat {
    let (s, c) = (angle / 2.0).sin_cos();
    [axis[0] * s, axis[1] * s, axis[2] * s, c]
}

/// Spherical interpolation along the shorter arc from `a` (t = 0) to `b` (t = 1). `t` outside
/// [0, 1] continues along the same great circle at the same angular speed (extrapolation).
pub fn slerp(a: Quat, b: Quat, t: f64) -> Quat {
    // Relative rotation a → b, taken with w ≥ 0 so it is the shorter arc.
    let mut r = mul(b, conj(a));
    if r[3] < 0.0 {
        r = [-r[0], -r[1], -r[2], -r[3]];
    }
    let v = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    let angle = 2.0 * v.atan2(r[3]);
    if v < 1e-12 || !angle.is_finite() {
        return normalise(a);
    }
    let axis = [r[0] / v, r[1] / v, r[2] / v];
    normalise(mul(from_axis_angle(axis, angle * t), a))
}

/// Smallest-three form of a unit quaternion in the low 47 bits of a `u64`: bits 0–1 the index
/// of the largest-magnitude component, then the other three (in x, y, z, w order) as 15-bit
/// codes at bits 2, 17 and 32. The quaternion is negated first if needed so the largest is
/// positive (q and -q are the same rotation), which is why it need not be sent.
pub fn pack_smallest_three(q: Quat) -> u64 {
    let q = normalise(q);
    let mut largest = 0;
    for i in 1..4 {
        if q[i].abs() > q[largest].abs() {
            largest = i;
        }
    }
    let sign = if q[largest] < 0.0 { -1.0 } else { 1.0 };
    let mut bits = largest as u64;
    let mut shift = 2;
    for (i, c) in q.iter().enumerate() {
        if i == largest {
            continue;
        }
        let code = ((c * sign) / STEP).round() as i64 + ZERO_CODE;
        let code = code.clamp(0, MAX_COMPONENT_CODE as i64) as u64;
        bits |= code << shift;
        shift += COMPONENT_BITS;
    }
    bits
}

/// Why a smallest-three value is not a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmallestThreeError {
    /// Bit 47 (reserved) is set.
    ReservedBit,
    /// A component code is 0x7FFF.
    CodeOutOfRange,
    /// The three components are too large to be the smallest of a unit quaternion.
    NotUnit,
}

/// Inverse of [`pack_smallest_three`] (bits above 47 must be 0): a unit quaternion.
pub fn unpack_smallest_three(bits: u64) -> Result<Quat, SmallestThreeError> {
    if bits >> 47 != 0 {
        return Err(SmallestThreeError::ReservedBit);
    }
    let largest = (bits & 3) as usize;
    let mut q = [0.0; 4];
    let mut shift = 2;
    let mut sum_sq = 0.0;
    for (i, c) in q.iter_mut().enumerate() {
        if i == largest {
            continue;
        }
        let code = ((bits >> shift) & 0x7FFF) as u32;
        if code > MAX_COMPONENT_CODE {
            return Err(SmallestThreeError::CodeOutOfRange);
        }
        *c = (code as i64 - ZERO_CODE) as f64 * STEP;
        sum_sq += *c * *c;
        shift += COMPONENT_BITS;
    }
    if sum_sq > MAX_SMALLEST_SUM_SQ {
        return Err(SmallestThreeError::NotUnit);
    }
    q[largest] = (1.0 - sum_sq).sqrt();
    Ok(normalise(q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_round_trips_exactly() {
        let bits = pack_smallest_three([0.0, 0.0, 0.0, 1.0]);
        assert_eq!(unpack_smallest_three(bits).unwrap(), [0.0, 0.0, 0.0, 1.0]);
    }

    #[test]
    fn negated_quaternion_packs_the_same() {
        let q = normalise([0.3, -0.5, 0.2, -0.7]);
        let n = [-q[0], -q[1], -q[2], -q[3]];
        assert_eq!(pack_smallest_three(q), pack_smallest_three(n));
    }

    #[test]
    fn unpack_rejects_reserved_bit_bad_code_and_non_unit() {
        assert_eq!(
            unpack_smallest_three(1 << 47),
            Err(SmallestThreeError::ReservedBit)
        );
        assert_eq!(
            unpack_smallest_three(0x7FFF << 2),
            Err(SmallestThreeError::CodeOutOfRange)
        );
        // All three at the maximum code: 3 × 1/2 > 3/4.
        let max = MAX_COMPONENT_CODE as u64;
        let bits = 3 | max << 2 | max << 17 | max << 32;
        assert_eq!(
            unpack_smallest_three(bits),
            Err(SmallestThreeError::NotUnit)
        );
    }

    #[test]
    fn slerp_takes_the_shorter_arc_and_extrapolates() {
        let a = [0.0, 0.0, 0.0, 1.0];
        // 90° about z, given with w < 0 (the long way round if taken literally).
        let h = std::f64::consts::FRAC_1_SQRT_2;
        let b = [0.0, 0.0, -h, -h];
        let mid = slerp(a, b, 0.5);
        assert!((angle_between(a, mid) - std::f64::consts::FRAC_PI_4).abs() < 1e-9);
        let past = slerp(a, b, 1.5);
        assert!((angle_between(b, past) - std::f64::consts::FRAC_PI_4).abs() < 1e-9);
        assert!((angle_between(a, past) - 3.0 * std::f64::consts::FRAC_PI_4).abs() < 1e-9);
    }

    #[test]
    fn angle_between_ignores_sign() {
        let q = normalise([0.1, 0.2, 0.3, 0.9]);
        assert!(angle_between(q, [-q[0], -q[1], -q[2], -q[3]]) < 1e-12);
    }
}
