//! One consumer group's membership and assignment, as a state machine driven by the coordinator.
//!
//! Every join, leave or expiry (and every change in the partitions of subscribed topics) raises the
//! generation and recomputes the target assignment. Ownership follows the target without ever
//! overlapping: a partition moving from A to B stays A's until A acknowledges the generation that
//! took it away (a heartbeat carrying it) or A is removed; only then is it granted to B. So at any
//! moment each partition has at most one owner, and partitions that do not move are never paused.

use super::assignor::{assign, Subscriber};
use super::member::Member;
use super::{GroupError, TopicPartition};
use mq_wire::api::{AssignmentStrategy, GroupState, MemberAssignment, TopicPartitions};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Notify;

pub(super) struct ConsumerGroup {
    pub name: String,
    pub generation: u64,
    pub strategy: AssignmentStrategy,
    pub members: BTreeMap<String, Member>,
    /// The owner of each owned partition.
    pub owners: HashMap<TopicPartition, String>,
    /// The target assignment of the current generation.
    pub target: BTreeMap<String, BTreeSet<TopicPartition>>,
    /// Partition counts of the subscribed topics when the target was computed.
    partition_counts: BTreeMap<String, u32>,
    /// Wakes the member fetches waiting on this group when the generation changes.
    pub wake: Arc<Notify>,
    /// In a cluster: the epoch of the coordinator slot this group's live state was built under.
    /// Its members' commits carry it, so state built by a coordinator that had missed a move of
    /// the slot can never commit, even after the slot came back to it.
    pub claim_epoch: Option<u64>,
    /// In a cluster: members' commits authorized here and not yet answered, per partition (how
    /// many, and the highest offset). A partition handed over meanwhile starts its new owner at
    /// that offset, not at the committed one the commit is about to replace: the old owner
    /// processed those records, and its commit is acknowledged once it applies.
    pub commits_in_flight: HashMap<TopicPartition, (u32, u64)>,
    /// Member ids a static member's newer process replaced, with its name, until the old
    /// session would have expired: their requests are told `fenced_instance`, not
    /// `unknown_member`, so that the older process stops instead of joining again.
    pub replaced: HashMap<String, (String, Instant)>,
}

impl ConsumerGroup {
    pub fn new(name: &str, strategy: AssignmentStrategy) -> Self {
        ConsumerGroup {
            name: name.to_owned(),
            generation: 0,
            strategy,
            members: BTreeMap::new(),
            owners: HashMap::new(),
            target: BTreeMap::new(),
            partition_counts: BTreeMap::new(),
            wake: Arc::new(Notify::new()),
            claim_epoch: None,
            commits_in_flight: HashMap::new(),
            replaced: HashMap::new(),
        }
    }

    /// Every topic some member reads.
    pub fn subscribed_topics(&self) -> BTreeSet<String> {
        self.members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .collect()
    }

    /// Removes members whose session expired; returns their ids.
    pub fn expire(&mut self, now: Instant) -> Vec<String> {
        self.replaced.retain(|_, (_, until)| *until > now);
        let expired: Vec<String> = self
            .members
            .values()
            .filter(|m| m.expired(now))
            .map(|m| m.id.clone())
            .collect();
        for id in &expired {
            self.remove_member(id);
        }
        expired
    }

    /// The id of the member joined under static name `instance`, if one is in the group.
    pub fn member_of_instance(&self, instance: &str) -> Option<&str> {
        self.members
            .values()
            .find(|m| m.instance_id.as_deref() == Some(instance))
            .map(|m| m.id.as_str())
    }

