//! Poses: where a device, a hand or an object is, and when (issue 11).
//!
//! Pure logic, no I/O: the [`Pose`](crate::pose::Pose) value and its validation, the compact wire form
//! ([`wire`](crate::pose::wire), documented in docs/PROTOCOL.md), the newest-pose table with short histories
//! ([`table`](crate::pose::table)) and interpolation/extrapolation for rendering ([`sample`](crate::pose::sample)). The session layer
//! moves the bytes; the C layer's `arsock_pose` (src/ffi/pose.rs) converts to and from
//! [`Pose`](crate::pose::Pose).

pub mod outbox;
pub mod quat;
pub mod sample;
pub mod seq;
pub mod table;
pub mod wire;

/// Largest accepted magnitude of a position component, in metres (±200 km).
pub const MAX_POSITION_M: f64 = 200_000.0;
/// Accepted range of a rotation's norm before normalisation.
pub const ROTATION_NORM_RANGE: (f64, f64) = (0.5, 2.0);

/// One pose of one entity of one peer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Pose {
    /// Peer that sent it (0 = the hub; ignored on send, filled on receive).
    pub peer: u32,
    /// The application's id for the tracked thing (head, hand, object, ...).
    pub entity: u32,
    /// Room time of capture, microseconds.
    pub time_us: i64,
    /// Metres.
    pub position: [f32; 3],
    /// Unit quaternion x, y, z, w.
    pub rotation: [f32; 4],
    /// Per (peer, entity) sequence number, filled by the sender's library; compared wrap-safe.
    pub seq: u32,
    /// Application bits, passed through untouched.
    pub flags: u32,
}

impl Default for Pose {
    fn default() -> Self {
        Pose {
            peer: 0,
            entity: 0,
            time_us: 0,
            position: [0.0; 3],
            rotation: [0.0, 0.0, 0.0, 1.0],
            seq: 0,
            flags: 0,
        }
    }
}

/// Why a pose cannot be sent.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PoseError {
    /// A position or rotation component is NaN or infinite.
    #[error("pose of entity {entity}: {field} is NaN or infinite")]
    NotFinite {
        /// The entity of the rejected pose.
        entity: u32,
        /// `"position"` or `"rotation"`.
        field: &'static str,
    },
    /// A position component is beyond ±200 km.
    #[error("pose of entity {entity}: position component {value} m is outside ±200 km")]
    PositionOutOfRange {
        /// The entity of the rejected pose.
        entity: u32,
        /// The offending component.
        value: f32,
    },
    /// The rotation's norm is outside [0.5, 2]: not a rotation the app meant.
    #[error("pose of entity {entity}: rotation norm {norm} is outside [0.5, 2]")]
    RotationNorm {
        /// The entity of the rejected pose.
        entity: u32,
        /// The norm found.
        norm: f64,
    },
    /// More poses than one batch may carry.
    #[error("{count} poses in one batch; at most {max}")]
    TooManyPoses {
        /// Poses given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A new entity beyond the per-peer entity limit.
    #[error("entity {entity} would exceed the limit of {max} entities per peer")]
    TooManyEntities {
        /// The entity refused.
        entity: u32,
        /// The limit.
        max: usize,
    },
}

impl Pose {
    /// Check the values a sender may send and return the pose with its rotation normalised:
    /// no NaN or infinity, position components within ±200 km, rotation norm in [0.5, 2].
    pub fn validated(&self) -> Result<Pose, PoseError> {
        let entity = self.entity;
        if self.position.iter().any(|v| !v.is_finite()) {
            return Err(PoseError::NotFinite {
                entity,
                field: "position",
            });
        }
        if self.rotation.iter().any(|v| !v.is_finite()) {
            return Err(PoseError::NotFinite {
                entity,
                field: "rotation",
            });
        }
        if let Some(&value) = self
            .position
            .iter()
            .find(|v| (**v as f64).abs() > MAX_POSITION_M)
        {
            return Err(PoseError::PositionOutOfRange { entity, value });
        }
        let q = quat::widen(self.rotation);
        let norm = quat::norm(q);
        if !(ROTATION_NORM_RANGE.0..=ROTATION_NORM_RANGE.1).contains(&norm) {
            return Err(PoseError::RotationNorm { entity, norm });
        }
        Ok(Pose {
            rotation: quat::narrow(quat::normalise(q)),
            ..*self
        })
    }
}

