//! Group fetch: one request returns records from all the partitions a member owns, long-polling
//! until one of them has data, the group rebalances, or the wait ends.
//!
//! Positions live on the broker, per member and partition: a partition newly owned starts at the
//! group's committed offset (or where `auto_offset_reset` says), and each fetch moves it past what it
//! returned. A partition that is being taken away from the member gets no new records.

use super::cluster_hooks::ClusterGroups;
use super::{GroupError, Groups, TopicPartition};
use crate::broker::{Broker, BrokerError, Partition};
use mq_wire::api::{
    FetchedRecord, GroupFetchRequest, GroupFetchResponse, GroupRecord, OffsetReset,
};
use mq_wire::batch::visible_prefix;
use mq_wire::binary::Frame;
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
}

/// Limits of one group fetch.
pub struct FetchLimits {
    pub max_records: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
    /// Answer with frames of stored batches instead of decoded records.
    pub frames: bool,
}

/// What a group fetch returns: decoded records, or frames of batches (see [`mq_wire::binary`]).
#[derive(Debug, Default)]
pub struct GroupFetched {
    pub generation: u64,
    pub rebalance: bool,
    pub records: Vec<GroupRecord>,
    pub frames: Vec<u8>,
    /// Records (at or after each position) in `frames`.
    pub frame_records: u64,
    /// Per partition read, in either form: topic, records and their key+value bytes (for the
    /// metrics).
    pub counts: Vec<(String, u64, u64)>,
}

impl GroupFetched {
    fn is_empty(&self) -> bool {
        self.records.is_empty() && self.frame_records == 0
    }

    pub fn into_json(self) -> GroupFetchResponse {
        GroupFetchResponse {
            generation: self.generation,
            rebalance: self.rebalance,
            records: self.records,
        }
    }
}

