//! Consumer groups: the coordinator that shares a group's partitions among its members.
//!
//! | file | owns |
//! |---|---|
//! | `consumer_group.rs` | one group's state machine: generations, target assignment, handover without overlap |
//! | `assignor.rs` | range and round-robin, made sticky |
//! | `member.rs` | one member: subscription, ownership, positions, what it was last told |
//! | `coordinator.rs` | join, heartbeat, leave, session expiry |
//! | `classic.rs` | Kafka's classic protocol (rejoin, sync, heartbeat) on the same coordinator |
//! | `fetch.rs` | group fetch across all of a member's partitions, long-polling |
//! | `admin.rs` | commit (fenced), describe with lag, list, delete, reset offsets |
//! | `offsets.rs` | committed offsets per (group, topic, partition) |
//! | `cluster_hooks.rs` | what a coordinator in a cluster asks of it: replicated offsets, remote reads |
//! | `seed_consumer.rs` | the seed's `/consume` + `/commit`: a group with one implicit member |
//!
//! Fencing: a member's fetches and commits carry its member id and generation; an unknown member,
//! a generation other than the one it was last given, or a partition it does not own is refused with
//! its own error code, so a zombie can never commit over the partition's new owner.

mod admin;
mod assignor;
mod classic;
pub mod cluster_hooks;
mod consumer_group;
mod coordinator;
mod error;
mod fetch;
mod member;
mod offsets;
mod seed_consumer;

pub use classic::Liveness;
pub use error::GroupError;
pub use fetch::{FetchLimits, GroupFetched};
pub use offsets::{Committed, CommittedOffsets};
pub use seed_consumer::SeedConsumers;

use consumer_group::ConsumerGroup;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;

/// One partition of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

impl TopicPartition {
    pub fn new(topic: &str, partition: u32) -> Self {
        TopicPartition {
            topic: topic.to_owned(),
            partition,
        }
    }
}

/// Session timeouts a member may ask for.
#[derive(Debug, Clone, Copy)]
pub struct GroupSettings {
    pub default_session_timeout: Duration,
    pub min_session_timeout: Duration,
    pub max_session_timeout: Duration,
}

/// The consumer-group state of this node. The group map's lock is held only for bookkeeping,
/// never across an `.await`.
pub struct Groups {
    pub offsets: CommittedOffsets,
    pub seed: SeedConsumers,
    groups: Mutex<HashMap<String, ConsumerGroup>>,
    settings: GroupSettings,
    /// In a cluster: where offsets are written and other nodes' partitions read.
    cluster: std::sync::OnceLock<std::sync::Arc<dyn cluster_hooks::ClusterGroups>>,
    /// In a cluster: since when each group with offsets has been seen here without members (a
    /// coordinator that just took a group over starts counting then).
    idle_since: Mutex<HashMap<String, std::time::Instant>>,
}

impl Groups {
    pub fn new(settings: GroupSettings) -> Self {
        Groups {
            offsets: CommittedOffsets::default(),
            seed: SeedConsumers::default(),
            groups: Mutex::new(HashMap::new()),
            settings,
            cluster: std::sync::OnceLock::new(),
            idle_since: Mutex::new(HashMap::new()),
        }
    }

    /// Makes this node a coordinator in a cluster: offsets are read from and written to the
    /// metadata, and partitions led elsewhere are read from their leaders.
    pub fn join_cluster(&self, cluster: std::sync::Arc<dyn cluster_hooks::ClusterGroups>) {
        self.offsets.read_from(cluster.clone());
        let _ = self.cluster.set(cluster);
    }

    /// Where a group taken over here starts numbering its generations (0 for a node alone).
    fn generation_base(&self, group: &str) -> u64 {
        self.cluster
            .get()
            .map_or(0, |cluster| cluster.generation_floor(group))
    }

    /// In a cluster: the epoch of the group's coordinator slot as this node knows it now.
    fn claim_epoch(&self, group: &str) -> Option<u64> {
        self.cluster
            .get()
            .map(|cluster| cluster.coordinator_epoch(group))
    }

    /// Whether this node coordinates `group` (always, for a node alone).
    pub fn coordinated_here(&self, group: &str) -> bool {
        self.check_coordinated_here(group).is_ok()
    }

    /// Whether this node may serve `group` now (always, for a node alone); in a cluster, why not
    /// (`not_coordinator`, or `coordinator_unavailable` while its lease forbids it). Every
    /// request that reads or changes a group's live state asks first: the state of a coordinator
    /// that lost its slot without knowing it must not be served.
    pub fn check_coordinated_here(&self, group: &str) -> Result<(), GroupError> {
        match self.cluster.get() {
            Some(cluster) => cluster.check_coordinates(group),
            None => Ok(()),
        }
    }