/// What `send_poses` does before anything leaves: validate and normalise every pose (see
/// [`Pose::validated`]), set `time_us` to `room_now_us` where it is 0, clear `peer` (the hub
/// fills it), and stamp `seq` per entity. All or nothing: on error no pose is returned and no
/// sequence counter moves.
pub fn prepare_for_send(
    poses: &[Pose],
    room_now_us: i64,
    stamper: &mut seq::SeqStamper,
) -> Result<Vec<Pose>, PoseError> {
    let mut out = Vec::with_capacity(poses.len());
    for p in poses {
        let mut v = p.validated()?;
        if v.time_us == 0 {
            v.time_us = room_now_us;
        }
        v.peer = 0;
        out.push(v);
    }
    stamper.stamp(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepare_for_send_fills_time_peer_and_seq_and_is_all_or_nothing() {
        let mut stamper = seq::SeqStamper::new(8);
        let a = Pose {
            peer: 99,
            entity: 1,
            rotation: [0.0, 0.0, 0.0, 2.0],
            ..Pose::default()
        };
        let b = Pose {
            entity: 2,
            time_us: 5,
            ..Pose::default()
        };
        let out = prepare_for_send(&[a, b], 1_000, &mut stamper).unwrap();
        assert_eq!((out[0].peer, out[0].time_us, out[0].seq), (0, 1_000, 1));
        assert_eq!(out[0].rotation, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!((out[1].time_us, out[1].seq), (5, 1));
        let bad = Pose {
            position: [f32::NAN, 0.0, 0.0],
            ..b
        };
        assert!(prepare_for_send(&[a, bad], 2_000, &mut stamper).is_err());
        let out = prepare_for_send(&[a], 3_000, &mut stamper).unwrap();
        assert_eq!(out[0].seq, 2, "the refused batch stamped nothing");
    }

    fn pose(position: [f32; 3], rotation: [f32; 4]) -> Pose {
        Pose {
            entity: 7,
            position,
            rotation,
            ..Pose::default()
        }
    }

    #[test]
    fn validated_normalises_the_rotation() {
        let p = pose([1.0, 2.0, 3.0], [0.0, 0.0, 0.0, 2.0])
            .validated()
            .unwrap();
        assert_eq!(p.rotation, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(p.position, [1.0, 2.0, 3.0]);
        let p = pose([0.0; 3], [0.5, 0.5, 0.5, 0.5]).validated().unwrap();
        assert_eq!(p.rotation, [0.5, 0.5, 0.5, 0.5]);
    }

    #[test]
    fn validated_rejects_nan_and_infinity() {
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            assert!(matches!(
                pose([0.0, bad, 0.0], [0.0, 0.0, 0.0, 1.0]).validated(),
                Err(PoseError::NotFinite {
                    field: "position",
                    ..
                })
            ));
            assert!(matches!(
                pose([0.0; 3], [0.0, 0.0, bad, 1.0]).validated(),
                Err(PoseError::NotFinite {
                    field: "rotation",
                    ..
                })
            ));
        }
    }

    #[test]
    fn validated_accepts_200_km_and_rejects_beyond() {
        let id = [0.0, 0.0, 0.0, 1.0];
        assert!(pose([200_000.0, -200_000.0, 0.0], id).validated().is_ok());
        assert!(matches!(
            pose([0.0, 0.0, -200_000.02], id).validated(),
            Err(PoseError::PositionOutOfRange { entity: 7, .. })
        ));
    }

    #[test]
    fn validated_rejects_rotation_norm_outside_half_to_two() {
        assert!(pose([0.0; 3], [0.0, 0.0, 0.0, 0.5]).validated().is_ok());
        assert!(pose([0.0; 3], [0.0, 0.0, 0.0, 2.0]).validated().is_ok());
        for w in [0.0, 0.49, 2.01, -3.0] {
            assert!(matches!(
                pose([0.0; 3], [0.0, 0.0, 0.0, w]).validated(),
                Err(PoseError::RotationNorm { .. })
            ));
        }
    }
}
