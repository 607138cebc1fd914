//! Stable error codes and the error body every failing request answers with:
//! `{"error": {"code": "unknown_topic", "message": "…"}}`. Each code has exactly one HTTP status, so
//! the server and clients agree on both.

use serde::{Deserialize, Serialize};

/// Every error the API can answer with. The snake_case name is the `code` on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The body is not JSON at all (syntax error, truncated).
    MalformedJson,
    /// The body or query is JSON of the wrong shape: a missing field, a wrong type, an unknown field,
    /// or a value out of range.
    InvalidRequest,
    /// A binary produce body is not a valid run of record batches (length, magic, CRC, records).
    InvalidBatch,
    /// The request's `Content-Type` is not one the endpoint reads.
    UnsupportedMediaType,
    /// The request body is larger than `limits.max_request_bytes`.
    PayloadTooLarge,
    /// The request body came slower than `limits.body_min_rate`; the connection is closed.
    RequestTimeout,
    /// A record is larger than `limits.max_record_bytes`.
    RecordTooLarge,
    /// A batch has more records than `limits.max_batch_records`.
    TooManyRecords,
    /// No route has this path.
    NotFound,
    /// The path exists but not with this method.
    MethodNotAllowed,
    UnknownTopic,
    UnknownPartition,
    TopicExists,
    /// A topic name outside `[A-Za-z0-9._-]{1,249}`.
    InvalidTopicName,
    /// A fetch asked for an offset outside `[log start, log end]`.
    OffsetOutOfRange,
    /// The seed `/consume` or `/commit` found no record at the consumer's position.
    NoRecord,
    UnknownGroup,
    /// Fencing: the member is not (or no longer) in the group, e.g. its session expired. Rejoin.
    UnknownMember,
    /// Fencing: the request carries a generation other than the member's current one. Heartbeat.
    StaleGeneration,
    /// Fencing: the member does not own the partition in the current assignment.
    NotPartitionOwner,
    /// Fencing: a static member (`instance_id`) was replaced by a newer process joining under
    /// the same name. Stop: joining again would replace the newer one in turn.
    FencedInstance,
    /// The group has members: delete, reset and administrative commits need it empty.
    GroupNotEmpty,
    /// The member's `auto_offset_reset` is `none` and a partition has no committed offset.
    NoCommittedOffset,
    /// A node-wide count limit (`limits.max_topics`, `limits.max_partitions`) is reached.
    LimitExceeded,
    /// The node has `limits.max_connections` open connections; this one is refused.
    TooManyConnections,
    /// The node-wide memory limit is reached: produce is refused until retention frees room.
    MemoryLimitExceeded,
    /// A bug: the server could not complete a valid request.
    Internal,
    /// Cluster: this node does not lead the partition (a forwarded request met a stale map).
    /// Refresh the metadata and send it to the leader.
    NotLeader,
    /// Cluster: this node is not the controller. Refresh the metadata and retry there.
    NotController,
    /// Cluster: this node does not coordinate the group. Refresh the metadata and retry there.
    NotCoordinator,
    /// Cluster: the node leading the partition is down or unreachable; the message names it.
    PartitionUnavailable,
    /// Cluster: no controller is elected or reachable right now. Retry shortly.
    ControllerUnavailable,
    /// Cluster: the group's coordinator is down or unreachable. Retry shortly.
    CoordinatorUnavailable,
    /// Cluster: fewer live nodes than the topic's `replication_factor`.
    NotEnoughNodes,
    /// Cluster: the request was sent on to the node serving it, which did not answer in time.
    /// It may or may not have been applied.
    ForwardTimeout,
    /// Replication: fewer replicas are in sync than the topic's `min_insync_replicas`, so an
    /// `acks=all` produce cannot be acknowledged safely. Nothing was appended when refused up
    /// front; retry shortly.
    NotEnoughReplicas,
    /// Replication: an `acks=all` produce was appended but not copied to the in-sync replicas in
    /// time. It may or may not survive a failover: an idempotent producer retries safely.
    ReplicationTimeout,
    /// An idempotent producer's batch is behind the last one this partition has from it and is
    /// not one it remembers: a resend too old to recognise, which could be stored twice.
    OutOfOrderSequence,
    /// Replication: the partition's leader was elected recently and its high watermark has not
    /// yet reached where its leadership began, so `latest` (or a look-up by time past it) could
    /// answer an offset below one given out before (Kafka's KIP-207). Retry shortly.
    OffsetNotAvailable,
    /// A code this client does not know (sent by a newer server). Its status still says what
    /// kind of failure it is.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status this code is always sent with.
    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            MalformedJson | InvalidRequest | InvalidTopicName | InvalidBatch => 400,
            NotFound | UnknownTopic | UnknownPartition | NoRecord | UnknownGroup => 404,
            MethodNotAllowed => 405,
            RequestTimeout => 408,
            TopicExists | UnknownMember | StaleGeneration | NotPartitionOwner | FencedInstance
            | GroupNotEmpty | NoCommittedOffset | OutOfOrderSequence => 409,
            PayloadTooLarge | RecordTooLarge | TooManyRecords => 413,
            UnsupportedMediaType => 415,
            OffsetOutOfRange => 416,
            Internal => 500,
            NotLeader | NotController | NotCoordinator => 421,
            TooManyConnections
            | PartitionUnavailable
            | ControllerUnavailable
            | CoordinatorUnavailable
            | NotEnoughNodes
            | NotEnoughReplicas
            | OffsetNotAvailable => 503,
            ForwardTimeout | ReplicationTimeout => 504,
            Unknown => 500,
            MemoryLimitExceeded | LimitExceeded => 507,
        }
    }

    /// The wire name, e.g. `unknown_topic`.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            MalformedJson => "malformed_json",
            InvalidRequest => "invalid_request",
            InvalidBatch => "invalid_batch",
            UnsupportedMediaType => "unsupported_media_type",
            PayloadTooLarge => "payload_too_large",
            RequestTimeout => "request_timeout",
            RecordTooLarge => "record_too_large",
            TooManyRecords => "too_many_records",
            NotFound => "not_found",
            MethodNotAllowed => "method_not_allowed",
            UnknownTopic => "unknown_topic",
            UnknownPartition => "unknown_partition",
            TopicExists => "topic_exists",
            InvalidTopicName => "invalid_topic_name",
            OffsetOutOfRange => "offset_out_of_range",
            NoRecord => "no_record",
            UnknownGroup => "unknown_group",
            UnknownMember => "unknown_member",
            StaleGeneration => "stale_generation",
            NotPartitionOwner => "not_partition_owner",
            FencedInstance => "fenced_instance",
            GroupNotEmpty => "group_not_empty",
            NoCommittedOffset => "no_committed_offset",
            MemoryLimitExceeded => "memory_limit_exceeded",
            Internal => "internal",
            LimitExceeded => "limit_exceeded",
            TooManyConnections => "too_many_connections",
            NotLeader => "not_leader",
            NotController => "not_controller",
            NotCoordinator => "not_coordinator",
            PartitionUnavailable => "partition_unavailable",
            ControllerUnavailable => "controller_unavailable",
            CoordinatorUnavailable => "coordinator_unavailable",
            NotEnoughNodes => "not_enough_nodes",
            ForwardTimeout => "forward_timeout",
            NotEnoughReplicas => "not_enough_replicas",
            ReplicationTimeout => "replication_timeout",
            OutOfOrderSequence => "out_of_order_sequence",
            OffsetNotAvailable => "offset_not_available",
            Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The JSON body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code,
                message: message.into(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_name_matches_serde_name() {
        for code in [
            ErrorCode::MalformedJson,
            ErrorCode::UnknownTopic,
            ErrorCode::MemoryLimitExceeded,
            ErrorCode::OffsetOutOfRange,
            ErrorCode::StaleGeneration,
            ErrorCode::NotPartitionOwner,
            ErrorCode::FencedInstance,
            ErrorCode::NoCommittedOffset,
            ErrorCode::NotLeader,
            ErrorCode::PartitionUnavailable,
            ErrorCode::NotEnoughReplicas,
            ErrorCode::ReplicationTimeout,
            ErrorCode::OutOfOrderSequence,
            ErrorCode::OffsetNotAvailable,
        ] {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
    }

    #[test]
    fn a_code_from_a_newer_server_reads_as_unknown() {
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":{"code":"brand_new_code","message":"m"}}"#).unwrap();
        assert_eq!(body.error.code, ErrorCode::Unknown);
    }
}
