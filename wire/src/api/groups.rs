//! Consumer groups: join, heartbeat, leave, group fetch, commit, describe, list, delete, reset.
//!
//! Assignment is computed by the broker. A partition has one owner at a time: when a rebalance moves
//! it, the old owner is told (its heartbeat answer no longer lists it) and keeps it, able to commit,
//! until its next heartbeat acknowledges that generation or its session expires; only then does the
//! new owner get it. Members keep the partitions that do not move.

use super::records::FetchedRecord;
use serde::{Deserialize, Serialize};

/// How partitions are spread over members. Both are made sticky: a member keeps the partitions it
/// owns as long as the balance the strategy asks for allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AssignmentStrategy {
    /// Per topic, consecutive ranges of partitions to members sorted by id (Kafka's default).
    #[default]
    Range,
    /// All partitions of all topics dealt to members in turn.
    #[serde(rename = "roundrobin")]
    RoundRobin,
}

/// Where a member starts in a partition that has no committed offset (or whose committed offset has
/// been evicted): Kafka's `auto.offset.reset`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum OffsetReset {
    #[default]
    Earliest,
    Latest,
    /// Refuse the fetch with `no_committed_offset`.
    None,
}

/// `POST /v1/groups/{group}/members`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct JoinGroupRequest {
    #[cfg_attr(feature = "openapi", schema(min_items = 1, example = json!(["orders"])))]
    pub topics: Vec<String>,
    /// A member that sends no heartbeat, fetch or commit for this long is removed. Defaults to
    /// `groups.default_session_timeout`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<AssignmentStrategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_offset_reset: Option<OffsetReset>,
    /// Free text shown by describe (host, process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A static member's name (Kafka's `group.instance.id`, KIP-345), the same across restarts:
    /// joining under the name of a member still in the group takes that member's place, its
    /// partitions and generation, without a rebalance; the member id it had is fenced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// Partitions of one topic.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopicPartitions {
    pub topic: String,
    pub partitions: Vec<u32>,
}

/// A member's view of the group: the answer to join and heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberAssignment {
    pub member_id: String,
    /// Send it with every heartbeat, fetch and commit. Heartbeating with it acknowledges this
    /// assignment: the member has stopped using partitions no longer listed.
    pub generation: u64,
    pub state: GroupState,
    /// Partitions the member owns and may fetch and commit now.
    pub assignment: Vec<TopicPartitions>,
    /// Partitions coming to the member once their previous owner lets go.
    pub pending: Vec<TopicPartitions>,
    /// How often to heartbeat: a third of the session timeout.
    pub heartbeat_interval_ms: u64,
}

/// `POST /v1/groups/{group}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HeartbeatRequest {
    pub member_id: String,
    pub generation: u64,
}

/// `POST /v1/groups/{group}/fetch`: records from all the member's partitions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct GroupFetchRequest {
    pub member_id: String,
    pub generation: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub max_records: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
}

/// One record of a group fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupRecord {
    pub topic: String,
    pub partition: u32,
    #[serde(flatten)]
    pub record: FetchedRecord,
}

/// Answer to a group fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupFetchResponse {
    /// The group's current generation.
    pub generation: u64,
    /// True when the group has moved on from the member's generation: heartbeat to learn the new
    /// assignment.
    pub rebalance: bool,
    pub records: Vec<GroupRecord>,
}

/// One offset to commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OffsetCommit {
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will read (last processed + 1).
    pub offset: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
}

/// `POST /v1/groups/{group}/offsets`. Members give `member_id` and `generation` and may commit only
/// partitions they own; without them the commit is an administrative one, allowed only while the
/// group has no members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommitRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    pub offsets: Vec<OffsetCommit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommitResponse {
    pub group: String,
    pub committed: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum GroupState {
    /// No members (offsets may be committed).
    Empty,
    /// Some partition is being handed from one member to another, or waits for an owner.
    Rebalancing,
    /// Every member owns exactly its assignment.
    Stable,
    /// No members and no committed offsets: nothing is kept, and the group is removed at the
    /// next expiry sweep (after which it is `unknown_group`).
    Dead,
}

/// One member in describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MemberDescription {
    pub member_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// A static member's name (`instance_id` at join).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    /// The generation last delivered to the member.
    pub generation: u64,
    pub assignment: Vec<TopicPartitions>,
    pub session_timeout_ms: u64,
    pub last_seen_ms_ago: u64,
}

/// One partition in describe: Kafka's columns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    /// `None` when the group has committed nothing for this partition.
    pub committed_offset: Option<u64>,
    pub log_end_offset: u64,
    /// Log end (high watermark) minus the committed offset; from the log start when nothing is
    /// committed.
    pub lag: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<String>,
    /// The member owning it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<String>,
}

/// `GET /v1/groups/{group}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupDescription {
    pub group: String,
    pub state: GroupState,
    pub generation: u64,
    pub strategy: AssignmentStrategy,
    pub members: Vec<MemberDescription>,
    pub offsets: Vec<PartitionLag>,
    /// The node coordinating the group (the one that answered): in a cluster, where its members'
    /// group requests end up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coordinator: Option<u64>,
}

/// `GET /v1/groups/{group}/coordinator`: where a group's member requests go (Kafka's
/// FindCoordinator).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupCoordinator {
    pub group: String,
    /// The node coordinating the group.
    pub node: u64,
    /// Its API address.
    pub address: String,
}

/// One row of `GET /v1/groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupSummary {
    pub group: String,
    pub state: GroupState,
    pub generation: u64,
    pub members: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
}

/// Where `reset-offsets` moves a group's offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(u64),
    ShiftBy(i64),
}

/// `POST /v1/groups/{group}/offsets/reset`. Allowed only while the group has no members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResetOffsetsRequest {
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub topic: String,
    /// All partitions of the topic when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<Vec<u32>>,
    pub to: ResetTo,
    /// Without it the answer is the plan and nothing changes.
    #[serde(default)]
    pub execute: bool,
}

/// One line of a reset plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetPlanEntry {
    pub topic: String,
    pub partition: u32,
    pub current_offset: Option<u64>,
    pub new_offset: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetOffsetsResponse {
    pub group: String,
    pub executed: bool,
    pub plan: Vec<ResetPlanEntry>,
}
