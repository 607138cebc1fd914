//! Partition leadership and ISR changes inside [`Metadata::apply`], so every node computes the same
//! ones from the same log (Kafka's controller does these in `PartitionStateMachine`):
//!
//! - a replica lost (its node is down, or came back as a new process with nothing in memory)
//!   leaves the ISR; if it led, the first live in-sync replica (in replica order) leads at a new
//!   leader epoch;
//! - a replica that leaves the ISR while it held no more than `min_insync_replicas` members joins
//!   the eligible leader replicas (ELR, Kafka's KIP-966): no `acks=all` record can be
//!   acknowledged after that, so it holds every acknowledged record; it leaves the ELR when it
//!   restarts (its records are gone) and the ELR empties once the ISR is back to
//!   `min_insync_replicas`;
//! - with no live in-sync replica left, a live eligible replica leads; with none either, the
//!   partition stays with its last leader (offline while that node is down): a replica out of the
//!   ISR and the ELR may lack acknowledged records, so it leads only when the topic sets
//!   `unclean_leader_election`. A last in-sync replica that restarted empty leads its empty log
//!   only when nothing better is left;
//! - an ISR change comes from the current leader at the current partition epoch, and adds only live
//!   nodes; when it brings
//!   the preferred replica (the first) back in sync, leadership returns to it, so leaders stay
//!   spread after a node comes back.

use super::metadata::{CommandResult, Metadata, MetadataError, PartitionRecord};
use uuid::Uuid;

impl Metadata {
    /// `node` is down: its copies are out of every ISR, and the partitions it led elect anew.
    pub(super) fn replica_lost(&mut self, node: u64) {
        self.for_each_partition(|partition, rules, alive| {
            lose_replica(partition, node, rules, alive, false);
        });
    }

    /// `node` is alive again as the same process: a partition whose leader is down and for which
    /// it is an eligible replica takes it as leader.
    pub(super) fn replica_returned(&mut self, node: u64) {
        self.for_each_partition(|partition, _, alive| {
            if !alive(partition.leader) && partition.elr.contains(&node) {
                partition.elr.retain(|&n| n != node);
                if !partition.elr.contains(&partition.leader) {
                    partition.elr.push(partition.leader);
                }
                partition.leader = node;
                partition.leader_epoch += 1;
                partition.partition_epoch += 1;
                partition.isr = vec![node];
            }
        });
    }

    /// `node` came back as a new process: like [`Self::replica_lost`], except that a partition it
    /// alone had in sync stays with it, at a new epoch (its records are gone; the new leader
    /// epoch tells the new log from the old).
    pub(super) fn replica_restarted(&mut self, node: u64) {
        self.for_each_partition(|partition, rules, alive| {
            lose_replica(partition, node, rules, alive, true);
        });
    }

    fn for_each_partition(
        &mut self,
        mut change: impl FnMut(&mut PartitionRecord, Rules, &dyn Fn(u64) -> bool),
    ) {
        let alive: Vec<u64> = self.live_nodes();
        let is_alive = |n: u64| alive.contains(&n);
        for topic in self.topics.values_mut() {
            let rules = Rules {
                unclean: topic.config.unclean_leader_election,
                min_insync: topic.config.min_insync_replicas.max(1) as usize,
            };
            for partition in &mut topic.partitions {
                change(partition, rules, &is_alive);
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
        let min_insync = record.config.min_insync_replicas.max(1) as usize;
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
        if partition.isr.len() >= min_insync {
            partition.elr.clear();
        } else {
            partition.elr.retain(|n| !isr.contains(n));
        }
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

/// How a topic's partitions elect.
#[derive(Debug, Clone, Copy)]
struct Rules {
    unclean: bool,
    min_insync: usize,
}

/// Takes `node` out of the ISR, into the ELR when the ISR held no more than `min_insync`
/// members (it then holds every acknowledged record).
fn leave_isr(partition: &mut PartitionRecord, node: u64, rules: Rules) {
    if !partition.isr.contains(&node) {
        return;
    }
    if partition.isr.len() <= rules.min_insync && !partition.elr.contains(&node) {
        partition.elr.push(node);
    }
    partition.isr.retain(|&n| n != node);
    partition.partition_epoch += 1;
}

fn lose_replica(
    partition: &mut PartitionRecord,
    node: u64,
    rules: Rules,
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
    if restarted {
        // Its records are gone: it holds nothing acknowledged any more.
        partition.elr.retain(|&n| n != node);
    }
    if partition.leader != node {
        leave_isr(partition, node, rules);
        return;
    }
    let in_sync = partition
        .replicas
        .iter()
        .copied()
        .find(|&n| n != node && partition.isr.contains(&n) && alive(n));
    let eligible = || {
        partition
            .replicas
            .iter()
            .copied()
            .find(|&n| n != node && partition.elr.contains(&n) && alive(n))
    };
    let out_of_sync = || {
        partition
            .replicas
            .iter()
            .copied()
            .find(|&n| n != node && alive(n))
    };
    if let Some(successor) = in_sync {
        leave_isr(partition, node, rules);
        if restarted {
            partition.elr.retain(|&n| n != node);
        }
        partition.leader = successor;
        partition.leader_epoch += 1;
        partition.partition_epoch += 1;
        return;
    }
    if let Some(successor) = eligible().or_else(|| rules.unclean.then(out_of_sync).flatten()) {
        // No live in-sync replica: an eligible one (or, opted in, any) leads alone.
        partition.elr.retain(|&n| n != successor);
        if !restarted && !partition.elr.contains(&node) {
            // The dead leader still holds every acknowledged record if it comes back as the
            // same process.
            partition.elr.push(node);
        }
        partition.leader = successor;
        partition.leader_epoch += 1;
        partition.partition_epoch += 1;
        partition.isr = vec![successor];
        return;
    }
    if restarted {
        // It was the last in-sync replica, its records are gone, and no eligible replica is
        // alive: it leads an empty log at a new epoch (offsets resume past its durable ceiling).
        partition.leader_epoch += 1;
        partition.partition_epoch += 1;
        partition.isr = vec![node];
    } else {
        // Offline until it (or an eligible replica) comes back: the ISR keeps its last member.
        partition.isr = vec![node];
    }
}
