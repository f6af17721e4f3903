//! Pose sequence numbers: wrap-safe comparison (RFC 1982 serial number arithmetic on 32 bits)
//! and the sender's per-entity counter.

use super::{Pose, PoseError};
use std::collections::HashMap;

/// True if `a` is newer than `b` in serial number arithmetic: `a` is ahead of `b` by
/// 1 to 2³¹ − 1 (mod 2³²). Equal numbers are not newer; numbers exactly 2³¹ apart are
/// undefined in RFC 1982 and are treated as not newer either way (the pose is dropped).
pub fn seq_newer(a: u32, b: u32) -> bool {
    let d = a.wrapping_sub(b);
    d != 0 && d < 0x8000_0000
}

/// The sender's side: stamps each outgoing pose with the next sequence number of its entity
/// (starting at 1, wrapping after 2³² − 1 to 0). Bounded to `max_entities` entities.
#[derive(Debug)]
pub struct SeqStamper {
    next: HashMap<u32, u32>,
    max_entities: usize,
}

impl SeqStamper {
    /// A stamper for at most `max_entities` distinct entities.
    pub fn new(max_entities: usize) -> Self {
        SeqStamper {
            next: HashMap::new(),
            max_entities,
        }
    }

    /// Stamp `seq` of every pose, in order (an entity twice in one batch gets two increasing
    /// numbers). All or nothing: if the batch would bring the number of entities over the
    /// limit, no pose is stamped and no counter moves.
    pub fn stamp(&mut self, poses: &mut [Pose]) -> Result<(), PoseError> {
        let mut added: Vec<u32> = Vec::new();
        for p in poses.iter() {
            if !self.next.contains_key(&p.entity) && !added.contains(&p.entity) {
                if self.next.len() + added.len() >= self.max_entities {
                    return Err(PoseError::TooManyEntities {
                        entity: p.entity,
                        max: self.max_entities,
                    });
                }
                added.push(p.entity);
            }
        }
        for p in poses.iter_mut() {
            let next = self.next.entry(p.entity).or_insert(1);
            p.seq = *next;
            *next = next.wrapping_add(1);
        }
        Ok(())
    }

    /// Forget an entity (its numbering restarts at 1 if it is sent again; receivers that still
    /// hold a newer number will drop it until the peer's poses are removed).
    pub fn forget(&mut self, entity: u32) {
        self.next.remove(&entity);
    }

    /// Entities known.
    pub fn len(&self) -> usize {
        self.next.len()
    }

    /// True if no entity was stamped yet.
    pub fn is_empty(&self) -> bool {
        self.next.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_newer_follows_serial_arithmetic_across_wrap() {
        assert!(seq_newer(2, 1));
        assert!(!seq_newer(1, 2));
        assert!(!seq_newer(5, 5));
        assert!(seq_newer(0, u32::MAX));
        assert!(seq_newer(3, u32::MAX - 3));
        assert!(!seq_newer(u32::MAX, 0));
        assert!(seq_newer(0x7FFF_FFFF, 0));
        // Exactly half the space apart: undefined, so newer in neither direction.
        assert!(!seq_newer(0x8000_0000, 0));
        assert!(!seq_newer(0, 0x8000_0000));
    }

    #[test]
    fn stamper_counts_per_entity_from_one() {
        let mut s = SeqStamper::new(4);
        let mut batch = [1, 2, 1].map(|entity| Pose {
            entity,
            ..Pose::default()
        });
        s.stamp(&mut batch).unwrap();
        assert_eq!(batch.map(|p| p.seq), [1, 1, 2]);
        s.stamp(&mut batch).unwrap();
        assert_eq!(batch.map(|p| p.seq), [3, 2, 4]);
    }

    #[test]
    fn stamper_over_entity_limit_stamps_nothing() {
        let mut s = SeqStamper::new(2);
        let mut one = [Pose {
            entity: 9,
            ..Pose::default()
        }];
        s.stamp(&mut one).unwrap();
        let mut batch = [9, 10, 11].map(|entity| Pose {
            entity,
            seq: 77,
            ..Pose::default()
        });
        assert_eq!(
            s.stamp(&mut batch),
            Err(PoseError::TooManyEntities { entity: 11, max: 2 })
        );
        assert_eq!(batch.map(|p| p.seq), [77, 77, 77]);
        s.stamp(&mut one).unwrap();
        assert_eq!(one[0].seq, 2, "the failed batch moved no counter");
    }
}
