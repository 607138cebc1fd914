//! OffsetForLeaderEpoch (KIP-101, KIP-320): where a leader epoch ended in the partition leader's
//! log, so that a consumer that read from a deposed leader finds out whether what it read is still
//! there after the failover (librdkafka validates its position this way after a leader change).
//! The answer is the replication protocol's: the largest epoch at or below the asked one and the
//! offset where it ended (the log end for the newest), from the partition's leader epoch cache;
//! for an epoch older than every one held (its records were evicted), Kafka's answer: that epoch,
//! ending where the oldest one held began. One difference from Kafka: an epoch newer than every
//! one held (a leader elected that has not appended yet) is answered with the newest one and the
//! log end, where Kafka answers undefined, which librdkafka takes for a truncation.
//! A `current_leader_epoch` behind the leader's is `FENCED_LEADER_EPOCH`, one ahead of it
//! `UNKNOWN_LEADER_EPOCH`, as Kafka answers them.

use super::error_codes::kafka_error;
use super::KafkaState;
use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderPartition;
use kafka_protocol::messages::offset_for_leader_epoch_response::{
    EpochEndOffset, OffsetForLeaderTopicResult,
};
use kafka_protocol::messages::{OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse};
use kafka_protocol::ResponseError;

pub(super) fn offset_for_leader_epoch(
    state: &KafkaState,
    request: OffsetForLeaderEpochRequest,
) -> OffsetForLeaderEpochResponse {
    let broker = &state.app.broker;
    let topics = request
        .topics
        .into_iter()
        .map(|asked| {
            let topic = broker.topic(asked.topic.as_str());
            let partitions = asked
                .partitions
                .iter()
                .map(|wanted| {
                    let answer = EpochEndOffset::default().with_partition(wanted.partition);
                    let partition = topic.as_ref().map_err(|e| e.code()).and_then(|topic| {
                        let at = u32::try_from(wanted.partition).unwrap_or(u32::MAX);
                        topic.partition(at).cloned().map_err(|e| e.code())
                    });
                    let partition = match partition {
                        Ok(partition) => partition,
                        Err(code) => return answer.with_error_code(kafka_error(code).code()),
                    };
                    if let Some(fenced) = epoch_mismatch(wanted, partition.leader_epoch()) {
                        return answer.with_error_code(fenced.code());
                    }
                    let Ok(asked_epoch) = u32::try_from(wanted.leader_epoch) else {
                        // No epoch asked (-1): Kafka answers undefined epoch and offset.
                        return answer;
                    };
                    match partition.on_leader_epochs(|epochs, end| {
                        epochs.consumer_end_offset_for(asked_epoch, end)
                    }) {
                        Ok(Some((epoch, end))) => answer
                            .with_leader_epoch(epoch as i32)
                            .with_end_offset(end as i64),
                        // No epoch held at all (an empty log): undefined.
                        Ok(None) => answer,
                        Err(error) => answer.with_error_code(kafka_error(error.code()).code()),
                    }
                })
                .collect();
            OffsetForLeaderTopicResult::default()
                .with_topic(asked.topic)
                .with_partitions(partitions)
        })
        .collect();
    OffsetForLeaderEpochResponse::default().with_topics(topics)
}

