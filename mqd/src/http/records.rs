//! Produce (`POST /v1/topics/{topic}/records`, or `…/partitions/{p}/records` to pin a partition) and
//! fetch (`GET /v1/topics/{topic}/partitions/{p}/records`) in JSON.

use super::extract::{ApiJson, ApiPath, ApiQuery, RawBody};
use super::{ApiError, AppState};
use crate::broker::{BatchLimits, NewRecord, RecordId};
use crate::clock::now_ms;
use axum::extract::State;
use axum::http::header::{ACCEPT, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mq_wire::api::{Acks, BatchProduceResponse};
use mq_wire::api::{
    FetchEncoding, FetchQuery, FetchResponse, FetchedRecord, ProduceRecord, ProduceRequest,
    ProduceResponse,
};
use mq_wire::batch::visible_prefix;
use mq_wire::binary::{
    HEADER_ACKS, HEADER_HIGH_WATERMARK, HEADER_LOG_END, HEADER_LOG_START, HEADER_NEXT_OFFSET,
};
use mq_wire::bytes_field;
use mq_wire::ErrorBody;
use std::borrow::Cow;
use std::time::Duration;

/// Records returned by a fetch that does not say `max_records`.
const DEFAULT_FETCH_RECORDS: u32 = 1000;

/// Produce JSON records; each goes to its `partition`, else by key hash, else round-robin.
///
/// All or nothing: any error means nothing from the request was appended. A record whose `id` is in
/// the topic's dedup window is acknowledged with its first offset and `duplicate: true`.
#[utoipa::path(
    post,
    path = "/v1/topics/{topic}/records",
    tag = "records",
    params(super::openapi::TopicParam),
    request_body = ProduceRequest,
    responses(
        (status = 200, description = "Where each record landed, in request order", body = ProduceResponse),
        (status = 400, description = "`malformed_json`, `invalid_request` (shape, a record's byte fields)", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`, `too_many_records`, `record_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 507, description = "`memory_limit_exceeded`", body = ErrorBody),
    )
)]
pub async fn produce(
    State(state): State<AppState>,
    ApiPath(topic): ApiPath<String>,
    ApiJson(request): ApiJson<ProduceRequest>,
) -> Result<Json<ProduceResponse>, ApiError> {
    if let Some(cluster) = &state.cluster {
        return Ok(Json(
            super::spread::produce(&state, cluster, &topic, &request).await?,
        ));
    }
    produce_records(&state, topic, None, &request).await
}

