//! Offsets and administration: commit (by members, fenced; or by an operator while the group is
//! empty), describe with lag, list, delete, and reset offsets.

use super::consumer_group::by_topic;
use super::{GroupError, Groups, TopicPartition};
use crate::broker::Broker;
use mq_wire::api::{
    CommitRequest, GroupDescription, GroupList, GroupState, GroupSummary, MemberDescription,
    PartitionLag, ResetOffsetsRequest, ResetOffsetsResponse, ResetPlanEntry, ResetTo,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

impl Groups {
    /// Commits offsets. A member must own every partition it commits, in its current generation
    /// (fencing); without member and generation the group must have no members.
    pub fn commit(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &CommitRequest,
    ) -> Result<usize, GroupError> {
        self.authorize_commit(broker, group_name, request, false)?;
        for commit in &request.offsets {
            self.offsets.commit(
                group_name,
                &commit.topic,
                commit.partition,
                commit.offset,
                commit.metadata.clone(),
            );
        }
        Ok(request.offsets.len())
    }

    /// Commits offsets, through the cluster's metadata when this node is in one (answered once
    /// they would survive this node's death), else on this node.
    pub async fn commit_offsets(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &CommitRequest,
    ) -> Result<usize, GroupError> {
        let Some(cluster) = self.cluster.get() else {
            return self.commit(broker, group_name, request);
        };
        cluster.refresh_bounds(broker).await;
        // Counted in flight from the authorization on, under the same lock as the ownership
        // check: no handover can fall in between.
        let claim_epoch = self.authorize_commit(broker, group_name, request, true)?;
        let _in_flight = request.member_id.is_some().then(|| CommitInFlight {
            groups: self,
            group: group_name.to_owned(),
            partitions: request
                .offsets
                .iter()
                .map(|c| TopicPartition::new(&c.topic, c.partition))
                .collect(),
        });
        cluster
            .commit(group_name, request.offsets.clone(), claim_epoch)
            .await?;
        Ok(request.offsets.len())
    }

    /// Whether `request` may commit: offsets within the log, and a member's commit fenced by
    /// generation and ownership (an operator's only while the group is empty).
    /// For a member's commit, answers the slot epoch its group state was built under, and with
    /// `in_flight` counts the commit in its group's `commits_in_flight` (a [`CommitInFlight`]
    /// takes it out again).
    fn authorize_commit(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &CommitRequest,
        in_flight: bool,
    ) -> Result<Option<u64>, GroupError> {
        for commit in &request.offsets {
            let partition = broker
                .topic(&commit.topic)?
                .partition(commit.partition)?
                .clone();
            // The log end where this node leads; elsewhere the leader's high watermark as last
            // heard, which only lags behind what a member can have read.
            let partition_end = if partition.is_hosted() {
                partition.log_end()
            } else {
                partition.high_watermark()
            };
            if commit.offset > partition_end && partition.is_hosted() {
                return Err(GroupError::InvalidArgument(format!(
                    "offset {} of {}/{} is past its log end {partition_end}",
                    commit.offset, commit.topic, commit.partition
                )));
            }
        }
        let mut groups = self.groups.lock();
        match (&request.member_id, request.generation) {
            (Some(member_id), Some(generation)) => {
                let group = groups.get_mut(group_name).ok_or_else(|| GroupError::UnknownMember {
                    group: group_name.to_owned(),
                    member: member_id.clone(),
                })?;
                Self::refresh(group, broker, false);
                group.check_member(member_id, generation)?;
                for commit in &request.offsets {
                    let tp = TopicPartition::new(&commit.topic, commit.partition);
                    group.check_owner(member_id, generation, &tp)?;
                }
                if let Some(member) = group.members.get_mut(member_id) {
                    member.last_seen = Instant::now();
                }
                if in_flight {
                    for commit in &request.offsets {
                        let tp = TopicPartition::new(&commit.topic, commit.partition);
                        let entry = group.commits_in_flight.entry(tp).or_default();
                        entry.0 += 1;
                        entry.1 = entry.1.max(commit.offset);
                    }
                }
                return Ok(group.claim_epoch);
            }
            (None, None) => {
                if let Some(group) = groups.get_mut(group_name) {
                    Self::refresh(group, broker, false);
                    if !group.members.is_empty() {
                        return Err(GroupError::GroupNotEmpty(group_name.to_owned()));
                    }
                }
            }
            _ => {
                return Err(GroupError::InvalidArgument(
                    "give both member_id and generation (a member's commit), or neither (an operator's)".into(),
                ))
            }
        }
        Ok(None)
    }

    /// Describes a group; in a cluster, with the bounds of partitions led elsewhere fresh.
    pub async fn describe_group(
        &self,
        broker: &Broker,
        group_name: &str,
    ) -> Result<GroupDescription, GroupError> {
        if let Some(cluster) = self.cluster.get() {
            cluster.refresh_bounds(broker).await;
        }
        self.describe(broker, group_name)
    }

    /// Deletes an empty group, and in a cluster its offsets from the metadata.
    pub async fn delete_group(&self, broker: &Broker, group_name: &str) -> Result<(), GroupError> {
        self.delete(broker, group_name)?;
        if let Some(cluster) = self.cluster.get() {
            cluster.delete_offsets(group_name).await?;
        }
        Ok(())
    }

    /// Plans and executes an offset reset; in a cluster the new offsets go through the metadata.
    pub async fn reset_group_offsets(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &ResetOffsetsRequest,
    ) -> Result<ResetOffsetsResponse, GroupError> {
        let Some(cluster) = self.cluster.get() else {
            return self.reset_offsets(broker, group_name, request);
        };
        cluster.refresh_bounds(broker).await;
        let plan_only = ResetOffsetsRequest {
            execute: false,
            ..request.clone()
        };
        let mut answer = self.reset_offsets(broker, group_name, &plan_only)?;
        if request.execute {
            let offsets = answer
                .plan
                .iter()
                .map(|entry| mq_wire::api::OffsetCommit {
                    topic: entry.topic.clone(),
                    partition: entry.partition,
                    offset: entry.new_offset,
                    metadata: None,
                })
                .collect();
            cluster.commit(group_name, offsets, None).await?;
            answer.executed = true;
            tracing::info!(group = %group_name, topic = %request.topic, "offsets reset");
        }
        Ok(answer)
    }

    pub fn describe(
        &self,
        broker: &Broker,
        group_name: &str,
    ) -> Result<GroupDescription, GroupError> {
        let mut groups = self.groups.lock();
        let committed = self.offsets.for_group(group_name);
        let group = groups.get_mut(group_name);
        if group.is_none() && committed.is_empty() {
            return Err(GroupError::UnknownGroup(group_name.to_owned()));
        }
        let now = Instant::now();
        let mut partitions: BTreeSet<TopicPartition> =
            committed.iter().map(|(tp, _)| tp.clone()).collect();
        let (state, generation, strategy, members, owners) = match group {
            Some(group) => {
                Self::refresh(group, broker, false);
                for topic in group.subscribed_topics() {
                    if let Ok(t) = broker.topic(&topic) {
                        partitions.extend(
                            (0..t.partition_count()).map(|p| TopicPartition::new(&topic, p)),
                        );
                    }
                }
                let members = group
                    .members
                    .values()
                    .map(|m| MemberDescription {
                        member_id: m.id.clone(),
                        client_id: m.client_id.clone(),
                        instance_id: m.instance_id.clone(),
                        topics: m.topics.clone(),
                        generation: m.delivered_generation,
                        assignment: by_topic(&m.owned),
                        session_timeout_ms: u64::try_from(m.session_timeout.as_millis())
                            .unwrap_or(u64::MAX),
                        last_seen_ms_ago: now.duration_since(m.last_seen).as_millis() as u64,
                    })
                    .collect();
                (
                    group.state(!committed.is_empty()),
                    group.generation,
                    group.strategy,
                    members,
                    group.owners.clone(),
                )
            }
            None => (
                GroupState::Empty,
                0,
                Default::default(),
                Vec::new(),
                Default::default(),
            ),
        };
        let committed: BTreeMap<TopicPartition, super::offsets::Committed> =
            committed.into_iter().collect();
        let offsets = partitions
            .into_iter()
            .filter_map(|tp| {
                let partition = broker
                    .topic(&tp.topic)
                    .ok()?
                    .partition(tp.partition)
                    .ok()?
                    .clone();
                let log_end = partition.high_watermark();
                let entry = committed.get(&tp);
                let from = entry.map_or_else(|| partition.log_start(), |c| c.offset);
                Some(PartitionLag {
                    member_id: owners.get(&tp).cloned(),
                    topic: tp.topic,
                    partition: tp.partition,
                    committed_offset: entry.map(|c| c.offset),
                    log_end_offset: log_end,
                    lag: log_end.saturating_sub(from),
                    metadata: entry.and_then(|c| c.metadata.clone()),
                })
            })
            .collect();
        Ok(GroupDescription {
            group: group_name.to_owned(),
            state,
            generation,
            strategy,
            members,
            offsets,
            coordinator: Some(broker.node_id()),
        })
    }

    /// Groups with members or with committed offsets (the seed's consumers among them).
    pub fn list(&self, broker: &Broker) -> GroupList {
        let mut groups = self.groups.lock();
        let with_offsets = self.offsets.groups();
        let mut names = with_offsets.clone();
        names.extend(groups.keys().cloned());
        let summaries = names
            .into_iter()
            .map(|name| match groups.get_mut(&name) {
                Some(group) => {
                    Self::refresh(group, broker, false);
                    GroupSummary {
                        state: group.state(with_offsets.contains(&name)),
                        generation: group.generation,
                        members: group.members.len(),
                        group: name,
                    }
                }
                None => GroupSummary {
                    group: name,
                    state: GroupState::Empty,
                    generation: 0,
                    members: 0,
                },
            })
            .collect();
        GroupList { groups: summaries }
    }

    /// Deletes an empty group and its committed offsets.
    pub fn delete(&self, broker: &Broker, group_name: &str) -> Result<(), GroupError> {
        let mut groups = self.groups.lock();
        let has_offsets = self.offsets.groups().contains(group_name);
        match groups.get_mut(group_name) {
            Some(group) => {
                Self::refresh(group, broker, false);
                if !group.members.is_empty() {
                    return Err(GroupError::GroupNotEmpty(group_name.to_owned()));
                }
                group.wake.notify_waiters();
                groups.remove(group_name);
            }
            None if !has_offsets => return Err(GroupError::UnknownGroup(group_name.to_owned())),
            None => {}
        }
        self.offsets.forget_group(group_name);
        tracing::info!(group = %group_name, "group deleted");
        Ok(())
    }

    /// Plans (and with `execute`, commits) new offsets for an empty group, clamped to each
    /// partition's [log start, log end].
    pub fn reset_offsets(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &ResetOffsetsRequest,
    ) -> Result<ResetOffsetsResponse, GroupError> {
        let topic = broker.topic(&request.topic)?;
        let partitions: Vec<u32> = match &request.partitions {
            Some(list) => list.clone(),
            None => (0..topic.partition_count()).collect(),
        };
        let mut groups = self.groups.lock();
        if let Some(group) = groups.get_mut(group_name) {
            Self::refresh(group, broker, false);
            if !group.members.is_empty() {
                return Err(GroupError::GroupNotEmpty(group_name.to_owned()));
            }
        }
        let mut plan = Vec::with_capacity(partitions.len());
        for index in partitions {
            let partition = topic.partition(index)?;
            let (start, end) = (partition.log_start(), partition.high_watermark());
            let current = self.offsets.get(group_name, &request.topic, index);
            let wanted = match request.to {
                ResetTo::Earliest => start,
                ResetTo::Latest => end,
                ResetTo::Offset(offset) => offset,
                ResetTo::ShiftBy(delta) => current.unwrap_or(start).saturating_add_signed(delta),
            };
            plan.push(ResetPlanEntry {
                topic: request.topic.clone(),
                partition: index,
                current_offset: current,
                // Retention may move the log start past a high watermark read a moment before.
                new_offset: wanted.max(start).min(end.max(start)),
            });
        }
        if request.execute {
            for entry in &plan {
                self.offsets.commit(
                    group_name,
                    &entry.topic,
                    entry.partition,
                    entry.new_offset,
                    None,
                );
            }
            tracing::info!(group = %group_name, topic = %request.topic, "offsets reset");
        }
        Ok(ResetOffsetsResponse {
            group: group_name.to_owned(),
            executed: request.execute,
            plan,
        })
    }
}

/// A member's commit between its authorization and its answer: takes it out of its group's
/// `commits_in_flight` when dropped (answered, failed, or the request went away).
struct CommitInFlight<'a> {
    groups: &'a Groups,
    group: String,
    partitions: Vec<TopicPartition>,
}

impl Drop for CommitInFlight<'_> {
    fn drop(&mut self) {
        if let Some(group) = self.groups.groups.lock().get_mut(&self.group) {
            for tp in &self.partitions {
                if let Some(entry) = group.commits_in_flight.get_mut(tp) {
                    entry.0 = entry.0.saturating_sub(1);
                    if entry.0 == 0 {
                        group.commits_in_flight.remove(tp);
                    }
                }
            }
        }
    }
}
