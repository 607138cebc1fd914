//! Partition leadership and ISR changes inside [`Metadata::apply`], so every node computes the same
//! ones from the same log (Kafka's controller does these in `PartitionStateMachine`):
//!
//! - a replica lost (its node is down, or came back as a new process with nothing in memory)
//!   leaves the ISR; if it led, the first live in-sync replica (in replica order) leads at a new
//!   leader epoch;
//! - with no live in-sync replica left, the partition stays with its last leader (offline while
//!   that node is down): a replica out of the ISR may lack acknowledged records, so it leads only
//!   when the topic sets `unclean_leader_election`;
//! - an ISR change comes from the current leader at the current partition epoch, and adds only live
//!   nodes; when it brings
//!   the preferred replica (the first) back in sync, leadership returns to it, so leaders stay
//!   spread after a node comes back.

use super::metadata::{CommandResult, Metadata, MetadataError, PartitionRecord};
use uuid::Uuid;

impl Metadata {
    /// `node` is down: its copies are out of every ISR, and the partitions it led elect anew.
    pub(super) fn replica_lost(&mut self, node: u64) {
        self.for_each_partition(|partition, unclean, alive| {
            lose_replica(partition, node, unclean, alive, false);
        });
    }

    /// `node` came back as a new process: like [`Self::replica_lost`], except that a partition it
    /// alone had in sync stays with it, at a new epoch (its records are gone; the new leader
    /// epoch tells the new log from the old).
    pub(super) fn replica_restarted(&mut self, node: u64) {
        self.for_each_partition(|partition, unclean, alive| {
            lose_replica(partition, node, unclean, alive, true);
        });
    }

    fn for_each_partition(
        &mut self,
        mut change: impl FnMut(&mut PartitionRecord, bool, &dyn Fn(u64) -> bool),
    ) {
        let alive: Vec<u64> = self.live_nodes();
        let is_alive = |n: u64| alive.contains(&n);
        for topic in self.topics.values_mut() {
            let unclean = topic.config.unclean_leader_election;
            for partition in &mut topic.partitions {
                change(partition, unclean, &is_alive);
            }
        }
    }

    /// Follower copies each registered node holds.
    pub fn follower_counts(&self) -> std::collections::BTreeMap<u64, u32> {
        let mut counts: std::collections::BTreeMap<u64, u32> =
            self.nodes.keys().map(|&id| (id, 0)).collect();
        for partition in self.topics.values().flat_map(|t| &t.partitions) {
            for &node in partition
                .replicas
                .iter()
                .filter(|&&n| n != partition.leader)
            {
                *counts.entry(node).or_default() += 1;
            }
        }
        counts
    }

    /// How many partitions are under-replicated (fewer in sync than replicas), and how many are
    /// offline (their leader is down).
    pub fn replication_health(&self) -> (u32, u32) {
        let (mut under, mut offline) = (0, 0);
        for partition in self.topics.values().flat_map(|t| &t.partitions) {
            if partition.under_replicated() {
                under += 1;
            }
            if !self.is_alive(partition.leader) {
                offline += 1;
            }
        }
        (under, offline)
    }

    pub(super) fn alter_isr(
        &mut self,
        topic: &str,
        topic_id: Uuid,
        index: u32,
        (leader, leader_epoch, partition_epoch): (u64, u32, u32),
        isr: &[u64],
    ) -> CommandResult {
        let alive: Vec<u64> = self.live_nodes();
        let stale = || MetadataError::StalePartitionState {
            topic: topic.to_owned(),
            partition: index,
        };
        let record = self
            .topics
            .get_mut(topic)
            .filter(|t| t.id == topic_id)
            .ok_or_else(|| MetadataError::UnknownTopic {
                name: topic.to_owned(),
            })?;
        let partition = record
            .partitions
            .get_mut(index as usize)
            .ok_or_else(stale)?;
        if partition.leader != leader
            || partition.leader_epoch != leader_epoch
            || partition.partition_epoch != partition_epoch
            || !isr.contains(&leader)
            || isr.iter().any(|n| !partition.replicas.contains(n))
            || isr
                .iter()
                .any(|n| !partition.isr.contains(n) && !alive.contains(n))
        {
            return Err(stale());
        }
        let mut ordered: Vec<u64> = partition
            .replicas
            .iter()
            .copied()
            .filter(|n| isr.contains(n))
            .collect();
        ordered.dedup();
        partition.isr = ordered;
        partition.partition_epoch += 1;
        let preferred = partition.replicas[0];
        if preferred != partition.leader
            && partition.isr.contains(&preferred)
            && alive.contains(&preferred)
        {
            partition.leader = preferred;
            partition.leader_epoch += 1;
            partition.partition_epoch += 1;
        }
        Ok(())
    }
}

fn lose_replica(
    partition: &mut PartitionRecord,
    node: u64,
    unclean: bool,
    alive: &dyn Fn(u64) -> bool,
    restarted: bool,
) {
    if partition.replicas.is_empty() {
        // Written before replication: the leader is the only replica.
        partition.replicas = vec![partition.leader];
        partition.isr = vec![partition.leader];
    }
    if !partition.is_replica(node) {
        return;
    }
    if partition.leader != node {
        if partition.isr.contains(&node) {
            partition.isr.retain(|&n| n != node);
            partition.partition_epoch += 1;
        }
        return;
    }
    let in_sync = partition
        .replicas
        .iter()
        .copied()
        .find(|&n| n != node && partition.isr.contains(&n) && alive(n));
    let out_of_sync = || {
        partition
            .replicas
            .iter()
            .copied()
            .find(|&n| n != node && alive(n))
    };
    let successor = in_sync.or_else(|| unclean.then(out_of_sync).flatten());
    match successor {
        Some(successor) => {
            partition.leader = successor;
            partition.leader_epoch += 1;
            partition.partition_epoch += 1;
            if in_sync.is_some() {
                partition.isr.retain(|&n| n != node);
            } else {
                partition.isr = vec![successor];
            }
        }
        None if restarted => {
            // It was the last in-sync replica and its records are gone: it leads an empty log at
            // a new epoch (offsets resume past its durable ceiling).
            partition.leader_epoch += 1;
            partition.partition_epoch += 1;
            partition.isr = vec![node];
        }
        None => {
            // Offline until it comes back: the ISR keeps its last member.
            partition.isr = vec![node];
        }
    }
}
