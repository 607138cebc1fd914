//! `POST /v1/topics`, `GET /v1/topics`, `GET /v1/topics/{topic}`, `DELETE /v1/topics/{topic}`.

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mq_wire::api::{CreateTopicRequest, DeleteTopicResponse, TopicDescription, TopicList};
use mq_wire::ErrorBody;

/// Create a topic.
///
/// Partitions default to `topics.default_partitions`, retention to `log.retention` and
/// `log.retention_bytes`; the answer is the new topic's description.
#[utoipa::path(
    post,
    path = "/v1/topics",
    tag = "topics",
    request_body = CreateTopicRequest,
    responses(
        (status = 201, description = "Created: the topic as describe shows it", body = TopicDescription),
        (status = 400, description = "`malformed_json`, `invalid_request` (shape, `partitions` out of range, `replication_factor` other than 1), `invalid_topic_name`", body = ErrorBody),
        (status = 409, description = "`topic_exists`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 507, description = "`limit_exceeded`: `limits.max_topics` or `limits.max_partitions` reached", body = ErrorBody),
    )
)]

pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CreateTopicRequest>,
) -> Result<(StatusCode, Json<TopicDescription>), ApiError> {
    let topic = state.broker.create_topic(&request)?;
    Ok((StatusCode::CREATED, Json(topic.describe())))
}

/// List topics, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "topics",
    responses((status = 200, description = "Every topic with its record and byte counts", body = TopicList))
)]
pub async fn list(State(state): State<AppState>) -> Json<TopicList> {
    let topics = state.broker.topics().iter().map(|t| t.summary()).collect();
    Json(TopicList { topics })
}

/// Describe a topic: its settings and each partition's bounds.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}",
    tag = "topics",
    params(super::openapi::TopicParam),
    responses(
        (status = 200, description = "The topic", body = TopicDescription),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_topic`", body = ErrorBody),
    )
)]
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<TopicDescription>, ApiError> {
    Ok(Json(state.broker.topic(&name)?.describe()))
}

/// Delete a topic, its records, committed offsets and seed consumers' state.
#[utoipa::path(
    delete,
    path = "/v1/topics/{topic}",
    tag = "topics",
    params(("topic" = String, Path, description = "The topic to delete", example = "scratch")),
    responses(
        (status = 200, description = "Deleted", body = DeleteTopicResponse),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_topic`", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<DeleteTopicResponse>, ApiError> {
    state.broker.delete_topic(&name)?;
    state.groups.forget_topic(&name);
    state.metrics.forget_topic(&name);
    Ok(Json(DeleteTopicResponse {
        name,
        deleted: true,
    }))
}
