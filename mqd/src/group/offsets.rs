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
    /// One lock over both maps, so that a commit and an expiry never interleave.
    inner: Mutex<Inner>,
    /// In a cluster: the metadata, which then answers every read.
    replicated: std::sync::OnceLock<std::sync::Arc<dyn super::cluster_hooks::ReplicatedOffsets>>,
}

#[derive(Default)]
struct Inner {
    offsets: HashMap<Key, Committed>,
    /// Per group: its last commit, or the last time it was seen with members.
    last_active: HashMap<String, Instant>,
}

impl Inner {
    fn touch(&mut self, group: &str, now: Instant) {
        match self.last_active.get_mut(group) {
            Some(at) => *at = now,
            None => {
                self.last_active.insert(group.to_owned(), now);
            }
        }
    }
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

    /// From now on reads come from `replicated` (a node that joined a cluster).
    pub fn read_from(
        &self,
        replicated: std::sync::Arc<dyn super::cluster_hooks::ReplicatedOffsets>,
    ) {
        let _ = self.replicated.set(replicated);
    }

    /// Whether the offsets live in a cluster's metadata.
    pub fn is_replicated(&self) -> bool {
        self.replicated.get().is_some()
    }

    pub fn get_full(&self, group: &str, topic: &str, partition: u32) -> Option<Committed> {
        if let Some(replicated) = self.replicated.get() {
            return replicated.get(group, topic, partition);
        }
        self.inner
            .lock()
            .offsets
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
        let mut inner = self.inner.lock();
        inner
            .offsets
            .insert(key(group, topic, partition), Committed { offset, metadata });
        inner.touch(group, Instant::now());
    }

    /// Drops every offset of the groups that `is_live` does not keep (they are marked active now)
    /// and that have not been active for `retention`; returns those groups. The caller holds
    /// whatever keeps `is_live` true until this returns (the group map's lock), so a member that
    /// joins meanwhile cannot lose its group's offsets.
    pub fn expire(
        &self,
        retention: Duration,
        now: Instant,
        is_live: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut inner = self.inner.lock();
        let mut expired = Vec::new();
        let mut live = Vec::new();
        for (group, at) in &inner.last_active {
            if is_live(group) {
                live.push(group.clone());
            } else if now.saturating_duration_since(*at) >= retention {
                expired.push(group.clone());
            }
        }
        for group in &live {
            inner.touch(group, now);
        }
        if !expired.is_empty() {
            for group in &expired {
                inner.last_active.remove(group);
            }
            let gone: std::collections::HashSet<&str> =
                expired.iter().map(String::as_str).collect();
            inner
                .offsets
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
        let mut inner = self.inner.lock();
        let key = key(group, topic, partition);
        if inner.offsets.get(&key).map(|c| c.offset) != expected {
            return false;
        }
        inner.offsets.insert(
            key,
            Committed {
                offset: next,
                metadata: None,
            },
        );
        inner.touch(group, Instant::now());
        true
    }

    /// Everything a group has committed.
    pub fn for_group(&self, group: &str) -> Vec<(TopicPartition, Committed)> {
        if let Some(replicated) = self.replicated.get() {
            return replicated.for_group(group);
        }
        self.inner
            .lock()
            .offsets
            .iter()
            .filter(|(k, _)| k.group == group)
            .map(|(k, c)| (TopicPartition::new(&k.topic, k.partition), c.clone()))
            .collect()
    }

    /// Every group with a committed offset.
    pub fn groups(&self) -> BTreeSet<String> {
        if let Some(replicated) = self.replicated.get() {
            return replicated.groups();
        }
        self.inner
            .lock()
            .offsets
            .keys()
            .map(|k| k.group.clone())
            .collect()
    }

    pub fn forget_topic(&self, topic: &str) {
        self.inner
            .lock()
            .offsets
            .retain(|key, _| key.topic != topic);
    }

    pub fn forget_group(&self, group: &str) {
        let mut inner = self.inner.lock();
        inner.offsets.retain(|key, _| key.group != group);
        inner.last_active.remove(group);
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
