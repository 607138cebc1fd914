//! `POST /v1/topics`, `GET /v1/topics`, `GET /v1/topics/{topic}`, `DELETE /v1/topics/{topic}`.

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mq_wire::api::{CreateTopicRequest, DeleteTopicResponse, TopicDescription, TopicList};

pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<CreateTopicRequest>,
) -> Result<(StatusCode, Json<TopicDescription>), ApiError> {
    let topic = state.broker.create_topic(&request)?;
    Ok((StatusCode::CREATED, Json(topic.describe())))
}

pub async fn list(State(state): State<AppState>) -> Json<TopicList> {
    let topics = state.broker.topics().iter().map(|t| t.summary()).collect();
    Json(TopicList { topics })
}

pub async fn describe(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<TopicDescription>, ApiError> {
    Ok(Json(state.broker.topic(&name)?.describe()))
}

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
