//! Committed offsets: per group and partition, the next offset the group will read.

use parking_lot::Mutex;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    group: String,
    topic: String,
    partition: u32,
}

#[derive(Default)]
pub struct CommittedOffsets {
    offsets: Mutex<HashMap<Key, u64>>,
}

impl CommittedOffsets {
    pub fn get(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        let key = Key {
            group: group.to_owned(),
            topic: topic.to_owned(),
            partition,
        };
        self.offsets.lock().get(&key).copied()
    }

    pub fn commit(&self, group: &str, topic: &str, partition: u32, offset: u64) {
        let key = Key {
            group: group.to_owned(),
            topic: topic.to_owned(),
            partition,
        };
        self.offsets.lock().insert(key, offset);
    }

    /// Commits `next` only if the committed offset is still `expected` (None: never committed).
    /// Returns whether it did.
    pub fn compare_and_commit(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        expected: Option<u64>,
        next: u64,
    ) -> bool {
        let key = Key {
            group: group.to_owned(),
            topic: topic.to_owned(),
            partition,
        };
        let mut offsets = self.offsets.lock();
        if offsets.get(&key).copied() != expected {
            return false;
        }
        offsets.insert(key, next);
        true
    }

    pub fn forget_topic(&self, topic: &str) {
        self.offsets.lock().retain(|key, _| key.topic != topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_per_group_and_partition() {
        let offsets = CommittedOffsets::default();
        offsets.commit("g1", "t", 0, 5);
        offsets.commit("g2", "t", 0, 7);
        assert_eq!(offsets.get("g1", "t", 0), Some(5));
        assert_eq!(offsets.get("g2", "t", 0), Some(7));
        assert_eq!(offsets.get("g1", "t", 1), None);
        assert!(!offsets.compare_and_commit("g1", "t", 0, Some(4), 6));
        assert!(offsets.compare_and_commit("g1", "t", 0, Some(5), 6));
        offsets.forget_topic("t");
        assert_eq!(offsets.get("g1", "t", 0), None);
    }
}