    /// A static member back under a new id (KIP-345): `new_id` takes `old_id`'s place, what it
    /// owns, its target and the generation delivered to it, so nothing is rebalanced; `old_id` is
    /// no longer a member (its commits and heartbeats are refused). Its group-fetch positions
    /// start again at the committed offsets: the new process has processed nothing.
    pub fn replace_member(&mut self, old_id: &str, new_id: &str) -> bool {
        let Some(mut member) = self.members.remove(old_id) else {
            return false;
        };
        if let Some(instance) = &member.instance_id {
            let until = Instant::now() + member.session_timeout;
            self.replaced
                .insert(old_id.to_owned(), (instance.clone(), until));
        }
        member.id = new_id.to_owned();
        member.positions.clear();
        member.synced.clear();
        for tp in &member.owned {
            self.owners.insert(tp.clone(), new_id.to_owned());
        }
        if let Some(target) = self.target.remove(old_id) {
            self.target.insert(new_id.to_owned(), target);
        }
        self.members.insert(new_id.to_owned(), member);
        // A group fetch the old id has waiting answers now (and finds it gone).
        self.wake.notify_waiters();
        true
    }

    /// `error`, or `fenced_instance` when it is an unknown member that a static member's newer
    /// process replaced.
    pub fn refine(&self, error: GroupError) -> GroupError {
        match error {
            GroupError::UnknownMember { group, member } => match self.replaced.get(&member) {
                Some((instance, _)) => GroupError::FencedInstance {
                    group,
                    member,
                    instance: instance.clone(),
                },
                None => GroupError::UnknownMember { group, member },
            },
            error => error,
        }
    }

    /// Removes a member and frees its partitions. Returns whether it was there.
    pub fn remove_member(&mut self, id: &str) -> bool {
        let Some(member) = self.members.remove(id) else {
            return false;
        };
        for tp in &member.owned {
            self.owners.remove(tp);
        }
        self.target.remove(id);
        true
    }

    /// Recomputes the target when `membership_changed` or the subscribed topics' partitions
    /// changed (raising the generation), drops ownership of partitions that no longer exist, and
    /// grants free partitions to their target owners.
    pub fn rebalance(&mut self, membership_changed: bool, partition_counts: BTreeMap<String, u32>) {
        if membership_changed || partition_counts != self.partition_counts {
            self.generation += 1;
            self.partition_counts = partition_counts;
            let subscribers: Vec<Subscriber<'_>> = self
                .members
                .values()
                .map(|m| Subscriber {
                    id: &m.id,
                    topics: &m.topics,
                })
                .collect();
            self.target = assign(
                self.strategy,
                &subscribers,
                &self.partition_counts,
                &self.owners,
            );
            let counts = &self.partition_counts;
            let gone: Vec<TopicPartition> = self
                .owners
                .keys()
                .filter(|tp| counts.get(&tp.topic).is_none_or(|&n| tp.partition >= n))
                .cloned()
                .collect();
            for tp in gone {
                if let Some(owner) = self.owners.remove(&tp) {
                    if let Some(member) = self.members.get_mut(&owner) {
                        member.release(&tp);
                    }
                }
            }
            tracing::info!(
                group = %self.name,
                generation = self.generation,
                members = self.members.len(),
                "rebalance"
            );
            self.wake.notify_waiters();
        }
        self.grant_free();
    }

    /// Drops every partition of a deleted topic: owners and positions go, and the next refresh
    /// rebalances (a topic re-created under the same name starts over from its log start).
    pub fn forget_topic(&mut self, topic: &str) {
        self.owners.retain(|tp, _| tp.topic != topic);
        for member in self.members.values_mut() {
            member.owned.retain(|tp| tp.topic != topic);
            member.positions.retain(|tp, _| tp.topic != topic);
        }
        for target in self.target.values_mut() {
            target.retain(|tp| tp.topic != topic);
        }
        // Forces the next rebalance to see a change, even if the topic is already back.
        self.partition_counts.insert(topic.to_owned(), u32::MAX);
        self.wake.notify_waiters();
    }

    /// Gives every unowned partition of the target to its target member, and wakes waiting
    /// fetches so a new owner starts reading at once.
    fn grant_free(&mut self) {
        let mut granted = false;
        for (member_id, partitions) in &self.target {
            for tp in partitions {
                if !self.owners.contains_key(tp) {
                    self.owners.insert(tp.clone(), member_id.clone());
                    if let Some(member) = self.members.get_mut(member_id) {
                        member.owned.insert(tp.clone());
                    }
                    granted = true;
                }
            }
        }
        if granted {
            self.wake.notify_waiters();
        }
    }

