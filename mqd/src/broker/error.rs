//! Errors of the broker, each with one stable wire code (and so one HTTP status).

use crate::log::{LogError, MemoryLimitExceeded};
use mq_wire::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    #[error("topic `{topic}` has no partition {partition} (it has {count})")]
    UnknownPartition {
        topic: String,
        partition: u32,
        count: u32,
    },
    #[error("topic `{0}` already exists")]
    TopicExists(String),
    #[error("invalid topic name `{name}`: {reason}")]
    InvalidTopicName { name: String, reason: &'static str },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("record {index} is {size} bytes, over the limit of {max} (limits.max_record_bytes)")]
    RecordTooLarge { index: usize, size: usize, max: u64 },
    #[error("{count} records in one request, over the limit of {max} (limits.max_batch_records)")]
    TooManyRecords { count: usize, max: u32 },
    #[error("offset {requested} of {topic}/{partition} is out of range: valid offsets run from the log start {log_start} to the log end {log_end}")]
    OffsetOutOfRange {
        topic: String,
        partition: u32,
        requested: u64,
        log_start: u64,
        log_end: u64,
    },
    #[error(
        "{0}; produce is refused until retention or topic deletion frees room (limits.memory; a topic created with discard = \"old\" evicts its own oldest records instead)"
    )]
    MemoryLimit(#[from] MemoryLimitExceeded),
    #[error("{0}")]
    NoRecord(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("the compressed batch at byte {at} decompresses to more than the {max} bytes a request may carry uncompressed (limits.max_request_bytes)")]
    InflatesTooLarge { at: usize, max: usize },
    #[error("invalid batch at byte {at}: {source}")]
    InvalidBatch {
        at: usize,
        source: mq_wire::batch::BatchError,
    },
    #[error("this node does not lead {topic}/{partition}: node {leader} does")]
    NotLeader {
        topic: String,
        partition: u32,
        leader: u64,
    },
    #[error("{topic}/{partition} has {isr} in-sync replicas, fewer than its min_insync_replicas {min}: acks=all cannot be acknowledged safely; retry shortly")]
    NotEnoughReplicas {
        topic: String,
        partition: u32,
        isr: u32,
        min: u32,
    },
    #[error("{topic}/{partition}: the in-sync replicas did not copy the records within {waited_ms} ms; they may or may not survive a failover (an idempotent producer retries safely)")]
    ReplicationTimeout {
        topic: String,
        partition: u32,
        waited_ms: u64,
    },
    #[error("{topic}/{partition}: records below {log_start} are deleted on the leader, but an in-sync follower did not start there within {waited_ms} ms (a follower elected now could still serve them); send the delete again")]
    DeleteNotReplicated {
        topic: String,
        partition: u32,
        log_start: u64,
        waited_ms: u64,
    },
    #[error("{topic}/{partition}: producer {producer_id} sent sequence {got}, behind {expected}, in a batch this partition no longer remembers: a resend too old to recognise")]
    OutOfOrderSequence {
        topic: String,
        partition: u32,
        producer_id: i64,
        expected: i32,
        got: i32,
    },
    #[error("{topic}/{partition}: this node leads it from offset {epoch_start} on, and its high watermark ({high_watermark}) has not reached that yet (a recent election): offsets cannot be answered without possibly going back; retry shortly")]
    OffsetNotAvailable {
        topic: String,
        partition: u32,
        high_watermark: u64,
        epoch_start: u64,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl BrokerError {
    pub fn code(&self) -> ErrorCode {
        match self {
            BrokerError::UnknownTopic(_) => ErrorCode::UnknownTopic,
            BrokerError::UnknownPartition { .. } => ErrorCode::UnknownPartition,
            BrokerError::TopicExists(_) => ErrorCode::TopicExists,
            BrokerError::InvalidTopicName { .. } => ErrorCode::InvalidTopicName,
            BrokerError::InvalidArgument(_) => ErrorCode::InvalidRequest,
            BrokerError::RecordTooLarge { .. } | BrokerError::InflatesTooLarge { .. } => {
                ErrorCode::RecordTooLarge
            }
            BrokerError::TooManyRecords { .. } => ErrorCode::TooManyRecords,
            BrokerError::OffsetOutOfRange { .. } => ErrorCode::OffsetOutOfRange,
            BrokerError::MemoryLimit(_) => ErrorCode::MemoryLimitExceeded,
            BrokerError::NoRecord(_) => ErrorCode::NoRecord,
            BrokerError::LimitExceeded(_) => ErrorCode::LimitExceeded,
            BrokerError::InvalidBatch { .. } => ErrorCode::InvalidBatch,
            BrokerError::NotLeader { .. } => ErrorCode::NotLeader,
            BrokerError::NotEnoughReplicas { .. } => ErrorCode::NotEnoughReplicas,
            BrokerError::ReplicationTimeout { .. } | BrokerError::DeleteNotReplicated { .. } => {
                ErrorCode::ReplicationTimeout
            }
            BrokerError::OutOfOrderSequence { .. } => ErrorCode::OutOfOrderSequence,
            BrokerError::OffsetNotAvailable { .. } => ErrorCode::OffsetNotAvailable,
            BrokerError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Lifts a log error into the context of a partition.
    pub(crate) fn from_log(error: LogError, topic: &str, partition: u32) -> Self {
        match error {
            LogError::OffsetOutOfRange {
                requested,
                log_start,
                log_end,
            } => BrokerError::OffsetOutOfRange {
                topic: topic.to_owned(),
                partition,
                requested,
                log_start,
                log_end,
            },
            other => BrokerError::Internal(format!("{topic}/{partition}: {other}")),
        }
    }
}
