//! Idempotent binary produce, as Kafka's idempotent producer: a batch carrying a producer id
//! (>= 0) and a base sequence that this partition has seen recently is acknowledged with its first
//! base offset and not appended again; a batch whose sequence is not the next one expected is
//! refused as out of order (behind: a resend too old to recognise; ahead: an earlier batch is
//! missing, and the producer resends in order or starts a new epoch). Per producer the last few batches are
//! remembered, and the producers least recently seen are forgotten past a count or after the
//! dedup window. Followers remember the batches they copy, so a new leader knows them too.

use std::collections::{HashMap, VecDeque};

/// Batches remembered per producer (Kafka keeps five in flight).
const BATCHES_PER_PRODUCER: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    epoch: i16,
    base_sequence: i32,
    record_count: u32,
    base_offset: u64,
}

/// Where a batch of an idempotent producer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sequence {
    /// Appended before, at this base offset, with this many records.
    Duplicate { base_offset: u64, record_count: u32 },
    /// The next one expected (or the producer is unknown here): append it.
    Next,
    /// Not the next one: `expected` is.
    OutOfOrder { expected: i32 },
}

#[derive(Debug)]
pub struct ProducerWindow {
    producers: HashMap<i64, (i64, VecDeque<Remembered>)>,
    max_producers: usize,
    window_ms: i64,
}

impl ProducerWindow {
    pub fn new(window_ms: u64, max_producers: usize) -> Self {
        ProducerWindow {
            producers: HashMap::new(),
            max_producers: max_producers.max(1),
            window_ms: i64::try_from(window_ms).unwrap_or(i64::MAX),
        }
    }

    /// The first base offset and record count of this batch, if it was appended before.
    pub fn seen(
        &self,
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        now_ms: i64,
    ) -> Option<(u64, u32)> {
        let (last_seen, batches) = self.producers.get(&producer_id)?;
        if last_seen.saturating_add(self.window_ms) <= now_ms {
            return None;
        }
        batches
            .iter()
            .find(|b| b.epoch == epoch && b.base_sequence == base_sequence)
            .map(|b| (b.base_offset, b.record_count))
    }

