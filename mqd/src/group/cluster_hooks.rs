//! What the group code needs from a cluster, declared here and implemented by `cluster` (the
//! layer above): committed offsets that live in the replicated metadata, so they survive the
//! coordinator's death, and reads of partitions that other nodes lead. A node alone has none of
//! this and keeps its offsets in [`CommittedOffsets`](super::CommittedOffsets).

use super::{Committed, GroupError, TopicPartition};
use crate::broker::{Broker, BrokerError, PartitionRead};
use futures_util::future::BoxFuture;
use mq_wire::api::OffsetCommit;
use std::collections::BTreeSet;
use std::time::Duration;

/// Committed offsets as the cluster's metadata holds them (read side).
pub trait ReplicatedOffsets: Send + Sync {
    fn get(&self, group: &str, topic: &str, partition: u32) -> Option<Committed>;
    fn for_group(&self, group: &str) -> Vec<(TopicPartition, Committed)>;
    fn groups(&self) -> BTreeSet<String>;
    /// When the group last committed (ms since the epoch).
    fn last_commit_ms(&self, group: &str) -> Option<i64>;
}

/// Everything else a coordinator in a cluster does through the cluster.
pub trait ClusterGroups: ReplicatedOffsets {
    /// Whether this node may serve the group now: it holds the group's coordinator slot, under a
    /// coordinator lease that is still running (see `cluster::coordinator_lease`), and the slot
    /// came to it at least a lease ago. `not_coordinator` when the slot is elsewhere,
    /// `coordinator_unavailable` (retriable) when the lease forbids it for now.
    fn check_coordinates(&self, group: &str) -> Result<(), GroupError>;

    /// [`ClusterGroups::check_coordinates`] as a yes or no.
    fn coordinates(&self, group: &str) -> bool {
        self.check_coordinates(group).is_ok()
    }

    /// Where a group taken over here starts numbering its generations: above every generation
    /// an earlier coordinator of the group gave out, and never the same as another coordinator's
    /// (even a stale one that has not yet learnt it lost the group).
    fn generation_floor(&self, group: &str) -> u64;

    /// The epoch of the group's coordinator slot, as this node knows it now.
    fn coordinator_epoch(&self, group: &str) -> u64;

    /// Writes offsets through the metadata; answers once they would survive this node's death.
    /// Refused with `not_coordinator` when this node no longer holds the group's slot, or holds
    /// it at another epoch than `claim_epoch` (the one a member's group state was built under).
    fn commit<'a>(
        &'a self,
        group: &'a str,
        offsets: Vec<OffsetCommit>,
        claim_epoch: Option<u64>,
    ) -> BoxFuture<'a, Result<(), GroupError>>;

    /// Drops a group's offsets from the metadata.
    fn delete_offsets<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), GroupError>>;

    /// Brings the bounds of partitions led elsewhere (the broker's placeholders) up to date.
    fn refresh_bounds<'a>(&'a self, broker: &'a Broker) -> BoxFuture<'a, ()>;

    /// Reads a partition led elsewhere from `from`, waiting up to `max_wait` for a record; the
    /// placeholder's bounds follow what the leader answered.
    fn read<'a>(
        &'a self,
        broker: &'a Broker,
        tp: &'a TopicPartition,
        from: u64,
        max_bytes: usize,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<PartitionRead, BrokerError>>;
}
