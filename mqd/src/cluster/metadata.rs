//! The cluster's metadata: the state every node holds a copy of, changed only by [`Command`]s that
//! the Raft log orders. [`Metadata::apply`] is a pure function of the state and the command, so
//! every node that applies the same log holds the same metadata.
//!
//! Invariants kept here (the elections themselves are in [`super::election`]):
//! - a partition's leader epoch only rises, and rises at every change of leader, and whenever the
//!   node leading it comes back as a new process (its records are gone), so a reader can tell one
//!   leader's log from the next (Kafka's leader epoch, KIP-101);
//! - the leader is always in the ISR, and only an ISR member becomes leader (unless the topic
//!   opts into unclean elections): every record below the high watermark is on every ISR member,
//!   so an election loses none of them;
//! - an ISR change is applied only when proposed by the current leader at the current partition
//!   epoch (Kafka's AlterPartition): a deposed leader cannot shrink the ISR to itself;
//! - a group's offsets are written only by the node that holds the group's coordinator slot, at the
//!   slot's current epoch: a coordinator that lost its slot (it was down, the slot moved) is fenced.

use crate::broker::topic_config::altered;
use mq_wire::api::{AlterTopicConfigRequest, TopicConfig};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// How many coordinator slots share the groups: a group's coordinator is the node holding slot
/// `hash(group) % GROUP_SLOTS`, as Kafka's is the leader of a `__consumer_offsets` partition.
pub const GROUP_SLOTS: u32 = 32;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub nodes: BTreeMap<u64, NodeRecord>,
    pub topics: BTreeMap<String, TopicRecord>,
    /// Which node coordinates the groups hashed to each slot; empty until a node registers.
    pub slots: Vec<CoordinatorSlot>,
    /// Committed offsets: group → topic → partition → offset.
    pub offsets: BTreeMap<String, BTreeMap<String, BTreeMap<u32, CommittedRecord>>>,
    /// When each group with offsets last committed (ms since the epoch, the coordinator's clock):
    /// its offsets expire `groups.offsets_retention` after that once it has no members.
    #[serde(default)]
    pub last_commit_ms: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Alive,
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    pub addr: String,
    pub state: NodeState,
    /// When the node entered `state`, ms since the epoch (the controller's clock).
    pub since_ms: i64,
    /// Made anew by each `mqd` process: a new one means the node restarted and lost its records.
    pub incarnation: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicRecord {
    /// Tells a topic from an older one of the same name.
    pub id: Uuid,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionRecord {
    pub leader: u64,
    pub leader_epoch: u32,
    /// Every node holding a copy, the preferred leader first.
    #[serde(default)]
    pub replicas: Vec<u64>,
    /// In-sync replicas: the leader and the followers that hold every committed record.
    #[serde(default)]
    pub isr: Vec<u64>,
    /// Raised at every change of leader or ISR: an ISR change proposed against an older state
    /// is refused.
    #[serde(default)]
    pub partition_epoch: u32,
    /// Eligible leader replicas (Kafka's KIP-966): replicas that left the ISR while it held no
    /// more than `min_insync_replicas` members, so each still holds every record acknowledged
    /// with `acks=all`. With no live in-sync replica, one of them leads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elr: Vec<u64>,
    /// Records below this offset, written at leader epoch [`Self::deleted_at_epoch`] or before,
    /// were deleted (DeleteRecords) and the delete acknowledged: no replica serves them again,
    /// whichever leads next. Records a later leader wrote below it (one elected with a shorter
    /// log) are not these.
    #[serde(default)]
    pub deleted_before: u64,
    /// The leader epoch of the newest delete.
    #[serde(default)]
    pub deleted_at_epoch: u32,
}

impl PartitionRecord {
    /// A new partition: its first replica leads, every replica is in sync.
    pub fn new(replicas: Vec<u64>) -> Self {
        PartitionRecord {
            leader: replicas[0],
            leader_epoch: 0,
            isr: replicas.clone(),
            replicas,
            partition_epoch: 0,
            elr: Vec::new(),
            deleted_before: 0,
            deleted_at_epoch: 0,
        }
    }

    /// Whether `node` holds a copy.
    pub fn is_replica(&self, node: u64) -> bool {
        self.leader == node || self.replicas.contains(&node)
    }

    /// Fewer in-sync replicas than replicas.
    pub fn under_replicated(&self) -> bool {
        self.isr.len() < self.replicas.len()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinatorSlot {
    pub node: u64,
    /// Raised each time the slot moves: commits carry it, so an old coordinator is fenced.
    pub epoch: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedRecord {
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// One offset of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetCommit {
    pub topic: String,
    /// The topic as the coordinator saw it: a commit for a topic deleted (and perhaps created
    /// again) since is refused, so it cannot land on the new topic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic_id: Option<Uuid>,
    pub partition: u32,
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// Who writes a group's offsets: the node holding its slot, at the slot's epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoordinatorClaim {
    pub node: u64,
    pub epoch: u64,
}

/// A change to the metadata, decided by the controller (placement is computed before it is
/// proposed, so applying it is deterministic).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    /// A node reported in: it is alive. A new incarnation means it restarted empty.
    NodeUp {
        id: u64,
        addr: String,
        incarnation: Uuid,
        now_ms: i64,
    },
    /// A node missed its session: down. Its coordinator slots move to live nodes.
    NodeDown {
        id: u64,
        now_ms: i64,
    },
    CreateTopic {
        name: String,
        id: Uuid,
        config: TopicConfig,
        /// The replicas of each partition, its first leader first.
        replicas: Vec<Vec<u64>>,
    },
    /// A partition's leader changes its ISR (a follower fell behind or caught up).
    AlterIsr {
        topic: String,
        topic_id: Uuid,
        partition: u32,
        /// Who proposes, with the leader epoch and partition epoch it knows.
        leader: u64,
        leader_epoch: u32,
        partition_epoch: u32,
        isr: Vec<u64>,
    },
    DeleteTopic {
        name: String,
    },
    /// Changes a topic's settings (not its partitions or replication factor). The changes, not
    /// the settings after, so that two alters of different settings both hold.
    AlterTopicConfig {
        name: String,
        changes: AlterTopicConfigRequest,
    },
    CommitOffsets {
        group: String,
        claim: CoordinatorClaim,
        offsets: Vec<OffsetCommit>,
        #[serde(default)]
        now_ms: i64,
    },
    /// Drops a group's offsets (a group delete).
    DeleteGroup {
        group: String,
        claim: CoordinatorClaim,
    },
    /// A partition's leader, at `leader_epoch`, deleted its records below `before` and its
    /// in-sync followers followed: the replica elected next deletes them too, even one that was
    /// not copying then (an eligible leader replica). Refused from a leader deposed since.
    DeleteRecords {
        topic: String,
        topic_id: Uuid,
        partition: u32,
        leader_epoch: u32,
        before: u64,
    },
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "snake_case")]
pub enum MetadataError {
    #[error("topic `{name}` already exists")]
    TopicExists { name: String },
    #[error("unknown topic `{name}`")]
    UnknownTopic { name: String },
    #[error("node {node} no longer coordinates group `{group}`")]
    NotCoordinator { group: String, node: u64 },
    #[error(
        "{topic}/{partition} changed since: the proposal was made against an older leader or ISR"
    )]
    StalePartitionState { topic: String, partition: u32 },
    #[error("invalid config for topic `{topic}`: {reason}")]
    InvalidConfig { topic: String, reason: String },
}

