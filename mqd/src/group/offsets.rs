//! Committed offsets: per group and partition, the next offset the group will read, with optional
//! metadata; and when each group was last active, so that the offsets of a group that has been
//! gone for `groups.offsets_retention` expire, as Kafka's do after `offsets.retention.minutes`.

use super::TopicPartition;
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    group: String,
    topic: String,
    partition: u32,
}

/// One committed offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    pub offset: u64,
    pub metadata: Option<String>,
}

#[derive(Default)]
pub struct CommittedOffsets {
    offsets: Mutex<HashMap<Key, Committed>>,
    /// Per group: its last commit, or the last time it was seen with members.
    last_active: Mutex<HashMap<String, Instant>>,
}

fn key(group: &str, topic: &str, partition: u32) -> Key {
    Key {
        group: group.to_owned(),
        topic: topic.to_owned(),
        partition,
    }
}

impl CommittedOffsets {
    pub fn get(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        self.get_full(group, topic, partition).map(|c| c.offset)
    }

    pub fn get_full(&self, group: &str, topic: &str, partition: u32) -> Option<Committed> {
        self.offsets
            .lock()
            .get(&key(group, topic, partition))
            .cloned()
    }

    pub fn commit(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        offset: u64,
        metadata: Option<String>,
    ) {
        self.offsets
            .lock()
            .insert(key(group, topic, partition), Committed { offset, metadata });
        self.touch(group);
    }

    /// Marks `group` active now (it committed, or it has members).
    pub fn touch(&self, group: &str) {
        let now = Instant::now();
        let mut active = self.last_active.lock();
        match active.get_mut(group) {
            Some(at) => *at = now,
            None => {
                active.insert(group.to_owned(), now);
            }
        }
    }

    /// Drops every offset of the groups that `is_live` does not keep and that have not been active
    /// for `retention`; returns those groups.
    pub fn expire(
        &self,
        retention: Duration,
        now: Instant,
        is_live: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let expired: Vec<String> = {
            let mut active = self.last_active.lock();
            let expired: Vec<String> = active
                .iter()
                .filter(|(group, at)| now.duration_since(**at) >= retention && !is_live(group))
                .map(|(group, _)| group.clone())
                .collect();
            for group in &expired {
                active.remove(group);
            }
            expired
        };
        if !expired.is_empty() {
            let gone: std::collections::HashSet<&str> =
                expired.iter().map(String::as_str).collect();
            self.offsets
                .lock()
                .retain(|key, _| !gone.contains(key.group.as_str()));
        }
        expired
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
        let mut offsets = self.offsets.lock();
        let key = key(group, topic, partition);
        if offsets.get(&key).map(|c| c.offset) != expected {
            return false;
        }
        offsets.insert(
            key,
            Committed {
                offset: next,
                metadata: None,
            },
        );
        drop(offsets);
        self.touch(group);
        true
    }

    /// Everything a group has committed.
    pub fn for_group(&self, group: &str) -> Vec<(TopicPartition, Committed)> {
        self.offsets
            .lock()
            .iter()
            .filter(|(k, _)| k.group == group)
            .map(|(k, c)| (TopicPartition::new(&k.topic, k.partition), c.clone()))
            .collect()
    }

    /// Every group with a committed offset.
    pub fn groups(&self) -> BTreeSet<String> {
        self.offsets
            .lock()
            .keys()
            .map(|k| k.group.clone())
            .collect()
    }

    pub fn forget_topic(&self, topic: &str) {
        self.offsets.lock().retain(|key, _| key.topic != topic);
    }

    pub fn forget_group(&self, group: &str) {
        self.offsets.lock().retain(|key, _| key.group != group);
        self.last_active.lock().remove(group);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_are_per_group_and_partition() {
        let offsets = CommittedOffsets::default();
        offsets.commit("g1", "t", 0, 5, None);
        offsets.commit("g2", "t", 0, 7, Some("m".into()));
        assert_eq!(offsets.get("g1", "t", 0), Some(5));
        assert_eq!(
            offsets.get_full("g2", "t", 0).unwrap().metadata.as_deref(),
            Some("m")
        );
        assert_eq!(offsets.get("g1", "t", 1), None);
        assert!(!offsets.compare_and_commit("g1", "t", 0, Some(4), 6));
        assert!(offsets.compare_and_commit("g1", "t", 0, Some(5), 6));
        assert_eq!(offsets.groups().len(), 2);
        offsets.forget_group("g2");
        assert_eq!(offsets.for_group("g2").len(), 0);
        offsets.forget_topic("t");
        assert_eq!(offsets.get("g1", "t", 0), None);
    }

    #[test]
    fn offsets_of_a_gone_group_expire_after_the_retention() {
        let offsets = CommittedOffsets::default();
        offsets.commit("gone", "t", 0, 5, None);
        offsets.commit("live", "t", 0, 7, None);
        let retention = Duration::from_secs(60);
        let soon = Instant::now() + Duration::from_secs(30);
        assert!(offsets.expire(retention, soon, |_| false).is_empty());
        let later = Instant::now() + Duration::from_secs(61);
        let expired = offsets.expire(retention, later, |group| group == "live");
        assert_eq!(expired, vec!["gone".to_owned()]);
        assert_eq!(offsets.get("gone", "t", 0), None);
        assert_eq!(offsets.get("live", "t", 0), Some(7));
    }
}