    /// A heartbeat with `generation`: if it is the one last delivered, the member has let go of
    /// what that delivery took away, so those partitions are freed.
    pub fn acknowledge(&mut self, member_id: &str, generation: u64) {
        let Some(member) = self.members.get_mut(member_id) else {
            return;
        };
        if generation != member.delivered_generation {
            return;
        }
        let released: Vec<TopicPartition> = member
            .owned
            .difference(&member.delivered_target)
            .cloned()
            .collect();
        for tp in released {
            member.release(&tp);
            self.owners.remove(&tp);
        }
    }

    /// Tells a member the current generation and its assignment, and records what it was told.
    pub fn deliver(&mut self, member_id: &str) -> Option<MemberAssignment> {
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let generation = self.generation;
        let member = self.members.get_mut(member_id)?;
        member.delivered_generation = generation;
        let owned_now: BTreeSet<TopicPartition> =
            member.owned.intersection(&target).cloned().collect();
        let pending: BTreeSet<TopicPartition> = target.difference(&member.owned).cloned().collect();
        member.delivered_target = target;
        // Saturating: a session timeout from the config may be longer than u64 milliseconds.
        let heartbeat_interval_ms =
            u64::try_from(member.session_timeout.as_millis() / 3).unwrap_or(u64::MAX);
        Some(MemberAssignment {
            member_id: member_id.to_owned(),
            generation,
            state: self.state(true),
            assignment: by_topic(&owned_now),
            pending: by_topic(&pending),
            heartbeat_interval_ms,
        })
    }

    /// `has_offsets`: whether the group has committed offsets. A group with neither members nor
    /// offsets is dead: nothing of it is worth keeping, and the expiry sweep removes it.
    pub fn state(&self, has_offsets: bool) -> GroupState {
        if self.members.is_empty() {
            return if has_offsets {
                GroupState::Empty
            } else {
                GroupState::Dead
            };
        }
        let settled = self.members.values().all(|m| {
            m.delivered_generation == self.generation
                && self.target.get(&m.id).is_some_and(|t| *t == m.owned)
        });
        if settled {
            GroupState::Stable
        } else {
            GroupState::Rebalancing
        }
    }

    /// Fencing: the member exists, speaks its current generation, and (for `tp`) owns it.
    pub fn check_member(&self, member_id: &str, generation: u64) -> Result<&Member, GroupError> {
        let member = self
            .members
            .get(member_id)
            .ok_or_else(|| GroupError::UnknownMember {
                group: self.name.clone(),
                member: member_id.to_owned(),
            })?;
        if generation != member.delivered_generation {
            return Err(GroupError::StaleGeneration {
                member: member_id.to_owned(),
                given: generation,
                current: member.delivered_generation,
            });
        }
        Ok(member)
    }

    pub fn check_owner(
        &self,
        member_id: &str,
        generation: u64,
        tp: &TopicPartition,
    ) -> Result<(), GroupError> {
        self.check_member(member_id, generation)?;
        if self.owners.get(tp).map(String::as_str) != Some(member_id) {
            return Err(GroupError::NotPartitionOwner {
                group: self.name.clone(),
                member: member_id.to_owned(),
                topic: tp.topic.clone(),
                partition: tp.partition,
            });
        }
        Ok(())
    }
}

/// Groups a set of partitions by topic, sorted.
pub(super) fn by_topic(partitions: &BTreeSet<TopicPartition>) -> Vec<TopicPartitions> {
    let mut grouped: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for tp in partitions {
        grouped.entry(&tp.topic).or_default().push(tp.partition);
    }
    grouped
        .into_iter()
        .map(|(topic, partitions)| TopicPartitions {
            topic: topic.to_owned(),
            partitions,
        })
        .collect()
}