impl Groups {
    pub async fn fetch(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &GroupFetchRequest,
        limits: FetchLimits,
        stop: impl Future<Output = ()>,
    ) -> Result<GroupFetched, GroupError> {
        let started = Instant::now();
        let cluster = self.cluster.get().cloned();
        if let Some(cluster) = &cluster {
            cluster.refresh_bounds(broker).await;
        }
        tokio::pin!(stop);
        loop {
            // Listen for a rebalance or a grant before planning, so none is missed in between.
            let wake = self.wake_of(group_name);
            let rebalanced = wake.notified();
            tokio::pin!(rebalanced);
            rebalanced.as_mut().enable();
            let plan = self.fetch_plan(broker, group_name, request)?;
            // A fetch keeps its member alive only at its start and end, so a long poll waits at
            // most half the session: a member that long-polls is never expired while it waits.
            let deadline = started + limits.max_wait.min(plan.session_timeout / 2);
            let mut watchers: Vec<_> = plan
                .parts
                .iter()
                .map(|(_, p, _)| p.watch_high_watermark())
                .collect();

            let (mut response, advanced, raced) =
                read_plan(&plan, &limits, broker, cluster.as_deref()).await?;
            // The reads may have waited on other nodes: what they brought goes out only if this
            // node may still serve the group (else the new coordinator's members may have
            // committed past it meanwhile), and the positions stay where they were.
            self.check_coordinated_here(group_name)?;
            self.advance_positions(group_name, &request.member_id, advanced);
            response.generation = plan.generation;
            response.rebalance = plan.rebalance;
            if !response.is_empty() || response.rebalance || Instant::now() >= deadline {
                return Ok(response);
            }
            if raced {
                // Retention moved a log start under the plan: plan again, without spinning.
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            // Partitions led elsewhere are waited on with a long poll at their leader; what it
            // brings only wakes this loop, which reads again.
            let remote_waits: Vec<_> = match &cluster {
                Some(cluster) => plan
                    .parts
                    .iter()
                    .filter(|(_, p, _)| !p.is_hosted())
                    .map(|(tp, _, position)| {
                        let wait = deadline.saturating_duration_since(Instant::now());
                        cluster.read(broker, tp, *position, 1, wait)
                    })
                    .collect(),
                None => Vec::new(),
            };
            let any_data = async {
                let mut changes: Vec<futures_util::future::BoxFuture<'_, ()>> = watchers
                    .iter_mut()
                    .map(|w| {
                        Box::pin(async move {
                            let _ = w.changed().await;
                        }) as _
                    })
                    .collect();
                // Only a read that brought records (or found the position gone) wakes the loop:
                // an unreachable or refusing leader answers at once, and must not make it spin.
                changes.extend(remote_waits.into_iter().map(|read| {
                    Box::pin(async move {
                        match read.await {
                            Ok(read) if !read.batches.bytes.is_empty() => {}
                            Err(BrokerError::OffsetOutOfRange { .. }) => {}
                            _ => std::future::pending::<()>().await,
                        }
                    }) as _
                }));
                if changes.is_empty() {
                    std::future::pending::<()>().await;
                }
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

    /// The notifier of a group's rebalances and grants (a fresh one when the group is unknown:
    /// the plan will then refuse the member anyway).
    fn wake_of(&self, group_name: &str) -> Arc<Notify> {
        self.groups
            .lock()
            .get(group_name)
            .map_or_else(|| Arc::new(Notify::new()), |g| Arc::clone(&g.wake))
    }

    /// Checks the member (fencing) and decides what to read and from where.
    fn fetch_plan(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &GroupFetchRequest,
    ) -> Result<FetchPlan, GroupError> {
        // Asked at every round of a long poll: a coordinator paused mid-poll may have lost the
        // group meanwhile, and its positions are then behind what the new one committed.
        self.check_coordinated_here(group_name)?;
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
        let in_flight = &group.commits_in_flight;
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
            // A position or commit is stale only outside the log. Not outside what is committed
            // here: a leader just elected may not yet know the whole high watermark, and where
            // this node does not lead, the bounds are the leader's as last heard and may lag.
            // Reads past the high watermark simply return nothing yet.
            let start = partition.log_start();
            let end = if partition.is_hosted() {
                partition.log_end()
            } else {
                u64::MAX
            };
            let position = match member.positions.get(&tp) {
                Some(&position) if position >= start && position <= end => position,
                stale_or_none => {
                    let committed = match stale_or_none {
                        Some(_) => None,
                        // Its previous owner's commit may still be on its way: start past it.
                        None => {
                            let pending = in_flight.get(&tp).map(|&(_, offset)| offset);
                            self.offsets
                                .get(group_name, &tp.topic, tp.partition)
                                .max(pending)
                        }
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

/// What was read, the new position of each partition read, and whether a partition was evicted
/// under the plan.
type PlanRead = (GroupFetched, Vec<(TopicPartition, u64)>, bool);

/// Reads the plan's partitions in order until the limits are met. Returns what was read, the new
/// position of each partition read, and whether a partition was evicted under the plan (re-plan).
async fn read_plan(
    plan: &FetchPlan,
    limits: &FetchLimits,
    broker: &Broker,
    cluster: Option<&dyn ClusterGroups>,
) -> Result<PlanRead, GroupError> {
    let mut out = GroupFetched::default();
    let mut advanced = Vec::new();
    let mut bytes_left = limits.max_bytes;
    let mut raced = false;
    for (tp, partition, position) in &plan.parts {
        let taken = out.records.len() + out.frame_records as usize;
        if taken >= limits.max_records || bytes_left == 0 {
            break;
        }
        let read = match (partition.is_hosted(), cluster) {
            (false, Some(cluster)) => {
                cluster
                    .read(broker, tp, *position, bytes_left, Duration::ZERO)
                    .await
            }
            _ => partition.read(*position, bytes_left),
        };
        let read = match read {
            // Compressed Kafka batches go out inflated, as on the partition fetch.
            Ok(read) => read.inflated(bytes_left)?,
            Err(BrokerError::OffsetOutOfRange {
                log_start, log_end, ..
            }) => {
                // The leader's bounds moved past what this node knew: learn them, plan again.
                partition.set_remote_bounds(log_start, log_end);
                raced = true;
                continue;
            }
            Err(other) => return Err(other.into()),
        };
        bytes_left = bytes_left.saturating_sub(read.batches.bytes.len());
        let next = if limits.frames {
            let left = (limits.max_records - taken) as u64;
            let visible = visible_prefix(&read.batches.bytes, *position, read.high_watermark, left);
            if visible.records > 0 {
                Frame {
                    topic: &tp.topic,
                    partition: tp.partition,
                    from: *position,
                    high_watermark: read.high_watermark,
                    next_offset: visible.next_offset,
                    batches: &read.batches.bytes[..visible.len],
                }
                .encode(&mut out.frames);
                out.frame_records += visible.records;
                out.counts
                    .push((tp.topic.clone(), visible.records, visible.payload_bytes));
            }
            visible.next_offset
        } else {
            let (next, records, payload) =
                decode_into(tp, &read, *position, limits.max_records, &mut out.records)?;
            if records > 0 {
                out.counts.push((tp.topic.clone(), records, payload));
            }
            next
        };
        if next != *position {
            advanced.push((tp.clone(), next));
        }
    }
    Ok((out, advanced, raced))
}

/// Decodes the records of `read` at or after `position` into `records`; returns the next position
/// and how many records, of how many key+value bytes, were added.
fn decode_into(
    tp: &TopicPartition,
    read: &crate::broker::PartitionRead,
    position: u64,
    max_records: usize,
    records: &mut Vec<GroupRecord>,
) -> Result<(u64, u64, u64), GroupError> {
    let (mut next, mut added, mut payload) = (position, 0u64, 0u64);
    read.visit_records(position, |record| {
        if records.len() >= max_records {
            return false;
        }
        next = record.offset + 1;
        added += 1;
        payload += record.payload_len() as u64;
        records.push(GroupRecord {
            topic: tp.topic.clone(),
            partition: tp.partition,
            record: FetchedRecord::from_record(&record, false),
        });
        true
    })?;
    Ok((next, added, payload))
}