/// Kafka's fencing of the client's view of the leader epoch (-1: the client did not say).
fn epoch_mismatch(wanted: &OffsetForLeaderPartition, leader_epoch: u32) -> Option<ResponseError> {
    let current = i64::from(wanted.current_leader_epoch);
    let leader = i64::from(leader_epoch);
    if current < 0 || current == leader {
        None
    } else if current < leader {
        Some(ResponseError::FencedLeaderEpoch)
    } else {
        Some(ResponseError::UnknownLeaderEpoch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::{BatchLimits, ReplicaSet};
    use kafka_protocol::messages::offset_for_leader_epoch_request::OffsetForLeaderTopic;
    use kafka_protocol::messages::TopicName;
    use mq_wire::api::Acks;
    use mq_wire::batch::{BatchBuilder, RecordInput};

    fn ask(topic: &str, partition: i32, current: i32, epoch: i32) -> OffsetForLeaderEpochRequest {
        OffsetForLeaderEpochRequest::default().with_topics(vec![OffsetForLeaderTopic::default()
            .with_topic(TopicName(super::super::text(topic)))
            .with_partitions(vec![OffsetForLeaderPartition::default()
                .with_partition(partition)
                .with_current_leader_epoch(current)
                .with_leader_epoch(epoch)])])
    }

    /// The one partition's answer: error code, leader epoch, end offset.
    fn answer(state: &KafkaState, request: OffsetForLeaderEpochRequest) -> (i16, i32, i64) {
        let found = &offset_for_leader_epoch(state, request).topics[0].partitions[0];
        (found.error_code, found.leader_epoch, found.end_offset)
    }

    #[test]
    fn the_end_of_an_epoch_and_kafkas_fencing_errors() {
        let state = KafkaState::for_tests();
        let broker = &state.app.broker;
        broker
            .create_topic(&mq_wire::api::CreateTopicRequest {
                name: "t".into(),
                ..Default::default()
            })
            .unwrap();
        let topic = broker.topic("t").unwrap();
        let append = |records: usize| {
            let mut batch = BatchBuilder::with_capacity(64);
            for _ in 0..records {
                batch.push(&RecordInput {
                    id: uuid::Uuid::now_v7(),
                    timestamp: 1,
                    key: None,
                    value: Some(b"v"),
                    headers: &[],
                });
            }
            let limits = BatchLimits {
                max_record_bytes: 1 << 20,
                max_batch_records: 1000,
                max_inflated_bytes: 1 << 20,
            };
            let mut body = batch.finish().to_vec();
            topic
                .append_batches(0, &mut body, &limits, Acks::Leader, 1)
                .unwrap();
        };
        // Epoch 0 holds offsets 0..3, epoch 1 (the same node leading again) 3..5.
        append(3);
        let partition = &topic.partitions()[0];
        let mut again = partition.replica_set();
        again.leader_epoch = 1;
        partition.apply_placement(&again);
        append(2);

        assert_eq!(answer(&state, ask("t", 0, 1, 0)), (0, 0, 3));
        assert_eq!(answer(&state, ask("t", 0, 1, 1)), (0, 1, 5));
        let fenced = answer(&state, ask("t", 0, 0, 0)).0;
        assert_eq!(fenced, ResponseError::FencedLeaderEpoch.code());
        // The client does not know the leader's epoch: no check.
        assert_eq!(answer(&state, ask("t", 0, -1, 5)), (0, 1, 5));
        let ahead = answer(&state, ask("t", 0, 2, 0)).0;
        assert_eq!(ahead, ResponseError::UnknownLeaderEpoch.code());
        let unknown = answer(&state, ask("nope", 0, 1, 0)).0;
        assert_eq!(unknown, ResponseError::UnknownTopicOrPartition.code());
        let no_partition = answer(&state, ask("t", 7, 1, 0)).0;
        assert_eq!(no_partition, ResponseError::UnknownTopicOrPartition.code());

        // The node follows another at epoch 2, starts over empty at offset 5 (as a node that came
        // back does), then leads at epoch 3: epochs 0 and 1 are no longer held here. A consumer
        // that read in epoch 1 is told it ended where the oldest epoch held began (Kafka's
        // answer), not "undefined", which librdkafka would take for a truncation.
        let me = broker.node_id();
        let follow = ReplicaSet {
            leader: me + 1,
            leader_epoch: 2,
            replicas: vec![me, me + 1],
            isr: vec![me + 1, me],
            partition_epoch: 1,
            deleted_before: 0,
            deleted_at_epoch: 0,
        };
        partition.apply_placement(&follow);
        partition.restart_at(5, 2);
        partition.apply_placement(&ReplicaSet {
            leader: me,
            leader_epoch: 3,
            partition_epoch: 2,
            ..follow
        });
        append(2);
        assert_eq!(answer(&state, ask("t", 0, 3, 1)), (0, 1, 5));
        assert_eq!(answer(&state, ask("t", 0, 3, 3)), (0, 3, 7));
    }
}