    /// Whether a batch is a duplicate, the next one, or out of order.
    pub fn check(&self, producer_id: i64, epoch: i16, base_sequence: i32, now_ms: i64) -> Sequence {
        if let Some((base_offset, record_count)) =
            self.seen(producer_id, epoch, base_sequence, now_ms)
        {
            return Sequence::Duplicate {
                base_offset,
                record_count,
            };
        }
        // A producer this partition does not know (new, or forgotten) starts at sequence 0; a
        // later batch arrived before its first, or the producer must start a new epoch.
        let first = if base_sequence == 0 {
            Sequence::Next
        } else {
            Sequence::OutOfOrder { expected: 0 }
        };
        let Some((last_seen, batches)) = self.producers.get(&producer_id) else {
            return first;
        };
        let Some(last) = batches.back() else {
            return first;
        };
        if last_seen.saturating_add(self.window_ms) <= now_ms {
            return first;
        }
        let expected = if epoch > last.epoch {
            0
        } else {
            last.base_sequence.wrapping_add(last.record_count as i32)
        };
        // Only the next sequence is taken (Kafka's rule). A sequence behind it that is not a
        // remembered batch is a resend too old to recognise: appending it could store it twice.
        // One past it means an earlier batch is missing (still in flight, or refused, or lost
        // with a leader under `acks=1`): the producer resends in order, or after a batch failed
        // for good starts a new epoch, whose sequences start again at 0 (a new epoch's batch
        // at another sequence is ahead of its first one, which may still be on its way).
        if base_sequence == expected && epoch >= last.epoch {
            Sequence::Next
        } else {
            Sequence::OutOfOrder { expected }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub fn remember(
        &mut self,
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        record_count: u32,
        base_offset: u64,
        now_ms: i64,
    ) {
        if !self.producers.contains_key(&producer_id) && self.producers.len() >= self.max_producers
        {
            self.forget_oldest(now_ms);
        }
        let (last_seen, batches) = self.producers.entry(producer_id).or_default();
        *last_seen = now_ms;
        batches.push_back(Remembered {
            epoch,
            base_sequence,
            record_count,
            base_offset,
        });
        while batches.len() > BATCHES_PER_PRODUCER {
            batches.pop_front();
        }
    }

    /// Forgets the batches stored at `offset` or after: the log was truncated there (a follower
    /// dropping what its new leader does not have), so a resend of one of them is new again and
    /// must be appended, not answered with offsets that now hold other records (Kafka rebuilds
    /// its producer state on truncation for the same reason).
    pub fn forget_from(&mut self, offset: u64) {
        self.producers.retain(|_, (_, batches)| {
            batches.retain(|b| b.base_offset < offset);
            !batches.is_empty()
        });
    }

    /// Drops expired producers, or else the one seen longest ago.
    fn forget_oldest(&mut self, now_ms: i64) {
        let window = self.window_ms;
        self.producers
            .retain(|_, (last_seen, _)| last_seen.saturating_add(window) > now_ms);
        if self.producers.len() >= self.max_producers {
            if let Some(oldest) = self
                .producers
                .iter()
                .min_by_key(|(_, (seen, _))| *seen)
                .map(|(id, _)| *id)
            {
                self.producers.remove(&oldest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resent_batch_is_recognised_within_the_window() {
        let mut window = ProducerWindow::new(1_000, 10);
        window.remember(7, 0, 100, 1, 42, 0);
        assert_eq!(window.seen(7, 0, 100, 500), Some((42, 1)));
        assert_eq!(window.seen(7, 1, 100, 500), None, "another epoch");
        assert_eq!(window.seen(7, 0, 101, 500), None);
        assert_eq!(window.seen(7, 0, 100, 1_000), None, "past the window");
    }

    #[test]
    fn only_the_last_batches_and_producers_are_kept() {
        let mut window = ProducerWindow::new(60_000, 2);
        for seq in 0..7 {
            window.remember(1, 0, seq, 1, seq as u64, 1);
        }
        assert_eq!(window.seen(1, 0, 1, 1), None);
        assert_eq!(window.seen(1, 0, 6, 1), Some((6, 1)));
        window.remember(2, 0, 0, 1, 0, 2);
        window.remember(3, 0, 0, 1, 0, 3);
        assert_eq!(
            window.seen(1, 0, 6, 3),
            None,
            "producer 1 was seen longest ago"
        );
        assert_eq!(window.seen(3, 0, 0, 3), Some((0, 1)));
    }

    #[test]
    fn batches_truncated_from_the_log_are_forgotten() {
        let mut window = ProducerWindow::new(60_000, 10);
        window.remember(4, 0, 0, 20, 760, 0);
        window.remember(4, 0, 20, 20, 780, 0);
        window.remember(5, 0, 0, 20, 800, 0);
        window.forget_from(780);
        assert_eq!(window.seen(4, 0, 0, 1), Some((760, 20)), "below the cut");
        assert_eq!(
            window.check(4, 0, 20, 1),
            Sequence::Next,
            "truncated: a resend is appended again"
        );
        assert_eq!(
            window.check(5, 0, 0, 1),
            Sequence::Next,
            "producer 5 had nothing left"
        );
    }

    #[test]
    fn only_the_next_sequence_is_taken() {
        let mut window = ProducerWindow::new(60_000, 10);
        assert_eq!(
            window.check(9, 0, 500, 0),
            Sequence::OutOfOrder { expected: 0 },
            "an unknown producer starts at 0"
        );
        assert_eq!(window.check(9, 0, 0, 0), Sequence::Next);
        window.remember(9, 0, 0, 10, 0, 0);
        assert_eq!(window.check(9, 0, 10, 1), Sequence::Next);
        assert_eq!(
            window.check(9, 0, 0, 1),
            Sequence::Duplicate {
                base_offset: 0,
                record_count: 10
            }
        );
        assert_eq!(
            window.check(9, 0, 20, 1),
            Sequence::OutOfOrder { expected: 10 },
            "a gap forward: batch 10 is missing"
        );
        assert_eq!(
            window.check(9, 1, 0, 1),
            Sequence::Next,
            "a new epoch starts its sequences again"
        );
        assert_eq!(
            window.check(9, 1, 5, 1),
            Sequence::OutOfOrder { expected: 0 },
            "a new epoch's batch ahead of its first"
        );
        window.remember(9, 0, 10, 10, 10, 1);
        window.remember(9, 0, 20, 10, 20, 1);
        for _ in 0..5 {
            window.remember(9, 0, 30, 1, 30, 1);
        }
        assert_eq!(
            window.check(9, 0, 5, 1),
            Sequence::OutOfOrder { expected: 31 },
            "behind the last batch and no longer remembered: a resend too old to recognise"
        );
        assert_eq!(window.check(9, 1, 0, 1), Sequence::Next, "a new epoch");
    }
}