    /// The member id a static member (`instance_id` at join) holds now in `group`, if any.
    pub fn member_of_instance(&self, group: &str, instance: &str) -> Option<String> {
        let groups = self.groups.lock();
        groups
            .get(group)?
            .member_of_instance(instance)
            .map(str::to_owned)
    }

    /// `error` as a member of `group` should read it: `fenced_instance` rather than
    /// `unknown_member` for a member id a static member's newer process replaced.
    pub fn refine(&self, group: &str, error: GroupError) -> GroupError {
        let groups = self.groups.lock();
        match groups.get(group) {
            Some(live) => live.refine(error),
            None => error,
        }
    }

    /// Drops the live state (members, assignments) of groups this node no longer coordinates:
    /// their members find the new coordinator and join there.
    pub fn retain_coordinated(&self, coordinates: impl Fn(&str) -> bool) {
        let mut groups = self.groups.lock();
        groups.retain(|name, group| {
            let keep = coordinates(name);
            if !keep {
                group.wake.notify_waiters();
                tracing::info!(group = %name, "group moved to another coordinator");
            }
            keep
        });
    }

    /// Refuses when `group` has members: the seed's implicit single member must not commit around
    /// the fencing of a real group of the same name.
    pub fn check_no_members(&self, group: &str) -> Result<(), GroupError> {
        match self.groups.lock().get(group) {
            Some(g) if !g.members.is_empty() => Err(GroupError::GroupNotEmpty(group.to_owned())),
            _ => Ok(()),
        }
    }

    /// Expires the committed offsets of groups that have had no members and no commit for
    /// `retention` (Kafka's `offsets.retention.minutes`), and what the seed remembers of such
    /// consumers; the empty group itself then goes at the next session pass. Returns the groups.
    pub fn expire_offsets(&self, retention: Duration) -> Vec<String> {
        // The group map stays locked through the pass: a member joining meanwhile waits, and its
        // group is then live (lock order: groups, then offsets, as everywhere).
        let groups = self.groups.lock();
        let is_live = |name: &str| groups.get(name).is_some_and(|g| !g.members.is_empty());
        let expired = self
            .offsets
            .expire(retention, std::time::Instant::now(), is_live);
        drop(groups);
        if !expired.is_empty() {
            self.seed.forget_consumers(&expired);
            tracing::info!(
                groups = expired.len(),
                "expired the committed offsets of groups gone for groups.offsets_retention"
            );
        }
        expired
    }

    /// In a cluster: drops from the metadata the offsets of the groups this node coordinates that
    /// have had no member here for `retention` and have not committed for as long. Returns those
    /// groups.
    pub async fn expire_replicated_offsets(&self, retention: Duration, now_ms: i64) -> Vec<String> {
        let Some(cluster) = self.cluster.get() else {
            return Vec::new();
        };
        let retention_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let now = std::time::Instant::now();
        let expired: Vec<String> = {
            let groups = self.groups.lock();
            let mut idle_since = self.idle_since.lock();
            let with_offsets = cluster.groups();
            idle_since.retain(|name, _| with_offsets.contains(name));
            with_offsets
                .into_iter()
                .filter(|name| cluster.coordinates(name))
                .filter(|name| {
                    if groups.get(name).is_some_and(|g| !g.members.is_empty()) {
                        idle_since.remove(name);
                        return false;
                    }
                    let since = *idle_since.entry(name.clone()).or_insert(now);
                    now.saturating_duration_since(since) >= retention
                })
                .filter(|name| {
                    cluster
                        .last_commit_ms(name)
                        .is_some_and(|at| now_ms.saturating_sub(at) >= retention_ms)
                })
                .collect()
        };
        let mut gone = Vec::new();
        for name in expired {
            // A member may have joined since the pass above: then the group stays.
            if self
                .groups
                .lock()
                .get(&name)
                .is_some_and(|g| !g.members.is_empty())
            {
                continue;
            }
            match cluster.delete_offsets(&name).await {
                Ok(()) => gone.push(name),
                Err(error) => tracing::warn!(group = %name, %error, "could not expire the offsets"),
            }
        }
        if !gone.is_empty() {
            self.seed.forget_consumers(&gone);
            tracing::info!(
                groups = gone.len(),
                "expired the committed offsets of groups gone for groups.offsets_retention"
            );
        }
        gone
    }

    /// Forgets everything about a deleted topic, so a topic re-created with the same name starts
    /// from its log start, not from offsets of the old one. Groups drop its partitions at their
    /// next rebalance.
    pub fn forget_topic(&self, topic: &str) {
        let mut groups = self.groups.lock();
        for group in groups.values_mut() {
            group.forget_topic(topic);
        }
        self.offsets.forget_topic(topic);
        self.seed.forget_topic(topic);
    }
}

#[cfg(test)]
mod tests;