/// Produce to one partition: JSON records, or record batches (`application/vnd.mq.batch`).
///
/// A JSON body answers like the topic-wide produce. A body of record batches back to back answers
/// where each batch landed; an idempotent producer's repeated batch is `duplicate: true`.
#[utoipa::path(
    post,
    path = "/v1/topics/{topic}/partitions/{partition}/records",
    tag = "records",
    params(super::openapi::PartitionParams, super::openapi::AcksParam),
    request_body(
        description = "JSON records, or record batches back to back (`mq_wire::batch`)",
        content(
            (ProduceRequest = "application/json"),
            (super::openapi::Batches = "application/vnd.mq.batch"),
        )
    ),
    responses(
        (status = 200, description = "JSON body: where each record landed. Batch body: where each batch landed", body = super::openapi::PartitionProduceResponse),
        (status = 400, description = "`malformed_json`, `invalid_request` (shape, a record's byte fields, a record partition other than the path's, a path partition that is not a u32), `invalid_batch`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 409, description = "`out_of_order_sequence`: an idempotent producer's batch that is not the next in its sequence here", body = ErrorBody),
        (status = 413, description = "`payload_too_large`, `too_many_records`, `record_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: neither JSON nor `application/vnd.mq.batch`", body = ErrorBody),
        (status = 507, description = "`memory_limit_exceeded`", body = ErrorBody),
    )
)]
pub async fn produce_to_partition(
    State(state): State<AppState>,
    ApiPath((topic, partition)): ApiPath<(String, u32)>,
    ApiQuery(query): ApiQuery<BatchProduceQuery>,
    headers: HeaderMap,
    body: RawBody,
) -> Result<Response, ApiError> {
    if !body.is_batches() {
        let request: ProduceRequest = body.json()?;
        return produce_records(&state, topic, Some(partition), &request)
            .await
            .map(IntoResponse::into_response);
    }
    let acks = batch_acks(&query, &headers)?;
    let config = state.broker.config();
    let limits = BatchLimits {
        max_record_bytes: config.limits.max_record_bytes.0,
        max_batch_records: config.limits.max_batch_records,
        max_inflated_bytes: config.limits.max_request_bytes.0 as usize,
    };
    let target = state.broker.topic(&topic)?;
    // The body buffer is ours: the log patches offsets in it and copies it once into a segment.
    let mut bytes = body.bytes;
    let produced = target
        .append_batches_in_order(
            partition,
            &mut bytes,
            &limits,
            acks,
            config.topics.producer_reorder_wait.0,
        )
        .await?;
    acknowledge(&state, &target, &produced.commits, acks).await?;
    state.metrics.produced(
        &topic,
        produced.appended_records,
        produced.appended_payload_bytes,
    );
    let batches = produced.positions;
    Ok(Json(BatchProduceResponse {
        topic,
        partition,
        batches,
    })
    .into_response())
}

/// `?acks=` of a binary produce.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchProduceQuery {
    pub acks: Option<String>,
}

/// A binary produce's acks: `?acks=` or the `mq-acks` header (`0`, `1`, `all` or `-1`); `all`
/// when neither says.
fn batch_acks(query: &BatchProduceQuery, headers: &HeaderMap) -> Result<Acks, ApiError> {
    let given = match &query.acks {
        Some(value) => Some(value.clone()),
        None => headers
            .get(HEADER_ACKS)
            .map(|v| v.to_str().unwrap_or("?").to_owned()),
    };
    match given.as_deref() {
        None | Some("all") | Some("-1") => Ok(Acks::All),
        Some("1") => Ok(Acks::Leader),
        Some("0") => Ok(Acks::None),
        Some(other) => Err(ApiError::invalid(format!(
            "acks must be 0, 1, all or -1, not `{other}`"
        ))),
    }
}

/// Answers an `acks=all` produce only once its records are committed: below the high watermark of
/// each partition it touched, with `min_insync_replicas` in sync.
pub(crate) async fn acknowledge(
    state: &AppState,
    topic: &crate::broker::Topic,
    commits: &[crate::broker::Commit],
    acks: Acks,
) -> Result<(), ApiError> {
    if acks != Acks::All || commits.is_empty() {
        return Ok(());
    }
    topic
        .await_commits(commits, super::replication_timeout(state))
        .await?;
    Ok(())
}