/// What applying one command gave.
pub type CommandResult = Result<(), MetadataError>;

/// The slot of a group: murmur2 of its name, as partitions are picked by key.
pub fn slot_of(group: &str) -> u32 {
    (murmur2::murmur2(group.as_bytes(), murmur2::KAFKA_SEED) & 0x7fff_ffff) % GROUP_SLOTS
}

impl Metadata {
    pub fn apply(&mut self, command: &Command) -> CommandResult {
        match command {
            Command::NodeUp {
                id,
                addr,
                incarnation,
                now_ms,
            } => {
                self.node_up(*id, addr, *incarnation, *now_ms);
                Ok(())
            }
            Command::NodeDown { id, now_ms } => {
                if let Some(node) = self.nodes.get_mut(id) {
                    if node.state != NodeState::Down {
                        node.state = NodeState::Down;
                        node.since_ms = *now_ms;
                    }
                }
                self.move_slots_off(*id);
                self.replica_lost(*id);
                Ok(())
            }
            Command::CreateTopic {
                name,
                id,
                config,
                replicas,
            } => {
                if self.topics.contains_key(name) {
                    return Err(MetadataError::TopicExists { name: name.clone() });
                }
                let partitions = replicas
                    .iter()
                    .map(|replicas| PartitionRecord::new(replicas.clone()))
                    .collect();
                self.topics.insert(
                    name.clone(),
                    TopicRecord {
                        id: *id,
                        config: config.clone(),
                        partitions,
                    },
                );
                Ok(())
            }
            Command::AlterIsr {
                topic,
                topic_id,
                partition,
                leader,
                leader_epoch,
                partition_epoch,
                isr,
            } => self.alter_isr(
                topic,
                *topic_id,
                *partition,
                (*leader, *leader_epoch, *partition_epoch),
                isr,
            ),
            Command::DeleteTopic { name } => {
                if self.topics.remove(name).is_none() {
                    return Err(MetadataError::UnknownTopic { name: name.clone() });
                }
                for topics in self.offsets.values_mut() {
                    topics.remove(name);
                }
                self.offsets.retain(|_, topics| !topics.is_empty());
                let offsets = &self.offsets;
                self.last_commit_ms
                    .retain(|group, _| offsets.contains_key(group));
                Ok(())
            }
            Command::DeleteRecords {
                topic,
                topic_id,
                partition,
                leader_epoch,
                before,
            } => {
                let unknown = || MetadataError::UnknownTopic {
                    name: topic.clone(),
                };
                let record = self
                    .topics
                    .get_mut(topic)
                    .filter(|t| t.id == *topic_id)
                    .ok_or_else(unknown)?;
                let placed = record
                    .partitions
                    .get_mut(*partition as usize)
                    .ok_or_else(unknown)?;
                if placed.leader_epoch != *leader_epoch {
                    return Err(MetadataError::StalePartitionState {
                        topic: topic.clone(),
                        partition: *partition,
                    });
                }
                // A delete at a newer epoch covers an older one: that leader's log started at
                // or above what the older delete reached in it.
                if *leader_epoch > placed.deleted_at_epoch {
                    placed.deleted_before = *before;
                    placed.deleted_at_epoch = *leader_epoch;
                } else {
                    placed.deleted_before = placed.deleted_before.max(*before);
                }
                Ok(())
            }
            Command::AlterTopicConfig { name, changes } => {
                let record = self
                    .topics
                    .get_mut(name)
                    .ok_or_else(|| MetadataError::UnknownTopic { name: name.clone() })?;
                let config = altered(&record.config, changes).map_err(|error| {
                    MetadataError::InvalidConfig {
                        topic: name.clone(),
                        reason: error.to_string(),
                    }
                })?;
                if config.min_insync_replicas != record.config.min_insync_replicas {
                    // An ELR member holds every acks=all record only while acks=all needed
                    // min_insync_replicas in sync: under another minimum that no longer holds
                    // (Kafka's KIP-966 clears the ELR likewise).
                    for partition in &mut record.partitions {
                        partition.elr.clear();
                    }
                }
                record.config = config;
                Ok(())
            }
            Command::CommitOffsets {
                group,
                claim,
                offsets,
                now_ms,
            } => {
                self.check_claim(group, *claim)?;
                for commit in offsets {
                    let current = self.topics.get(&commit.topic).map(|t| t.id);
                    if current.is_none()
                        || (commit.topic_id.is_some() && commit.topic_id != current)
                    {
                        return Err(MetadataError::UnknownTopic {
                            name: commit.topic.clone(),
                        });
                    }
                }
                self.last_commit_ms.insert(group.clone(), *now_ms);
                let committed = self.offsets.entry(group.clone()).or_default();
                for commit in offsets {
                    committed.entry(commit.topic.clone()).or_default().insert(
                        commit.partition,
                        CommittedRecord {
                            offset: commit.offset,
                            metadata: commit.metadata.clone(),
                        },
                    );
                }
                Ok(())
            }
            Command::DeleteGroup { group, claim } => {
                self.check_claim(group, *claim)?;
                self.offsets.remove(group);
                self.last_commit_ms.remove(group);
                Ok(())
            }
        }
    }

