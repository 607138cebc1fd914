//! Produce (`POST /v1/topics/{topic}/records`, or `…/partitions/{p}/records` to pin a partition) and
//! fetch (`GET /v1/topics/{topic}/partitions/{p}/records`) in JSON.

use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::{ApiError, AppState};
use crate::broker::{NewRecord, RecordId};
use crate::clock::now_ms;
use axum::extract::State;
use axum::Json;
use mq_wire::api::{
    FetchEncoding, FetchQuery, FetchResponse, FetchedRecord, ProduceRecord, ProduceRequest,
    ProduceResponse,
};
use mq_wire::batch::BatchIter;
use mq_wire::bytes_field;
use mq_wire::ErrorCode;
use std::borrow::Cow;
use std::time::Duration;

/// Records returned by a fetch that does not say `max_records`.
const DEFAULT_FETCH_RECORDS: u32 = 1000;

pub async fn produce(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(request): ApiJson<ProduceRequest>,
) -> Result<Json<ProduceResponse>, ApiError> {
    produce_records(&state, topic, None, &request)
}

pub async fn produce_to_partition(
    State(state): State<AppState>,
    ApiPath((topic, partition)): ApiPath<(String, u32)>,
    ApiJson(request): ApiJson<ProduceRequest>,
) -> Result<Json<ProduceResponse>, ApiError> {
    produce_records(&state, topic, Some(partition), &request)
}

fn produce_records(
    state: &AppState,
    topic_name: String,
    partition: Option<u32>,
    request: &ProduceRequest,
) -> Result<Json<ProduceResponse>, ApiError> {
    let limits = &state.broker.config().limits;
    let max = limits.max_batch_records;
    if request.records.len() > max as usize {
        return Err(crate::broker::BrokerError::TooManyRecords {
            count: request.records.len(),
            max,
        }
        .into());
    }
    // acks: this node is the whole ISR of its partitions, so every level is met by the append
    // itself; the answer always comes after it.
    let _ = request.acks;
    let topic = state.broker.topic(&topic_name)?;
    let records = request
        .records
        .iter()
        .enumerate()
        .map(|(index, record)| new_record(index, record, partition))
        .collect::<Result<Vec<_>, _>>()?;
    let offsets = topic.produce(&records, limits.max_record_bytes.0, now_ms())?;
    count_produced(state, &topic_name, &records, &offsets);
    Ok(Json(ProduceResponse {
        topic: topic_name,
        offsets,
    }))
}

/// Counts the records a produce appended (duplicates are acknowledged, not appended) in the metrics.
pub(super) fn count_produced(
    state: &AppState,
    topic: &str,
    records: &[NewRecord<'_>],
    positions: &[mq_wire::api::RecordPosition],
) {
    let (mut appended, mut bytes) = (0u64, 0u64);
    for (record, position) in records.iter().zip(positions) {
        if !position.duplicate {
            appended += 1;
            bytes += (record.value.len() + record.key.as_ref().map_or(0, |k| k.len())) as u64;
        }
    }
    state.metrics.produced(topic, appended, bytes);
}

/// Key and value bytes of fetched records, for the metrics.
pub(super) fn payload_bytes<'a>(records: impl Iterator<Item = &'a FetchedRecord>) -> u64 {
    records
        .map(|r| (r.value_bytes().len() + r.key_bytes().map_or(0, |k| k.len())) as u64)
        .sum()
}

/// Reads one JSON record into the broker's form, naming the record at fault on error.
fn new_record<'a>(
    index: usize,
    record: &'a ProduceRecord,
    pinned_partition: Option<u32>,
) -> Result<NewRecord<'a>, ApiError> {
    let at = |e: bytes_field::BytesFieldError| ApiError::invalid(format!("records[{index}]: {e}"));
    let key =
        bytes_field::decode("key", record.key.as_deref(), record.key_b64.as_deref()).map_err(at)?;
    let value = bytes_field::decode(
        "value",
        record.value.as_deref(),
        record.value_b64.as_deref(),
    )
    .map_err(at)?
    .ok_or_else(|| {
        ApiError::invalid(format!(
            "records[{index}]: a record needs `value` or `value_b64`"
        ))
    })?;
    let headers = record
        .headers
        .iter()
        .map(|header| {
            let value = bytes_field::decode(
                "value",
                header.value.as_deref(),
                header.value_b64.as_deref(),
            )
            .map_err(at)?
            .unwrap_or(Cow::Borrowed(&[]));
            Ok((Cow::Borrowed(header.key.as_str()), value))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    if let (Some(pinned), Some(own)) = (pinned_partition, record.partition) {
        if pinned != own {
            return Err(ApiError::invalid(format!(
                "records[{index}]: partition {own} differs from the partition {pinned} of the path"
            )));
        }
    }
    Ok(NewRecord {
        id: record.id.map_or(RecordId::New, RecordId::Producer),
        timestamp: record.timestamp,
        key,
        value,
        headers,
        partition: pinned_partition.or(record.partition),
    })
}

pub async fn fetch(
    State(state): State<AppState>,
    ApiPath((topic_name, partition_index)): ApiPath<(String, u32)>,
    ApiQuery(query): ApiQuery<FetchQuery>,
) -> Result<Json<FetchResponse>, ApiError> {
    let limits = &state.broker.config().limits;
    let max_bytes = query
        .max_bytes
        .unwrap_or(limits.max_fetch_bytes.0)
        .min(limits.max_fetch_bytes.0) as usize;
    let max_records = query.max_records.unwrap_or(DEFAULT_FETCH_RECORDS);
    if max_records == 0 {
        return Err(ApiError::invalid("max_records must be at least 1"));
    }
    let max_wait =
        Duration::from_millis(query.max_wait_ms.unwrap_or(0)).min(limits.max_fetch_wait.0);
    let topic = state.broker.topic(&topic_name)?;
    let partition = topic.partition(partition_index)?;
    let shutdown = state.shutdown.clone();
    let (from, read) = state
        .broker
        .fetch(
            partition,
            query.offset,
            max_bytes,
            max_wait,
            shutdown.wait(),
        )
        .await?;

    let force_base64 = query.encoding == Some(FetchEncoding::Base64);
    let mut records = Vec::new();
    'batches: for batch in BatchIter::new(&read.batches.bytes) {
        let batch =
            batch.map_err(|e| ApiError::new(ErrorCode::Internal, format!("corrupt batch: {e}")))?;
        for record in batch.records() {
            let record = record
                .map_err(|e| ApiError::new(ErrorCode::Internal, format!("corrupt record: {e}")))?;
            if record.offset < from {
                continue;
            }
            if record.offset >= read.high_watermark || records.len() >= max_records as usize {
                break 'batches;
            }
            records.push(FetchedRecord::from_record(&record, force_base64));
        }
    }
    let next_offset = records.last().map_or(from, |r| r.offset + 1);
    state.metrics.fetched(
        &topic_name,
        records.len() as u64,
        payload_bytes(records.iter()),
    );
    Ok(Json(FetchResponse {
        topic: topic_name,
        partition: partition_index,
        log_start: read.batches.log_start,
        log_end: read.batches.log_end,
        high_watermark: read.high_watermark,
        next_offset,
        records,
    }))
}
