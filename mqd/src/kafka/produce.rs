//! Produce: each partition's Kafka batches become log batches and go through the same append as
//! an HTTP binary produce (validation, the idempotent producer window, the memory limit, the
//! reorder wait), then `acks=all` waits for the in-sync replicas as HTTP does.

use super::error_codes::kafka_error;
use super::records::to_log_batches;
use super::KafkaState;
use crate::broker::{BatchLimits, BrokerError, Commit, Topic};
use crate::http::ApiError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use mq_wire::api::Acks;
use std::sync::Arc;

pub(super) async fn produce(
    state: &KafkaState,
    request: ProduceRequest,
    _version: i16,
) -> ProduceResponse {
    let acks = acks_of(&request);
    let mut responses = Vec::with_capacity(request.topic_data.len());
    // `acks=all`: (topic response, partition response, topic, what to wait for), awaited
    // together once every partition of every topic is appended.
    let mut waits = Vec::new();
    for topic_data in request.topic_data {
        let topic = state.app.broker.topic(topic_data.name.as_str());
        let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
        for data in topic_data.partition_data {
            let index = data.index;
            let outcome = match (&topic, acks) {
                (_, Err((error, message))) => Err((error.code(), message.to_owned())),
                (Err(error), _) => Err((kafka_error(error.code()).code(), error.to_string())),
                (Ok(topic), Ok(acks)) => append(state, topic, index, data.records, acks).await,
            };
            partitions.push(match outcome {
                Ok((base_offset, commits)) => {
                    if let Ok(topic) = &topic {
                        waits.push((
                            responses.len(),
                            partitions.len(),
                            Arc::clone(topic),
                            commits,
                        ));
                    }
                    PartitionProduceResponse::default()
                        .with_index(index)
                        .with_base_offset(base_offset)
                        .with_log_start_offset(log_start(&topic, index))
                }
                Err((code, message)) => failed(index, code, message),
            });
        }
        responses.push(
            TopicProduceResponse::default()
                .with_name(topic_data.name)
                .with_partition_responses(partitions),
        );
    }
    if matches!(acks, Ok(Acks::All)) {
        let outcomes =
            futures_util::future::join_all(waits.iter().map(|(_, _, topic, commits)| {
                crate::http::records::acknowledge(&state.app, topic, commits, Acks::All)
            }))
            .await;
        for ((at_topic, at, _, _), outcome) in waits.iter().zip(outcomes) {
            if let Err(error) = outcome {
                let answer = &mut responses[*at_topic].partition_responses[*at];
                *answer = failed(answer.index, kafka_error(error.code).code(), error.message);
            }
        }
    }
    ProduceResponse::default().with_responses(responses)
}

/// The acks a produce asks for, or why all of its partitions are refused.
fn acks_of(request: &ProduceRequest) -> Result<Acks, (ResponseError, &'static str)> {
    if request.transactional_id.is_some() {
        return Err((
            ResponseError::TransactionalIdAuthorizationFailed,
            "transactions are not supported",
        ));
    }
    match request.acks {
        -1 => Ok(Acks::All),
        1 => Ok(Acks::Leader),
        0 => Ok(Acks::None),
        _ => Err((
            ResponseError::InvalidRequiredAcks,
            "acks must be -1, 0 or 1",
        )),
    }
}

fn failed(index: i32, code: i16, message: String) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code)
        .with_base_offset(-1)
        .with_log_start_offset(-1)
        .with_error_message(Some(StrBytes::from_string(message)))
}

fn log_start(topic: &Result<Arc<Topic>, crate::broker::BrokerError>, index: i32) -> i64 {
    topic
        .as_ref()
        .ok()
        .and_then(|t| t.partition(index as u32).ok())
        .map_or(-1, |p| p.log_start() as i64)
}

/// Appends one partition's record set; returns its first offset and what `acks=all` waits for.
async fn append(
    state: &KafkaState,
    topic: &Topic,
    index: i32,
    records: Option<bytes::Bytes>,
    acks: Acks,
) -> Result<(i64, Vec<Commit>), (i16, String)> {
    let Ok(partition) = u32::try_from(index) else {
        return Err((
            ResponseError::UnknownTopicOrPartition.code(),
            format!("partition {index} does not exist"),
        ));
    };
    let Some(records) = records.filter(|r| !r.is_empty()) else {
        return Err((
            ResponseError::CorruptMessage.code(),
            "no records".to_owned(),
        ));
    };
    let config = state.app.broker.config();
    let mut batches = to_log_batches(
        records,
        config.limits.max_request_bytes.0 as usize,
        config.limits.max_batch_records,
    )
    .map_err(|e| (e.kafka_error().code(), e.to_string()))?;
    let limits = BatchLimits {
        max_record_bytes: config.limits.max_record_bytes.0,
        max_batch_records: config.limits.max_batch_records,
        max_inflated_bytes: config.limits.max_request_bytes.0 as usize,
    };
    let produced = topic
        .append_batches_in_order(
            partition,
            &mut batches.bytes,
            &limits,
            acks,
            config.topics.producer_reorder_wait.0,
        )
        .await
        .map_err(|error| {
            // A producer this partition does not know (new here, or forgotten after
            // `topics.dedup_window`) sending past sequence 0: Kafka's UNKNOWN_PRODUCER_ID, on
            // which clients start a new epoch; librdkafka takes OUT_OF_ORDER_SEQUENCE_NUMBER
            // there as fatal.
            if let BrokerError::OutOfOrderSequence {
                expected: 0, got, ..
            } = &error
            {
                if *got > 0 {
                    return (ResponseError::UnknownProducerId.code(), error.to_string());
                }
            }
            let error = ApiError::from(error);
            (kafka_error(error.code).code(), error.message)
        })?;
    if produced.appended_records > 0 {
        state.app.metrics.produced(
            topic.name(),
            produced.appended_records,
            produced.appended_payload_bytes,
        );
    }
    let base_offset = produced
        .positions
        .first()
        .map_or(-1, |p| p.base_offset as i64);
    Ok((base_offset, produced.commits))
}
