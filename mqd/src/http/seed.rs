//! The seed's endpoints, unchanged in shape: `GET /health`, `POST /topics`, `POST /produce`,
//! `POST /consume`, `POST /commit`. They sit on the same broker as `/v1`.

use super::extract::ApiJson;
use super::{ApiError, AppState};
use crate::broker::{NewRecord, RecordId};
use crate::clock::now_ms;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mq_wire::api::{
    Acks, CreateTopicRequest, SeedCommitted, SeedConsumer, SeedCreateTopic, SeedMessage,
    SeedProduce, SeedProduced, SeedTopicCreated,
};
use mq_wire::ErrorBody;
use std::borrow::Cow;

/// `OK` in text/plain while the node serves.
#[utoipa::path(
    get,
    path = "/health",
    tag = "seed",
    responses((status = 200, description = "`OK`", body = String, content_type = "text/plain; charset=utf-8", example = "OK"))
)]
pub async fn health() -> &'static str {
    "OK"
}

/// Create a topic (the seed's form: `topicId`, one partition unless told).
#[utoipa::path(
    post,
    path = "/topics",
    tag = "seed",
    request_body = SeedCreateTopic,
    responses(
        (status = 201, description = "Created", body = SeedTopicCreated),
        (status = 400, description = "`malformed_json`, `invalid_request` (shape, `partitions` out of range), `invalid_topic_name`", body = ErrorBody),
        (status = 409, description = "`topic_exists`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 507, description = "`limit_exceeded`: `limits.max_topics` or `limits.max_partitions` reached", body = ErrorBody),
    )
)]
pub async fn create_topic(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedCreateTopic>,
) -> Result<(StatusCode, Json<SeedTopicCreated>), ApiError> {
    let create = CreateTopicRequest {
        name: request.topic_id.clone(),
        partitions: Some(request.partitions.unwrap_or(1)),
        ..Default::default()
    };
    let partitions = match &state.cluster {
        Some(cluster) => {
            super::topics::create_in_cluster(&state, cluster, create).await?;
            request.partitions.unwrap_or(1)
        }
        None => state.broker.create_topic(&create)?.partition_count(),
    };
    Ok((
        StatusCode::CREATED,
        Json(SeedTopicCreated {
            topic_id: request.topic_id,
            partitions,
        }),
    ))
}

/// Produce one text record; the id is remembered for deduplication even when the broker made it.
#[utoipa::path(
    post,
    path = "/produce",
    tag = "seed",
    request_body = SeedProduce,
    responses(
        (status = 200, description = "Where the record landed", body = SeedProduced),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`, `record_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 507, description = "`memory_limit_exceeded`", body = ErrorBody),
    )
)]
pub async fn produce(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedProduce>,
) -> Result<Json<SeedProduced>, ApiError> {
    if let Some(cluster) = &state.cluster {
        // Sent on to the partition's leader like a topic-wide produce; the id goes along so that
        // the answer can name it (and a retry is deduplicated).
        let id = request.id.unwrap_or_else(uuid::Uuid::now_v7);
        let produce = mq_wire::api::ProduceRequest {
            records: vec![mq_wire::api::ProduceRecord {
                key: request.key.clone(),
                value: Some(request.message.clone()),
                id: Some(id),
                ..Default::default()
            }],
            acks: None,
        };
        let answer = super::spread::produce(&state, cluster, &request.topic_id, &produce).await?;
        let position = answer.offsets[0];
        return Ok(Json(SeedProduced {
            id,
            topic_id: request.topic_id,
            partition: position.partition,
            offset: position.offset,
            duplicate: position.duplicate,
        }));
    }
    let topic = state.broker.topic(&request.topic_id)?;
    let (id, record_id) = match request.id {
        Some(id) => (id, RecordId::Producer(id)),
        None => {
            let id = uuid::Uuid::now_v7();
            (id, RecordId::Assigned(id))
        }
    };
    let record = NewRecord {
        id: record_id,
        key: request.key.as_deref().map(|k| Cow::Borrowed(k.as_bytes())),
        value: Cow::Borrowed(request.message.as_bytes()),
        ..Default::default()
    };
    let limits = &state.broker.config().limits;
    let records = [record];
    let produced = topic.produce(&records, limits.max_record_bytes.0, Acks::All, now_ms())?;
    super::records::acknowledge(&state, &topic, &produced.commits, Acks::All).await?;
    let position = produced.positions[0];
    super::records::count_produced(&state, &request.topic_id, &records, &[position]);
    Ok(Json(SeedProduced {
        id,
        topic_id: request.topic_id,
        partition: position.partition,
        offset: position.offset,
        duplicate: position.duplicate,
    }))
}

/// The record at the consumer's position, again and again until `/commit`.
#[utoipa::path(
    post,
    path = "/consume",
    tag = "seed",
    request_body = SeedConsumer,
    responses(
        (status = 200, description = "The record", body = SeedMessage),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `no_record`: every record was read", body = ErrorBody),
        (status = 409, description = "`group_not_empty`: a `/v1` group of that name has members", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn consume(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedConsumer>,
) -> Result<Json<SeedMessage>, ApiError> {
    let topic = state.broker.topic(&request.topic_id)?;
    state.groups.check_no_members(&request.consumer_id)?;
    let record = state
        .groups
        .seed_consume(&state.broker, &topic, &request.consumer_id)
        .await?;
    state
        .metrics
        .fetched(&request.topic_id, 1, record.value.len() as u64);
    Ok(Json(SeedMessage {
        id: record.id,
        topic_id: request.topic_id,
        body: String::from_utf8_lossy(&record.value).into_owned(),
        created: record.timestamp,
    }))
}

/// Move the consumer past the record `/consume` gave it.
#[utoipa::path(
    post,
    path = "/commit",
    tag = "seed",
    request_body = SeedConsumer,
    responses(
        (status = 200, description = "Committed", body = SeedCommitted),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `no_record`: nothing to commit, or the consumed record is gone", body = ErrorBody),
        (status = 409, description = "`group_not_empty`: a `/v1` group of that name has members", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn commit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedConsumer>,
) -> Result<Json<SeedCommitted>, ApiError> {
    let topic = state.broker.topic(&request.topic_id)?;
    state.groups.check_no_members(&request.consumer_id)?;
    let (partition, next) = state
        .groups
        .seed_commit(&state.broker, &topic, &request.consumer_id)
        .await?;
    Ok(Json(SeedCommitted {
        topic_id: request.topic_id,
        consumer_id: request.consumer_id,
        message: format!("committed offset {} of partition {partition}", next - 1),
        next,
    }))
}
