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
    CreateTopicRequest, SeedCommitted, SeedConsumer, SeedCreateTopic, SeedMessage, SeedProduce,
    SeedProduced, SeedTopicCreated,
};
use std::borrow::Cow;

/// `OK` in text/plain while the node serves.
pub async fn health() -> &'static str {
    "OK"
}

pub async fn create_topic(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedCreateTopic>,
) -> Result<(StatusCode, Json<SeedTopicCreated>), ApiError> {
    let topic = state.broker.create_topic(&CreateTopicRequest {
        name: request.topic_id.clone(),
        partitions: Some(request.partitions.unwrap_or(1)),
        ..Default::default()
    })?;
    Ok((
        StatusCode::CREATED,
        Json(SeedTopicCreated {
            topic_id: request.topic_id,
            partitions: topic.partition_count(),
        }),
    ))
}

pub async fn produce(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedProduce>,
) -> Result<Json<SeedProduced>, ApiError> {
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
    let position = topic.produce(&records, limits.max_record_bytes.0, now_ms())?[0];
    super::records::count_produced(&state, &request.topic_id, &records, &[position]);
    Ok(Json(SeedProduced {
        id,
        topic_id: request.topic_id,
        partition: position.partition,
        offset: position.offset,
        duplicate: position.duplicate,
    }))
}

pub async fn consume(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedConsumer>,
) -> Result<Json<SeedMessage>, ApiError> {
    let topic = state.broker.topic(&request.topic_id)?;
    state.groups.check_no_members(&request.consumer_id)?;
    let record = state
        .groups
        .seed
        .consume(&state.groups.offsets, &topic, &request.consumer_id)?;
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

pub async fn commit(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SeedConsumer>,
) -> Result<Json<SeedCommitted>, ApiError> {
    let topic = state.broker.topic(&request.topic_id)?;
    state.groups.check_no_members(&request.consumer_id)?;
    let (partition, next) =
        state
            .groups
            .seed
            .commit(&state.groups.offsets, &topic, &request.consumer_id)?;
    Ok(Json(SeedCommitted {
        topic_id: request.topic_id,
        consumer_id: request.consumer_id,
        message: format!("committed offset {} of partition {partition}", next - 1),
        next,
    }))
}
