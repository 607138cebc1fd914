//! Fetch: reads each asked partition from its leader's log (this node must lead it), encodes the
//! visible records as Kafka batches, and long polls as Kafka does: when fewer than `min_bytes`
//! came back, it waits for any of the partitions' high watermarks to move, until `max_wait_ms`.
//! Fetch sessions (KIP-227) are not kept: every answer is a full one with session id 0, which
//! clients accept by sending full requests.

use super::error_codes::kafka_error;
use super::records::{to_kafka_batches, KafkaBatches};
use super::KafkaState;
use crate::broker::{BrokerError, PartitionRead, Topic};
use futures_util::FutureExt;
use kafka_protocol::messages::fetch_request::FetchPartition;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{FetchRequest, FetchResponse};
use kafka_protocol::ResponseError;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The most one partition's answer reads at once (the client asks again at once for more):
/// larger reads cost more in fresh memory than they save in round trips.
const MAX_READ_PER_PARTITION: usize = 1 << 20;

pub(super) async fn fetch(state: &KafkaState, request: FetchRequest) -> FetchResponse {
    let limits = state.app.broker.config().limits.clone();
    let max_wait =
        Duration::from_millis(request.max_wait_ms.max(0) as u64).min(limits.max_fetch_wait.0);
    let deadline = Instant::now() + max_wait;
    let max_bytes = (request.max_bytes.max(0) as u64).min(limits.max_fetch_bytes.0) as usize;
    let min_bytes = request.min_bytes.max(0) as usize;
    let stop = state.app.shutdown.clone().wait();
    tokio::pin!(stop);
    loop {
        let mut watches = Vec::new();
        let (responses, bytes, failed) = read_all(state, &request, max_bytes, &mut watches);
        if bytes >= min_bytes.max(1) || failed || watches.is_empty() || Instant::now() >= deadline {
            return FetchResponse::default().with_responses(responses);
        }
        let moved = futures_util::future::select_all(
            watches.iter_mut().map(|w| w.changed().map(|_| ()).boxed()),
        );
        tokio::select! {
            _ = moved => {}
            _ = tokio::time::sleep_until(deadline) => {}
            _ = &mut stop => return FetchResponse::default().with_responses(responses),
        }
    }
}

/// One pass over every asked partition: the answers, their record bytes, whether any partition
/// failed (answered at once, as Kafka does), and a watch on each partition's high watermark
/// taken before its read, so a record appended after the read wakes the long poll.
fn read_all(
    state: &KafkaState,
    request: &FetchRequest,
    max_bytes: usize,
    watches: &mut Vec<watch::Receiver<u64>>,
) -> (Vec<FetchableTopicResponse>, usize, bool) {
    let (mut total, mut failed) = (0usize, false);
    let mut responses = Vec::with_capacity(request.topics.len());
    for asked in &request.topics {
        let topic = state.app.broker.topic(asked.topic.as_str());
        let mut partitions = Vec::with_capacity(asked.partitions.len());
        for wanted in &asked.partitions {
            let index = wanted.partition;
            let room = max_bytes
                .saturating_sub(total)
                .min(wanted.partition_max_bytes.max(0) as usize);
            // Kafka's rule (KIP-74): past the response's byte budget, partitions come back
            // empty; only the first one with records may exceed it.
            if total > 0 && total >= max_bytes {
                partitions.push(
                    PartitionData::default()
                        .with_partition_index(index)
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                        .with_records(Some(bytes::Bytes::new())),
                );
                continue;
            }
            let outcome = match &topic {
                Err(error) => Err(kafka_error(error.code())),
                Ok(topic) => {
                    read_one(state, topic, wanted, room, watches).map_err(|error| match error {
                        BrokerError::InvalidArgument(_) => ResponseError::OffsetOutOfRange,
                        other => kafka_error(other.code()),
                    })
                }
            };
            partitions.push(match outcome {
                Ok((read, batches)) => {
                    total += batches.bytes.len();
                    PartitionData::default()
                        .with_partition_index(index)
                        .with_high_watermark(read.high_watermark as i64)
                        .with_last_stable_offset(read.high_watermark as i64)
                        .with_log_start_offset(read.batches.log_start as i64)
                        .with_records(Some(batches.bytes))
                }
                Err(code) => {
                    failed = true;
                    PartitionData::default()
                        .with_partition_index(index)
                        .with_error_code(code.code())
                        .with_high_watermark(-1)
                        .with_last_stable_offset(-1)
                        .with_log_start_offset(-1)
                }
            });
        }
        responses.push(
            FetchableTopicResponse::default()
                .with_topic(asked.topic.clone())
                .with_partitions(partitions),
        );
    }
    (responses, total, failed)
}

/// Reads one partition from `wanted.fetch_offset`, up to `room` bytes (at least one batch).
fn read_one(
    state: &KafkaState,
    topic: &Topic,
    wanted: &FetchPartition,
    room: usize,
    watches: &mut Vec<watch::Receiver<u64>>,
) -> Result<(PartitionRead, KafkaBatches), BrokerError> {
    let index = wanted.partition;
    let partition = topic.partition(u32::try_from(index).unwrap_or(u32::MAX))?;
    watches.push(partition.watch_high_watermark());
    let from = u64::try_from(wanted.fetch_offset).map_err(|_| {
        BrokerError::InvalidArgument(format!("fetch offset {}", wanted.fetch_offset))
    })?;
    let mut read = partition.read(from, room.clamp(1, MAX_READ_PER_PARTITION))?;
    if from > read.batches.log_end || from < read.batches.log_start {
        return Err(BrokerError::OffsetOutOfRange {
            topic: topic.name().to_owned(),
            partition: partition.index(),
            requested: from,
            log_start: read.batches.log_start,
            log_end: read.batches.log_end,
        });
    }
    let stored = bytes::Bytes::from(std::mem::take(&mut read.batches.bytes));
    let batches =
        to_kafka_batches(&stored, from, read.high_watermark).map_err(BrokerError::Internal)?;
    state
        .app
        .metrics
        .fetched(topic.name(), batches.records, batches.payload_bytes);
    Ok((read, batches))
}