async fn produce_records(
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
    let acks = request.acks.unwrap_or_default();
    let topic = state.broker.topic(&topic_name)?;
    let records = request
        .records
        .iter()
        .enumerate()
        .map(|(index, record)| new_record(index, record, partition))
        .collect::<Result<Vec<_>, _>>()?;
    let produced = topic.produce(&records, limits.max_record_bytes.0, acks, now_ms())?;
    acknowledge(state, &topic, &produced.commits, acks).await?;
    let offsets = produced.positions;
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

/// Reads one JSON record into the broker's form, naming the record at fault on error.
pub(super) fn new_record<'a>(
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

/// Fetch: JSON records, or with `Accept: application/vnd.mq.batch` the stored batches themselves.
///
/// Whole batches are read from the one holding `offset`, up to `max_bytes` (at least one); records
/// at or above the high watermark are never returned. With `max_wait_ms`, waits for a record at the
/// log end (long poll).
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/partitions/{partition}/records",
    tag = "records",
    params(super::openapi::PartitionParams, FetchQuery),
    responses(
        (status = 200, description = "JSON records; or, with `Accept: application/vnd.mq.batch`, the stored batches with the partition's bounds in headers",
            content(
                (FetchResponse = "application/json"),
                (super::openapi::Batches = "application/vnd.mq.batch"),
            ),
            headers(
                ("mq-log-start" = u64, description = "Batch answers: the partition's log start"),
                ("mq-log-end" = u64, description = "Batch answers: the partition's log end"),
                ("mq-high-watermark" = u64, description = "Batch answers: the high watermark"),
                ("mq-next-offset" = u64, description = "Batch answers: the offset to ask for next"),
            )
        ),
        (status = 400, description = "`invalid_request`: an unknown or ill-typed parameter, `max_records=0`, a path partition that is not a u32", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 416, description = "`offset_out_of_range`: `offset` outside `[log_start, log_end]`", body = ErrorBody),
        (status = 500, description = "`internal`: a corrupt stored batch", body = ErrorBody),
    )
)]
pub async fn fetch(
    State(state): State<AppState>,
    ApiPath((topic_name, partition_index)): ApiPath<(String, u32)>,
    ApiQuery(query): ApiQuery<FetchQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let config = state.broker.config();
    let limits = &config.limits;
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
    // Compressed Kafka batches go out inflated: mq's clients read records, without codecs.
    let read = read.inflated(max_bytes)?;
    if wants_batches(&headers) {
        return Ok(batches_response(&state, &topic_name, from, read));
    }

    let force_base64 = query.encoding == Some(FetchEncoding::Base64);
    let (mut records, mut payload) = (Vec::new(), 0u64);
    read.visit_records(from, |record| {
        if records.len() >= max_records as usize {
            return false;
        }
        payload += record.payload_len() as u64;
        records.push(FetchedRecord::from_record(&record, force_base64));
        true
    })?;
    let next_offset = records.last().map_or(from, |r| r.offset + 1);
    state
        .metrics
        .fetched(&topic_name, records.len() as u64, payload);
    Ok(Json(FetchResponse {
        topic: topic_name,
        partition: partition_index,
        log_start: read.batches.log_start,
        log_end: read.batches.log_end,
        high_watermark: read.high_watermark,
        next_offset,
        records,
    })
    .into_response())
}

/// Whether the client asked for batches (`Accept: application/vnd.mq.batch`).
pub(super) fn wants_batches(headers: &HeaderMap) -> bool {
    headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.contains(mq_wire::binary::BATCH_CONTENT_TYPE)
                || v.contains(mq_wire::binary::FRAMES_CONTENT_TYPE)
        })
}

/// The read batches as they are stored, cut at the high watermark, with the bounds in headers.
fn batches_response(
    state: &AppState,
    topic: &str,
    from: u64,
    read: crate::broker::PartitionRead,
) -> Response {
    let visible = visible_prefix(&read.batches.bytes, from, read.high_watermark, u64::MAX);
    state
        .metrics
        .fetched(topic, visible.records, visible.payload_bytes);
    let next_offset = visible.next_offset;
    let mut bytes = read.batches.bytes;
    bytes.truncate(visible.len);
    let headers = [
        (CONTENT_TYPE, mq_wire::binary::BATCH_CONTENT_TYPE.to_owned()),
        (
            HeaderName::from_static(HEADER_LOG_START),
            read.batches.log_start.to_string(),
        ),
        (
            HeaderName::from_static(HEADER_LOG_END),
            read.batches.log_end.to_string(),
        ),
        (
            HeaderName::from_static(HEADER_HIGH_WATERMARK),
            read.high_watermark.to_string(),
        ),
        (
            HeaderName::from_static(HEADER_NEXT_OFFSET),
            next_offset.to_string(),
        ),
    ];
    (headers, bytes).into_response()
}