    /// The slot holding `group` now, if any node has registered yet.
    pub fn slot(&self, group: &str) -> Option<(u32, CoordinatorSlot)> {
        let index = slot_of(group);
        self.slots.get(index as usize).map(|slot| (index, *slot))
    }

    pub fn is_alive(&self, node: u64) -> bool {
        self.nodes
            .get(&node)
            .is_some_and(|n| n.state == NodeState::Alive)
    }

    /// Live node ids, in order.
    pub fn live_nodes(&self) -> Vec<u64> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.state == NodeState::Alive)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Partitions each node leads, for every registered node.
    pub fn leader_counts(&self) -> BTreeMap<u64, u32> {
        let mut counts: BTreeMap<u64, u32> = self.nodes.keys().map(|&id| (id, 0)).collect();
        for topic in self.topics.values() {
            for partition in &topic.partitions {
                *counts.entry(partition.leader).or_default() += 1;
            }
        }
        counts
    }

    fn check_claim(&self, group: &str, claim: CoordinatorClaim) -> CommandResult {
        match self.slot(group) {
            Some((_, slot)) if slot.node == claim.node && slot.epoch == claim.epoch => Ok(()),
            _ => Err(MetadataError::NotCoordinator {
                group: group.to_owned(),
                node: claim.node,
            }),
        }
    }

    fn node_up(&mut self, id: u64, addr: &str, incarnation: Uuid, now_ms: i64) {
        let restarted = match self.nodes.get(&id) {
            Some(node) => node.incarnation != incarnation,
            None => false,
        };
        let node = self.nodes.entry(id).or_insert_with(|| NodeRecord {
            addr: addr.to_owned(),
            state: NodeState::Down,
            since_ms: now_ms,
            incarnation,
        });
        node.addr = addr.to_owned();
        let returned = node.state != NodeState::Alive && !restarted;
        if node.state != NodeState::Alive || restarted {
            node.state = NodeState::Alive;
            node.since_ms = now_ms;
        }
        node.incarnation = incarnation;
        if returned {
            // The same process is back with its records: offline partitions it is eligible for
            // take it as leader.
            self.replica_returned(id);
        }
        if restarted {
            // Its records are gone: its copies leave the ISR, and the partitions it led move to
            // an in-sync replica (or, with none left, stay with it at a new epoch).
            self.replica_restarted(id);
            // Its groups' live state is gone too: a new slot epoch fences the old process's
            // claims and numbers the groups' generations above the old ones.
            for slot in self.slots.iter_mut().filter(|s| s.node == id) {
                slot.epoch += 1;
            }
        }
        self.balance_slots();
    }

    /// Moves the slots of `down` to the live nodes holding the fewest.
    fn move_slots_off(&mut self, down: u64) {
        let live = self.live_nodes();
        if live.is_empty() {
            return;
        }
        for index in 0..self.slots.len() {
            if self.slots[index].node == down {
                let target = self.least_loaded(&live);
                let slot = &mut self.slots[index];
                slot.node = target;
                slot.epoch += 1;
            }
        }
    }

    /// Gives every live node its share of the slots: the first node takes them all, and each
    /// node that comes up takes slots from the most loaded until the spread is within one.
    fn balance_slots(&mut self) {
        let live = self.live_nodes();
        if live.is_empty() {
            return;
        }
        if self.slots.is_empty() {
            self.slots = (0..GROUP_SLOTS)
                .map(|i| CoordinatorSlot {
                    node: live[i as usize % live.len()],
                    epoch: 0,
                })
                .collect();
            return;
        }
        let down: Vec<u64> = self
            .slots
            .iter()
            .map(|s| s.node)
            .filter(|n| !live.contains(n))
            .collect();
        for node in down {
            self.move_slots_off(node);
        }
        loop {
            let counts = self.slot_counts(&live);
            let (&most, &high) = counts
                .iter()
                .max_by_key(|(&id, &c)| (c, std::cmp::Reverse(id)))
                .expect("live is not empty");
            let (&least, &low) = counts
                .iter()
                .min_by_key(|(&id, &c)| (c, id))
                .expect("live is not empty");
            if high <= low + 1 {
                return;
            }
            let index = self
                .slots
                .iter()
                .rposition(|s| s.node == most)
                .expect("the most loaded node holds a slot");
            let slot = &mut self.slots[index];
            slot.node = least;
            slot.epoch += 1;
        }
    }

    fn slot_counts(&self, live: &[u64]) -> BTreeMap<u64, u32> {
        let mut counts: BTreeMap<u64, u32> = live.iter().map(|&id| (id, 0)).collect();
        for slot in &self.slots {
            if let Some(count) = counts.get_mut(&slot.node) {
                *count += 1;
            }
        }
        counts
    }

    fn least_loaded(&self, live: &[u64]) -> u64 {
        let counts = self.slot_counts(live);
        counts
            .iter()
            .min_by_key(|(&id, &c)| (c, id))
            .map(|(&id, _)| id)
            .expect("live is not empty")
    }
}

#[cfg(test)]
pub(crate) mod tests;
