//! Each of our error codes as the Kafka error a Kafka client acts on: retriable where Kafka's is
//! (a client refreshes its metadata and retries), fatal where Kafka's is. One table, so that the
//! Kafka listener and the HTTP API can never disagree about what a failure means.

use kafka_protocol::ResponseError;
use mq_wire::ErrorCode;

/// The Kafka error for one of ours.
pub(super) fn kafka_error(code: ErrorCode) -> ResponseError {
    use ErrorCode as E;
    use ResponseError as K;
    match code {
        E::UnknownTopic | E::UnknownPartition => K::UnknownTopicOrPartition,
        E::TopicExists => K::TopicAlreadyExists,
        E::InvalidTopicName => K::InvalidTopicException,
        E::RecordTooLarge => K::MessageTooLarge,
        E::TooManyRecords | E::PayloadTooLarge => K::RecordListTooLarge,
        E::OffsetOutOfRange => K::OffsetOutOfRange,
        E::InvalidBatch => K::CorruptMessage,
        E::NotLeader | E::PartitionUnavailable => K::NotLeaderOrFollower,
        E::NotController | E::ControllerUnavailable => K::NotController,
        E::NotCoordinator => K::NotCoordinator,
        E::CoordinatorUnavailable => K::CoordinatorNotAvailable,
        E::UnknownGroup => K::GroupIdNotFound,
        E::UnknownMember => K::UnknownMemberId,
        E::StaleGeneration | E::NotPartitionOwner => K::IllegalGeneration,
        E::FencedInstance => K::FencedInstanceId,
        E::GroupNotEmpty => K::NonEmptyGroup,
        E::NotEnoughReplicas | E::NotEnoughNodes => K::NotEnoughReplicas,
        E::ReplicationTimeout | E::RequestTimeout | E::ForwardTimeout => K::RequestTimedOut,
        E::OutOfOrderSequence => K::OutOfOrderSequenceNumber,
        E::OffsetNotAvailable => K::OffsetNotAvailable,
        // Kafka clients treat a full broker as a policy they cannot retry past.
        E::MemoryLimitExceeded => K::PolicyViolation,
        E::LimitExceeded => K::PolicyViolation,
        E::MalformedJson
        | E::InvalidRequest
        | E::UnsupportedMediaType
        | E::NotFound
        | E::MethodNotAllowed
        | E::NoRecord
        | E::NoCommittedOffset
        | E::TooManyConnections => K::InvalidRequest,
        E::Internal | E::Unknown => K::UnknownServerError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_kafka_client_retries_stays_retriable() {
        for code in [
            ErrorCode::NotLeader,
            ErrorCode::PartitionUnavailable,
            ErrorCode::NotEnoughReplicas,
            ErrorCode::CoordinatorUnavailable,
            ErrorCode::NotCoordinator,
            ErrorCode::ReplicationTimeout,
            ErrorCode::OffsetNotAvailable,
        ] {
            assert!(kafka_error(code).is_retriable(), "{code:?}");
        }
        assert_eq!(
            kafka_error(ErrorCode::UnknownTopic),
            ResponseError::UnknownTopicOrPartition
        );
        assert!(!kafka_error(ErrorCode::RecordTooLarge).is_retriable());
    }
}
