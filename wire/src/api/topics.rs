//! Topic administration: create, list, describe, alter, delete.

use serde::{Deserialize, Serialize};

/// `POST /v1/topics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateTopicRequest {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9._-]{1,249}$", example = "events")
    )]
    pub name: String,
    /// Defaults to the node's `topics.default_partitions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub partitions: Option<u32>,
    /// Copies of each partition, on distinct nodes: 1 on a single node; in a cluster, up to the
    /// number of live nodes. Defaults to `topics.default_replication_factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub replication_factor: Option<u32>,
    /// In-sync replicas an `acks=all` produce needs, else it is refused with
    /// `503 not_enough_replicas`; 1 to `replication_factor`, default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub min_insync_replicas: Option<u32>,
    /// Whether a replica out of the ISR may lead when no in-sync replica is left (losing the
    /// acknowledged records it lacks); default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unclean_leader_election: Option<bool>,
    /// Age after which whole segments are evicted, in ms; defaults to `log.retention`. 0 keeps
    /// records forever.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    /// Size per partition past which the oldest segments are evicted; defaults to
    /// `log.retention_bytes`. 0 means no size limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<u64>,
    /// What happens to this topic's produce when the node's memory limit is reached; defaults to
    /// `new` (refuse it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard: Option<DiscardPolicy>,
}

/// `PATCH /v1/topics/{topic}/config`: the settings to change, the rest kept. The partition count
/// and the replication factor are fixed at creation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AlterTopicConfigRequest {
    /// 1 to the topic's `replication_factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub min_insync_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unclean_leader_election: Option<bool>,
    /// 0 keeps records forever. A shorter retention evicts the segments it no longer keeps at
    /// the next retention pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_ms: Option<u64>,
    /// 0 means no size limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discard: Option<DiscardPolicy>,
}

impl AlterTopicConfigRequest {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a topic does when the node's memory limit (`limits.memory`) is reached, with NATS
/// JetStream's names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum DiscardPolicy {
    /// Refuse produce with `507 memory_limit_exceeded`.
    #[default]
    New,
    /// Evict this topic's oldest segments to make room, as a capped stream.
    Old,
}

/// Settings a topic was created with (defaults filled in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicConfig {
    pub partitions: u32,
    pub replication_factor: u32,
    /// 0 = forever.
    pub retention_ms: u64,
    /// 0 = no size limit.
    pub retention_bytes: u64,
    pub segment_bytes: u64,
    /// Absent in answers from nodes older than the policy: they only refused.
    #[serde(default)]
    pub discard: DiscardPolicy,
    #[serde(default = "one")]
    pub min_insync_replicas: u32,
    #[serde(default)]
    pub unclean_leader_election: bool,
}

fn one() -> u32 {
    1
}

/// One partition as `describe` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartitionInfo {
    pub partition: u32,
    pub leader: u64,
    pub leader_epoch: u32,
    pub replicas: Vec<u64>,
    pub isr: Vec<u64>,
    pub log_start: u64,
    pub log_end: u64,
    pub high_watermark: u64,
    /// Bytes held by the partition's segments.
    pub bytes: u64,
    pub segments: u32,
}

/// `GET /v1/topics/{topic}` and the answer to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicDescription {
    pub name: String,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionInfo>,
}

/// One row of `GET /v1/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicSummary {
    pub name: String,
    pub partitions: u32,
    pub replication_factor: u32,
    pub records: u64,
    pub bytes: u64,
}

/// `GET /v1/topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicList {
    pub topics: Vec<TopicSummary>,
}

/// `DELETE /v1/topics/{topic}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteTopicResponse {
    pub name: String,
    pub deleted: bool,
}
