//! Errors of the group coordinator; the fencing ones tell a member exactly what to do next.

use crate::broker::BrokerError;
use mq_wire::ErrorCode;

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("unknown group `{0}`")]
    UnknownGroup(String),
    #[error(
        "member `{member}` is not in group `{group}` (its session may have expired): join again"
    )]
    UnknownMember { group: String, member: String },
    #[error("member `{member}` of group `{group}` was replaced by a newer process joining with instance_id `{instance}`: stop this one (two processes share the name)")]
    FencedInstance {
        group: String,
        member: String,
        instance: String,
    },
    #[error("generation {given} is stale: member `{member}` is at generation {current}; heartbeat to learn the assignment")]
    StaleGeneration {
        member: String,
        given: u64,
        current: u64,
    },
    #[error("member `{member}` does not own {topic}/{partition} in group `{group}`")]
    NotPartitionOwner {
        group: String,
        member: String,
        topic: String,
        partition: u32,
    },
    #[error("group `{0}` has members; stop them first (or wait for their sessions to expire)")]
    GroupNotEmpty(String),
    #[error("no committed offset for {topic}/{partition} in group `{group}` and auto_offset_reset is none")]
    NoCommittedOffset {
        group: String,
        topic: String,
        partition: u32,
    },
    #[error("{0}")]
    InvalidArgument(String),
    #[error("a member must read at least one topic")]
    NoTopics,
    #[error("group `{group}` assigns with {strategy}; join with the same strategy")]
    StrategyMismatch { group: String, strategy: String },
    #[error("session_timeout_ms must be between {min_ms} and {max_ms} (groups.min_session_timeout, groups.max_session_timeout)")]
    SessionTimeoutOutOfRange { min_ms: u128, max_ms: u128 },
    #[error(
        "this node no longer coordinates group `{0}`; the request goes to its new coordinator"
    )]
    NotCoordinator(String),
    #[error("the coordinator of group `{group}` cannot serve it right now: {reason}; retry")]
    CoordinatorUnavailable { group: String, reason: String },
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

impl GroupError {
    pub fn code(&self) -> ErrorCode {
        match self {
            GroupError::UnknownGroup(_) => ErrorCode::UnknownGroup,
            GroupError::UnknownMember { .. } => ErrorCode::UnknownMember,
            GroupError::FencedInstance { .. } => ErrorCode::FencedInstance,
            GroupError::StaleGeneration { .. } => ErrorCode::StaleGeneration,
            GroupError::NotPartitionOwner { .. } => ErrorCode::NotPartitionOwner,
            GroupError::GroupNotEmpty(_) => ErrorCode::GroupNotEmpty,
            GroupError::NoCommittedOffset { .. } => ErrorCode::NoCommittedOffset,
            GroupError::InvalidArgument(_)
            | GroupError::NoTopics
            | GroupError::StrategyMismatch { .. }
            | GroupError::SessionTimeoutOutOfRange { .. } => ErrorCode::InvalidRequest,
            GroupError::NotCoordinator(_) => ErrorCode::NotCoordinator,
            GroupError::CoordinatorUnavailable { .. } => ErrorCode::CoordinatorUnavailable,
            GroupError::Broker(error) => error.code(),
        }
    }
}
