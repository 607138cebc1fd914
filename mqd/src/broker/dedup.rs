//! The dedup window of a topic: record ids given by producers, remembered for a time and up to a
//! count, each with where its record landed. A record whose id is in the window is acknowledged with
//! that position and not appended again (the seed's rule: an event is unique in its topic).
//!
//! Only ids that producers chose are remembered; ids the broker makes are unique by construction.

use mq_wire::api::RecordPosition;
use std::collections::{HashMap, VecDeque};
use uuid::Uuid;

#[derive(Debug)]
pub struct DedupWindow {
    positions: HashMap<Uuid, RecordPosition>,
    /// Ids in the order they were remembered, with when.
    arrivals: VecDeque<(Uuid, i64)>,
    window_ms: i64,
    max_ids: usize,
}

impl DedupWindow {
    pub fn new(window_ms: u64, max_ids: u64) -> Self {
        DedupWindow {
            positions: HashMap::new(),
            arrivals: VecDeque::new(),
            window_ms: i64::try_from(window_ms).unwrap_or(i64::MAX),
            max_ids: usize::try_from(max_ids).unwrap_or(usize::MAX),
        }
    }

    /// Where the record with `id` landed, if it is still remembered at `now_ms`.
    pub fn position_of(&mut self, id: &Uuid, now_ms: i64) -> Option<RecordPosition> {
        self.forget_expired(now_ms);
        self.positions.get(id).copied()
    }

    pub fn remember(&mut self, id: Uuid, position: RecordPosition, now_ms: i64) {
        if self.max_ids == 0 {
            return;
        }
        if self.positions.insert(id, position).is_none() {
            self.arrivals.push_back((id, now_ms));
        }
        while self.arrivals.len() > self.max_ids {
            self.forget_oldest();
        }
    }

    /// Forgets the ids of records at `offset` or after in `partition`: a follower truncated
    /// them, so a producer's retry of one is new again and must be appended, not answered with
    /// an offset that now holds another record.
    pub fn forget_from(&mut self, partition: u32, offset: u64) {
        self.positions
            .retain(|_, p| p.partition != partition || p.offset < offset);
        let positions = &self.positions;
        self.arrivals.retain(|(id, _)| positions.contains_key(id));
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.positions.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    fn forget_expired(&mut self, now_ms: i64) {
        while let Some(&(_, at)) = self.arrivals.front() {
            if at.saturating_add(self.window_ms) > now_ms {
                break;
            }
            self.forget_oldest();
        }
    }

    fn forget_oldest(&mut self) {
        if let Some((id, _)) = self.arrivals.pop_front() {
            self.positions.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> RecordPosition {
        RecordPosition {
            partition: 0,
            offset,
            duplicate: false,
        }
    }

    #[test]
    fn remembers_within_the_window_and_forgets_after() {
        let mut window = DedupWindow::new(1_000, 10);
        let id = Uuid::from_u128(1);
        window.remember(id, at(5), 100);
        assert_eq!(window.position_of(&id, 1_099), Some(at(5)));
        assert_eq!(window.position_of(&id, 1_100), None);
        assert!(window.is_empty());
    }

    #[test]
    fn forgets_the_oldest_past_the_count() {
        let mut window = DedupWindow::new(60_000, 3);
        for i in 0..5u64 {
            window.remember(Uuid::from_u128(u128::from(i)), at(i), 0);
        }
        assert_eq!(window.len(), 3);
        assert_eq!(window.position_of(&Uuid::from_u128(1), 0), None);
        assert_eq!(window.position_of(&Uuid::from_u128(4), 0), Some(at(4)));
    }

    #[test]
    fn ids_of_truncated_records_are_forgotten() {
        let mut window = DedupWindow::new(60_000, 10);
        let other_partition = RecordPosition {
            partition: 1,
            offset: 9,
            duplicate: false,
        };
        window.remember(Uuid::from_u128(1), at(4), 0);
        window.remember(Uuid::from_u128(2), at(5), 0);
        window.remember(Uuid::from_u128(3), other_partition, 0);
        window.forget_from(0, 5);
        assert_eq!(window.position_of(&Uuid::from_u128(1), 0), Some(at(4)));
        assert_eq!(
            window.position_of(&Uuid::from_u128(2), 0),
            None,
            "truncated"
        );
        assert_eq!(
            window.position_of(&Uuid::from_u128(3), 0),
            Some(other_partition),
            "another partition"
        );
        assert_eq!(window.len(), 2);
    }
}
