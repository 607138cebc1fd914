//! Group fetch: one request returns records from all the partitions a member owns, long-polling
//! until one of them has data, the group rebalances, or the wait ends.
//!
//! Positions live on the broker, per member and partition: a partition newly owned starts at the
//! group's committed offset (or where `auto_offset_reset` says), and each fetch moves it past what it
//! returned. A partition that is being taken away from the member gets no new records.

use super::{GroupError, Groups, TopicPartition};
use crate::broker::{Broker, BrokerError, Partition};
use mq_wire::api::{
    FetchedRecord, GroupFetchRequest, GroupFetchResponse, GroupRecord, OffsetReset,
};
use mq_wire::batch::BatchIter;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// What one round of a fetch reads, taken under the group lock and read without it.
struct FetchPlan {
    parts: Vec<(TopicPartition, Arc<Partition>, u64)>,
    session_timeout: Duration,
    generation: u64,
    rebalance: bool,
    wake: Arc<Notify>,
}

/// Limits of one group fetch.
pub struct FetchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

impl Groups {
    pub async fn fetch(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &GroupFetchRequest,
        limits: FetchLimits,
        stop: impl Future<Output = ()>,
    ) -> Result<GroupFetchResponse, GroupError> {
        let started = Instant::now();
        tokio::pin!(stop);
        loop {
            let plan = self.fetch_plan(broker, group_name, request)?;
            // A fetch keeps its member alive only at its start and end, so a long poll waits at
            // most half the session: a member that long-polls is never expired while it waits.
            let deadline = started + limits.max_wait.min(plan.session_timeout / 2);
            let mut watchers: Vec<_> = plan
                .parts
                .iter()
                .map(|(_, p, _)| p.watch_high_watermark())
                .collect();
            let rebalanced = plan.wake.notified();
            tokio::pin!(rebalanced);
            rebalanced.as_mut().enable();

            let (records, advanced, raced) = read_plan(&plan, &limits)?;
            self.advance_positions(group_name, &request.member_id, advanced);
            let response = GroupFetchResponse {
                generation: plan.generation,
                rebalance: plan.rebalance,
                records,
            };
            if !response.records.is_empty() || response.rebalance || Instant::now() >= deadline {
                return Ok(response);
            }
            if raced {
                continue;
            }
            let any_data = async {
                if watchers.is_empty() {
                    std::future::pending::<()>().await;
                }
                let changes = watchers.iter_mut().map(|w| Box::pin(w.changed()));
                let _ = futures_util::future::select_all(changes).await;
            };
            tokio::select! {
                _ = any_data => {}
                _ = &mut rebalanced => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = &mut stop => return Ok(response),
            }
        }
    }

    /// Checks the member (fencing) and decides what to read and from where.
    fn fetch_plan(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &GroupFetchRequest,
    ) -> Result<FetchPlan, GroupError> {
        let mut groups = self.groups.lock();
        let group = groups
            .get_mut(group_name)
            .ok_or_else(|| GroupError::UnknownMember {
                group: group_name.to_owned(),
                member: request.member_id.clone(),
            })?;
        Self::refresh(group, broker, false);
        group.check_member(&request.member_id, request.generation)?;
        let target = group
            .target
            .get(&request.member_id)
            .cloned()
            .unwrap_or_default();
        let generation = group.generation;
        let wake = Arc::clone(&group.wake);
        let member = group
            .members
            .get_mut(&request.member_id)
            .expect("checked above");
        member.last_seen = std::time::Instant::now();
        let rebalance = member.delivered_generation != generation;
        let usable: Vec<TopicPartition> = member.owned.intersection(&target).cloned().collect();
        let mut parts = Vec::with_capacity(usable.len());
        for tp in usable {
            let Ok(topic) = broker.topic(&tp.topic) else {
                continue;
            };
            let Ok(partition) = topic.partition(tp.partition).cloned() else {
                continue;
            };
            let (start, end) = (partition.log_start(), partition.high_watermark());
            let position = match member.positions.get(&tp) {
                Some(&position) if position >= start => position,
                stale_or_none => {
                    let committed = match stale_or_none {
                        Some(_) => None,
                        None => self.offsets.get(group_name, &tp.topic, tp.partition),
                    };
                    match committed.filter(|&c| c >= start) {
                        Some(committed) => committed.min(end),
                        None => match member.offset_reset {
                            OffsetReset::Earliest => start,
                            OffsetReset::Latest => end,
                            OffsetReset::None => {
                                return Err(GroupError::NoCommittedOffset {
                                    group: group_name.to_owned(),
                                    topic: tp.topic.clone(),
                                    partition: tp.partition,
                                })
                            }
                        },
                    }
                }
            };
            member.positions.insert(tp.clone(), position);
            parts.push((tp, partition, position));
        }
        if !parts.is_empty() {
            let rotation = member.fetch_rotation % parts.len();
            parts.rotate_left(rotation);
            member.fetch_rotation = member.fetch_rotation.wrapping_add(1);
        }
        Ok(FetchPlan {
            parts,
            session_timeout: member.session_timeout,
            generation,
            rebalance,
            wake,
        })
    }

    /// Moves positions past what a fetch returned, for partitions the member still owns, and
    /// counts the fetch as a sign of life.
    fn advance_positions(
        &self,
        group_name: &str,
        member_id: &str,
        advanced: Vec<(TopicPartition, u64)>,
    ) {
        let mut groups = self.groups.lock();
        let Some(member) = groups
            .get_mut(group_name)
            .and_then(|g| g.members.get_mut(member_id))
        else {
            return;
        };
        member.last_seen = std::time::Instant::now();
        for (tp, next) in advanced {
            if member.owned.contains(&tp) {
                member.positions.insert(tp, next);
            }
        }
    }
}

/// Reads the plan's partitions in order until the limits are met. Returns the records, the new
/// position of each partition read, and whether a partition was evicted under the plan (re-plan).
#[allow(clippy::type_complexity)]
fn read_plan(
    plan: &FetchPlan,
    limits: &FetchLimits,
) -> Result<(Vec<GroupRecord>, Vec<(TopicPartition, u64)>, bool), GroupError> {
    let mut records = Vec::new();
    let mut advanced = Vec::new();
    let mut bytes_left = limits.max_bytes;
    let mut raced = false;
    for (tp, partition, position) in &plan.parts {
        if records.len() >= limits.max_records || bytes_left == 0 {
            break;
        }
        let read = match partition.read(*position, bytes_left) {
            Ok(read) => read,
            Err(BrokerError::OffsetOutOfRange { .. }) => {
                raced = true;
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        bytes_left = bytes_left.saturating_sub(read.batches.bytes.len());
        let mut next = *position;
        'batches: for batch in BatchIter::new(&read.batches.bytes) {
            let batch = batch.map_err(|e| BrokerError::Internal(format!("corrupt batch: {e}")))?;
            for record in batch.records() {
                let record =
                    record.map_err(|e| BrokerError::Internal(format!("corrupt record: {e}")))?;
                if record.offset < *position {
                    continue;
                }
                if record.offset >= read.high_watermark || records.len() >= limits.max_records {
                    break 'batches;
                }
                next = record.offset + 1;
                records.push(GroupRecord {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    record: FetchedRecord::from_record(&record, false),
                });
            }
        }
        if next != *position {
            advanced.push((tp.clone(), next));
        }
    }
    Ok((records, advanced, raced))
}
