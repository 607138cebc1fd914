//! What a node reads of the partitions other nodes lead: their bounds (one request per node, for
//! describe, list and a coordinator's placeholders) and their records (a coordinator's group
//! fetch). Also the [`ClusterGroups`] a coordinator uses: committed offsets kept in the metadata.

use super::forward::FORWARDED_BY;
use super::metadata::{Command, CoordinatorClaim, MetadataError, OffsetCommit as MetaCommit};
use super::{Cluster, ClusterError};
use crate::broker::{Broker, BrokerError, PartitionRead};
use crate::group::cluster_hooks::{ClusterGroups, ReplicatedOffsets};
use crate::group::{Committed, GroupError, TopicPartition};
use crate::log::ReadBatches;
use futures_util::future::BoxFuture;
use mq_wire::api::{OffsetCommit, PartitionInfo};
use mq_wire::binary::{HEADER_HIGH_WATERMARK, HEADER_LOG_END, HEADER_LOG_START};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// Where a node lists the partitions it leads.
pub const PARTITIONS_PATH: &str = "/internal/v1/partitions";

/// How long a node may take to list its partitions.
const LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// One partition a node leads, with its bounds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedPartition {
    pub topic: String,
    pub info: PartitionInfo,
}

impl Cluster {
    /// The partitions each of `nodes` leads (this node excluded: the caller reads its own). A node
    /// that does not answer is left out. Each node first catches up with this node's metadata.
    pub async fn led_partitions(&self, nodes: BTreeSet<u64>) -> Vec<LedPartition> {
        let path = format!("{PARTITIONS_PATH}?at_least={}", self.metadata().index);
        let asks = nodes
            .into_iter()
            .filter(|&node| node != self.node_id)
            .map(|node| {
                let url = format!("http://{}{path}", self.address_of(node).unwrap_or_default());
                async move {
                    let answer = self
                        .http
                        .get(url)
                        .timeout(LIST_TIMEOUT)
                        .header(FORWARDED_BY, self.node_id.to_string())
                        .send()
                        .await
                        .ok()?;
                    answer.json::<Vec<LedPartition>>().await.ok()
                }
            });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .flatten()
            .collect()
    }

    /// Sets the broker's placeholders to the bounds their leaders report.
    pub async fn refresh_placeholders(&self, broker: &Broker) {
        let nodes = self.metadata().metadata.live_nodes().into_iter().collect();
        for led in self.led_partitions(nodes).await {
            if let Ok(topic) = broker.topic(&led.topic) {
                if let Ok(partition) = topic.partition(led.info.partition) {
                    partition.set_remote_bounds(led.info.log_start, led.info.high_watermark);
                }
            }
        }
    }

    /// This node's claim on the slot of `group`, if it holds it.
    fn claim(&self, group: &str) -> Result<CoordinatorClaim, GroupError> {
        match self.metadata().metadata.slot(group) {
            Some((_, slot)) if slot.node == self.node_id => Ok(CoordinatorClaim {
                node: slot.node,
                epoch: slot.epoch,
            }),
            _ => Err(GroupError::NotCoordinator(group.to_owned())),
        }
    }

    async fn propose_for_group(&self, group: &str, command: Command) -> Result<(), GroupError> {
        match self.propose(command).await {
            Ok(_) => Ok(()),
            Err(ClusterError::Metadata(MetadataError::NotCoordinator { .. })) => {
                Err(GroupError::NotCoordinator(group.to_owned()))
            }
            Err(ClusterError::Metadata(MetadataError::UnknownTopic { name })) => {
                Err(BrokerError::UnknownTopic(name).into())
            }
            Err(error) => Err(GroupError::CoordinatorUnavailable {
                group: group.to_owned(),
                reason: error.to_string(),
            }),
        }
    }

    async fn read_remote(
        &self,
        broker: &Broker,
        tp: &TopicPartition,
        from: u64,
        max_bytes: usize,
        max_wait: Duration,
    ) -> Result<PartitionRead, BrokerError> {
        let placeholder = broker.topic(&tp.topic)?.partition(tp.partition)?.clone();
        let empty = PartitionRead {
            batches: ReadBatches::default(),
            high_watermark: placeholder.high_watermark(),
        };
        let leader = placeholder.leader();
        let Some(addr) = self.address_of(leader) else {
            return Ok(empty);
        };
        if !self.metadata().metadata.is_alive(leader) {
            // Marked down: its partitions are left out of the fetch; the others flow.
            return Ok(empty);
        }
        let url = format!(
            "http://{addr}/v1/topics/{}/partitions/{}/records?offset={from}&max_bytes={}&max_wait_ms={}",
            tp.topic,
            tp.partition,
            max_bytes.max(1),
            max_wait.as_millis()
        );
        let sent = self
            .http
            .get(url)
            .timeout(max_wait + Duration::from_secs(5))
            .header(FORWARDED_BY, self.node_id.to_string())
            .header("accept", mq_wire::binary::BATCH_CONTENT_TYPE)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(error) => {
                // A leader that is down leaves its partition out of the fetch; the others flow.
                tracing::debug!(%error, leader, "group fetch: partition leader unreachable");
                return Ok(empty);
            }
        };
        if answer.status() == reqwest::StatusCode::RANGE_NOT_SATISFIABLE {
            self.refresh_placeholders(broker).await;
            return Err(BrokerError::OffsetOutOfRange {
                topic: tp.topic.clone(),
                partition: tp.partition,
                requested: from,
                log_start: placeholder.log_start(),
                log_end: placeholder.high_watermark(),
            });
        }
        if !answer.status().is_success() {
            tracing::debug!(status = %answer.status(), leader, "group fetch: the leader refused a read");
            return Ok(empty);
        }
        let header = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let (log_start, log_end, high_watermark) = (
            header(HEADER_LOG_START),
            header(HEADER_LOG_END),
            header(HEADER_HIGH_WATERMARK),
        );
        let bytes = answer
            .bytes()
            .await
            .map_err(|e| BrokerError::Internal(format!("reading from node {leader}: {e}")))?;
        placeholder.set_remote_bounds(log_start, high_watermark);
        Ok(PartitionRead {
            batches: ReadBatches {
                bytes: bytes.to_vec(),
                log_start,
                log_end,
            },
            high_watermark,
        })
    }
}

