//! `arsock_pose`: the C form of a pose (issue 11) and its conversions; the session functions
//! that take it are in `session_poses.rs`.

use crate::pose::Pose;
use std::mem::{offset_of, size_of};

/// One pose of one tracked thing of one peer: 56 bytes, no implicit padding, blittable.
///
/// - `peer`: the sending peer; filled on receive, ignored on send.
/// - `entity`: the app's id (head, hand, object, ...).
/// - `time_us`: room time of capture in microseconds; 0 on send means "now".
/// - `position`: metres, each within ±200 km; carried at 0.1 mm.
/// - `rotation`: unit quaternion x, y, z, w; a norm outside [0.5, 2] is rejected, others
///   are normalised before sending; carried within 2·10⁻⁴ rad.
/// - `seq`: per (peer, entity), filled by arsock on send; a pose with a seq not newer
///   (wrap-safe) than one already seen is never surfaced.
/// - `flags`: application bits, passed through.
/// - `reserved`: 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[allow(non_camel_case_types)]
pub struct arsock_pose {
    /// The sending peer (filled on receive; ignored on send).
    pub peer: u32,
    /// The application's id of the tracked thing.
    pub entity: u32,
    /// Room time of capture, microseconds (0 on send = now).
    pub time_us: i64,
    /// Metres.
    pub position: [f32; 3],
    /// Unit quaternion x, y, z, w.
    pub rotation: [f32; 4],
    /// Sequence number per (peer, entity), filled by arsock.
    pub seq: u32,
    /// Application bits, passed through.
    pub flags: u32,
    /// 0.
    pub reserved: u32,
}

const _: () = {
    assert!(size_of::<arsock_pose>() == 56);
    assert!(offset_of!(arsock_pose, peer) == 0);
    assert!(offset_of!(arsock_pose, entity) == 4);
    assert!(offset_of!(arsock_pose, time_us) == 8);
    assert!(offset_of!(arsock_pose, position) == 16);
    assert!(offset_of!(arsock_pose, rotation) == 28);
    assert!(offset_of!(arsock_pose, seq) == 44);
    assert!(offset_of!(arsock_pose, flags) == 48);
    assert!(offset_of!(arsock_pose, reserved) == 52);
    assert!(std::mem::align_of::<arsock_pose>() == 8);
};

impl From<&arsock_pose> for Pose {
    fn from(p: &arsock_pose) -> Self {
        Pose {
            peer: p.peer,
            entity: p.entity,
            time_us: p.time_us,
            position: p.position,
            rotation: p.rotation,
            seq: p.seq,
            flags: p.flags,
        }
    }
}

impl From<&Pose> for arsock_pose {
    fn from(p: &Pose) -> Self {
        arsock_pose {
            peer: p.peer,
            entity: p.entity,
            time_us: p.time_us,
            position: p.position,
            rotation: p.rotation,
            seq: p.seq,
            flags: p.flags,
            reserved: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pose_converts_both_ways_and_zeroes_reserved() {
        let p = Pose {
            peer: 1,
            entity: 2,
            time_us: -3,
            position: [4.0, 5.0, 6.0],
            rotation: [0.0, 0.6, 0.0, 0.8],
            seq: 7,
            flags: 8,
        };
        let c = arsock_pose::from(&p);
        assert_eq!(c.reserved, 0);
        assert_eq!(Pose::from(&c), p);
    }
}
