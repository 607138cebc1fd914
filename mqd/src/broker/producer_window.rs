//! Idempotent binary produce, as Kafka's idempotent producer: a batch carrying a producer id
//! (>= 0) and a base sequence that this partition has seen recently is acknowledged with its first
//! base offset and not appended again. Per producer the last few batches are remembered, and the
//! producers least recently seen are forgotten past a count or after the dedup window.

use std::collections::{HashMap, VecDeque};

/// Batches remembered per producer (Kafka keeps five in flight).
const BATCHES_PER_PRODUCER: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Remembered {
    epoch: i16,
    base_sequence: i32,
    base_offset: u64,
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

    /// The first base offset of this batch, if it was appended before.
    pub fn seen(
        &self,
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
        now_ms: i64,
    ) -> Option<u64> {
        let (last_seen, batches) = self.producers.get(&producer_id)?;
        if last_seen.saturating_add(self.window_ms) <= now_ms {
            return None;
        }
        batches
            .iter()
            .find(|b| b.epoch == epoch && b.base_sequence == base_sequence)
            .map(|b| b.base_offset)
    }

    pub fn remember(
        &mut self,
        producer_id: i64,
        epoch: i16,
        base_sequence: i32,
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
            base_offset,
        });
        while batches.len() > BATCHES_PER_PRODUCER {
            batches.pop_front();
        }
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
        window.remember(7, 0, 100, 42, 0);
        assert_eq!(window.seen(7, 0, 100, 500), Some(42));
        assert_eq!(window.seen(7, 1, 100, 500), None, "another epoch");
        assert_eq!(window.seen(7, 0, 101, 500), None);
        assert_eq!(window.seen(7, 0, 100, 1_000), None, "past the window");
    }

    #[test]
    fn only_the_last_batches_and_producers_are_kept() {
        let mut window = ProducerWindow::new(60_000, 2);
        for seq in 0..7 {
            window.remember(1, 0, seq, seq as u64, 1);
        }
        assert_eq!(window.seen(1, 0, 1, 1), None);
        assert_eq!(window.seen(1, 0, 6, 1), Some(6));
        window.remember(2, 0, 0, 0, 2);
        window.remember(3, 0, 0, 0, 3);
        assert_eq!(
            window.seen(1, 0, 6, 3),
            None,
            "producer 1 was seen longest ago"
        );
        assert_eq!(window.seen(3, 0, 0, 3), Some(0));
    }
}