impl ReplicatedOffsets for Cluster {
    fn get(&self, group: &str, topic: &str, partition: u32) -> Option<Committed> {
        let applied = self.metadata();
        let record = applied
            .metadata
            .offsets
            .get(group)?
            .get(topic)?
            .get(&partition)?;
        Some(Committed {
            offset: record.offset,
            metadata: record.metadata.clone(),
        })
    }

    fn for_group(&self, group: &str) -> Vec<(TopicPartition, Committed)> {
        let applied = self.metadata();
        let Some(topics) = applied.metadata.offsets.get(group) else {
            return Vec::new();
        };
        topics
            .iter()
            .flat_map(|(topic, partitions)| {
                partitions.iter().map(move |(partition, record)| {
                    (
                        TopicPartition::new(topic, *partition),
                        Committed {
                            offset: record.offset,
                            metadata: record.metadata.clone(),
                        },
                    )
                })
            })
            .collect()
    }

    fn groups(&self) -> BTreeSet<String> {
        self.metadata().metadata.offsets.keys().cloned().collect()
    }

    fn last_commit_ms(&self, group: &str) -> Option<i64> {
        self.metadata().metadata.last_commit_ms.get(group).copied()
    }
}

impl ClusterGroups for Cluster {
    fn check_coordinates(&self, group: &str) -> Result<(), GroupError> {
        let applied = self.metadata();
        match applied.metadata.slot(group) {
            Some((index, slot)) if slot.node == self.node_id => self
                .lease
                .check(index, slot.epoch, std::time::Instant::now(), applied.index)
                .map_err(|lapse| GroupError::CoordinatorUnavailable {
                    group: group.to_owned(),
                    reason: lapse.to_string(),
                }),
            _ => Err(GroupError::NotCoordinator(group.to_owned())),
        }
    }

    fn coordinator_epoch(&self, group: &str) -> u64 {
        self.metadata()
            .metadata
            .slot(group)
            .map_or(0, |(_, slot)| slot.epoch)
    }

    fn generation_floor(&self, _group: &str) -> u64 {
        // The metadata index rises with every change, and a node coordinates a group only at the
        // index where its slot came to it or later: two coordinators of one group, even one of
        // them stale, never share a floor. 2^20 generations per index.
        self.metadata().index << 20
    }

    fn commit<'a>(
        &'a self,
        group: &'a str,
        offsets: Vec<OffsetCommit>,
        claim_epoch: Option<u64>,
    ) -> BoxFuture<'a, Result<(), GroupError>> {
        Box::pin(async move {
            let mut claim = self.claim(group)?;
            if let Some(epoch) = claim_epoch {
                // The controller refuses it unless the slot is still at that epoch.
                claim.epoch = epoch;
            }
            let applied = self.metadata();
            let offsets = offsets
                .into_iter()
                .map(|o| MetaCommit {
                    topic_id: applied.metadata.topics.get(&o.topic).map(|t| t.id),
                    topic: o.topic,
                    partition: o.partition,
                    offset: o.offset,
                    metadata: o.metadata,
                })
                .collect();
            let command = Command::CommitOffsets {
                group: group.to_owned(),
                claim,
                offsets,
                now_ms: crate::clock::now_ms(),
            };
            self.propose_for_group(group, command).await
        })
    }

    fn delete_offsets<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), GroupError>> {
        Box::pin(async move {
            if !self.metadata().metadata.offsets.contains_key(group) {
                return Ok(());
            }
            let claim = self.claim(group)?;
            let command = Command::DeleteGroup {
                group: group.to_owned(),
                claim,
            };
            self.propose_for_group(group, command).await
        })
    }

    fn refresh_bounds<'a>(&'a self, broker: &'a Broker) -> BoxFuture<'a, ()> {
        Box::pin(self.refresh_placeholders(broker))
    }

    fn read<'a>(
        &'a self,
        broker: &'a Broker,
        tp: &'a TopicPartition,
        from: u64,
        max_bytes: usize,
        max_wait: Duration,
    ) -> BoxFuture<'a, Result<PartitionRead, BrokerError>> {
        Box::pin(self.read_remote(broker, tp, from, max_bytes, max_wait))
    }
}
