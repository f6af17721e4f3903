//! One-shot timers ordered by due time (a binary heap: O(log n) per timer, fine for many
//! thousands of registrations).

use mio::Token;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

#[derive(Default)]
pub(super) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, u64, usize, u64)>>,
    seq: u64,
}

impl Timers {
    /// Add a timer; timers due at the same instant fire in the order they were set.
    pub(super) fn push(&mut self, at: Instant, token: Token, id: u64) {
        self.seq = self.seq.wrapping_add(1);
        self.heap.push(Reverse((at, self.seq, token.0, id)));
    }

    pub(super) fn next_due(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// The earliest timer due at or before `now`, removed.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<(Token, u64)> {
        if self.next_due()? > now {
            return None;
        }
        self.heap.pop().map(|Reverse((_, _, t, id))| (Token(t), id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timers_come_due_in_time_order_and_same_instant_in_insertion_order() {
        let mut t = Timers::default();
        let base = Instant::now();
        t.push(base + Duration::from_millis(5), Token(1), 10);
        t.push(base + Duration::from_millis(1), Token(2), 20);
        t.push(base + Duration::from_millis(1), Token(3), 30);
        assert_eq!(t.next_due(), Some(base + Duration::from_millis(1)));
        assert_eq!(t.pop_due(base), None);
        let later = base + Duration::from_millis(2);
        assert_eq!(t.pop_due(later), Some((Token(2), 20)));
        assert_eq!(t.pop_due(later), Some((Token(3), 30)));
        assert_eq!(t.pop_due(later), None);
        assert_eq!(
            t.pop_due(base + Duration::from_millis(5)),
            Some((Token(1), 10))
        );
        assert_eq!(t.next_due(), None);
    }
}
