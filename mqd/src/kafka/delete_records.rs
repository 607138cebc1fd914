//! DeleteRecords (what `kafka-delete-records` and Kafka Streams' repartition purge send): each
//! partition's records below an offset are deleted on its leader, through the same
//! [`crate::broker::Partition::delete_records_before`] as the HTTP API's `DELETE
//! /v1/topics/{topic}/partitions/{partition}/records`: every partition asked is deleted first, then
//! the in-sync followers of all are waited for together (within the request's `timeout_ms`, at
//! most `cluster.replication_timeout`). Offset -1 stands for the high watermark.

use super::error_codes::kafka_error;
use super::KafkaState;
use crate::http::delete_records::{finish_delete, start_delete, StartedDelete};
use crate::http::replication_timeout;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::{DeleteRecordsRequest, DeleteRecordsResponse};
use kafka_protocol::ResponseError;
use mq_wire::ErrorCode;
use std::time::Duration;

/// Kafka's "up to the high watermark".
const HIGH_WATERMARK: i64 = -1;

pub(super) async fn delete_records(
    state: &KafkaState,
    request: &DeleteRecordsRequest,
) -> DeleteRecordsResponse {
    // Every partition's records go first; then the in-sync followers of all of them are waited
    // for together, within the request's timeout.
    let mut started = Vec::new();
    for asked in &request.topics {
        let outcomes: Vec<_> = asked
            .partitions
            .iter()
            .map(|p| {
                let outcome = start_one(state, asked.name.as_str(), p.partition_index, p.offset);
                (p.partition_index, outcome)
            })
            .collect();
        started.push((asked.name.clone(), outcomes));
    }
    let mut timeout = replication_timeout(&state.app);
    if let Ok(asked) = u64::try_from(request.timeout_ms) {
        timeout = timeout.min(Duration::from_millis(asked));
    }
    let mut topics = Vec::with_capacity(started.len());
    for (name, outcomes) in started {
        let topic = name.as_str();
        let waits = outcomes.into_iter().map(|(index, outcome)| async move {
            let outcome = match outcome {
                Ok(started) => finish_delete(&state.app, topic, &started, timeout)
                    .await
                    .map(|()| started.log_start)
                    .map_err(|e| match e.code {
                        // The records are deleted; only the metadata's note of it is not
                        // written: a retriable timeout, not a controller to look for.
                        ErrorCode::ControllerUnavailable => ResponseError::RequestTimedOut,
                        code => kafka_error(code),
                    }),
                Err(error) => Err(error),
            };
            let result = DeleteRecordsPartitionResult::default().with_partition_index(index);
            match outcome {
                Ok(log_start) => result.with_low_watermark(log_start as i64),
                Err(error) => result.with_low_watermark(-1).with_error_code(error.code()),
            }
        });
        let partitions = futures_util::future::join_all(waits).await;
        topics.push(
            DeleteRecordsTopicResult::default()
                .with_name(name)
                .with_partitions(partitions),
        );
    }
    DeleteRecordsResponse::default().with_topics(topics)
}

/// Deletes one partition's records on its leader: the partition and its new log start.
fn start_one(
    state: &KafkaState,
    topic: &str,
    partition: i32,
    offset: i64,
) -> Result<StartedDelete, ResponseError> {
    let partition = u32::try_from(partition).map_err(|_| ResponseError::UnknownTopicOrPartition)?;
    let before = match offset {
        HIGH_WATERMARK => None,
        offset => Some(u64::try_from(offset).map_err(|_| ResponseError::OffsetOutOfRange)?),
    };
    start_delete(&state.app, topic, partition, before).map_err(|error| kafka_error(error.code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::NewRecord;
    use kafka_protocol::messages::delete_records_request::{
        DeleteRecordsPartition, DeleteRecordsTopic,
    };
    use kafka_protocol::messages::TopicName;
    use mq_wire::api::CreateTopicRequest;

    fn request(topic: &str, partitions: &[(i32, i64)]) -> DeleteRecordsRequest {
        DeleteRecordsRequest::default().with_topics(vec![DeleteRecordsTopic::default()
            .with_name(TopicName(super::super::text(topic)))
            .with_partitions(
                partitions
                    .iter()
                    .map(|&(index, offset)| {
                        DeleteRecordsPartition::default()
                            .with_partition_index(index)
                            .with_offset(offset)
                    })
                    .collect(),
            )])
    }

    fn outcomes(answer: &DeleteRecordsResponse) -> Vec<(i32, i64, i16)> {
        answer.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.low_watermark, p.error_code))
            .collect()
    }

    #[tokio::test]
    async fn records_below_the_offset_go_and_the_low_watermark_says_where_the_log_starts() {
        let state = KafkaState::for_tests();
        let broker = &state.app.broker;
        broker
            .create_topic(&CreateTopicRequest {
                name: "t".into(),
                partitions: Some(2),
                ..Default::default()
            })
            .unwrap();
        let topic = broker.topic("t").unwrap();
        for partition in 0..2 {
            let records: Vec<NewRecord> = (0..10)
                .map(|i| NewRecord {
                    partition: Some(partition),
                    value: format!("v{i}").into_bytes().into(),
                    ..Default::default()
                })
                .collect();
            topic
                .produce(&records, 1 << 20, mq_wire::api::Acks::Leader, 1)
                .unwrap();
        }
        let answer = delete_records(&state, &request("t", &[(0, 4), (1, HIGH_WATERMARK)])).await;
        assert_eq!(outcomes(&answer), [(0, 4, 0), (1, 10, 0)]);
        assert_eq!(topic.partition(0).unwrap().log_start(), 4);
        assert_eq!(topic.partition(1).unwrap().log_start(), 10);

        let answer = delete_records(&state, &request("t", &[(0, 11), (0, -2), (5, 1)])).await;
        let out_of_range = ResponseError::OffsetOutOfRange.code();
        let unknown = ResponseError::UnknownTopicOrPartition.code();
        assert_eq!(
            outcomes(&answer),
            [
                (0, -1, out_of_range),
                (0, -1, out_of_range),
                (5, -1, unknown)
            ]
        );
        assert_eq!(topic.partition(0).unwrap().log_start(), 4, "unchanged");
        let answer = delete_records(&state, &request("nope", &[(0, 1)])).await;
        assert_eq!(outcomes(&answer), [(0, -1, unknown)]);
    }
}
