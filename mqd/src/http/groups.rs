//! Consumer groups over HTTP: membership (`/members`, `/heartbeat`), data (`/fetch`, `/offsets`)
//! and administration (list, describe, delete, `/offsets/reset`).

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, AppState};
use crate::group::FetchLimits;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderName};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mq_wire::api::{
    CommitRequest, CommitResponse, GroupDescription, GroupFetchRequest, GroupList,
    HeartbeatRequest, JoinGroupRequest, MemberAssignment, ResetOffsetsRequest,
    ResetOffsetsResponse,
};
use mq_wire::binary::{FRAMES_CONTENT_TYPE, HEADER_GENERATION, HEADER_REBALANCE};
use serde::Serialize;
use std::time::Duration;

/// Records a group fetch returns when it does not say `max_records`.
const DEFAULT_FETCH_RECORDS: u32 = 1000;

pub async fn join(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<JoinGroupRequest>,
) -> Result<Json<MemberAssignment>, ApiError> {
    Ok(Json(state.groups.join(&state.broker, &group, &request)?))
}

pub async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<HeartbeatRequest>,
) -> Result<Json<MemberAssignment>, ApiError> {
    Ok(Json(state.groups.heartbeat(
        &state.broker,
        &group,
        &request,
    )?))
}

#[derive(Serialize)]
pub struct LeaveResponse {
    group: String,
    member_id: String,
    left: bool,
}

pub async fn leave(
    State(state): State<AppState>,
    ApiPath((group, member_id)): ApiPath<(String, String)>,
) -> Result<Json<LeaveResponse>, ApiError> {
    state.groups.leave(&state.broker, &group, &member_id)?;
    Ok(Json(LeaveResponse {
        group,
        member_id,
        left: true,
    }))
}

/// Group fetch: JSON records, or with `Accept: application/vnd.mq.frames` frames of the stored
/// batches of each partition.
pub async fn fetch(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<GroupFetchRequest>,
) -> Result<Response, ApiError> {
    let config = state.broker.config();
    let limits = &config.limits;
    let max_records = request.max_records.unwrap_or(DEFAULT_FETCH_RECORDS);
    if max_records == 0 {
        return Err(ApiError::invalid("max_records must be at least 1"));
    }
    let frames = super::records::wants_batches(&headers);
    let fetch_limits = FetchLimits {
        max_records: max_records as usize,
        max_bytes: request
            .max_bytes
            .unwrap_or(limits.max_fetch_bytes.0)
            .min(limits.max_fetch_bytes.0) as usize,
        max_wait: Duration::from_millis(request.max_wait_ms.unwrap_or(0))
            .min(limits.max_fetch_wait.0),
        frames,
    };
    let stop = state.shutdown.clone().wait();
    let fetched = state
        .groups
        .fetch(&state.broker, &group, &request, fetch_limits, stop)
        .await?;
    for (topic, records, payload) in &fetched.counts {
        state.metrics.fetched(topic, *records, *payload);
    }
    if frames {
        let headers = [
            (CONTENT_TYPE, FRAMES_CONTENT_TYPE.to_owned()),
            (
                HeaderName::from_static(HEADER_GENERATION),
                fetched.generation.to_string(),
            ),
            (
                HeaderName::from_static(HEADER_REBALANCE),
                fetched.rebalance.to_string(),
            ),
        ];
        return Ok((headers, fetched.frames).into_response());
    }
    Ok(Json(fetched.into_json()).into_response())
}

pub async fn commit(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<CommitRequest>,
) -> Result<Json<CommitResponse>, ApiError> {
    let committed = state.groups.commit(&state.broker, &group, &request)?;
    Ok(Json(CommitResponse { group, committed }))
}

pub async fn list(State(state): State<AppState>) -> Json<GroupList> {
    Json(state.groups.list(&state.broker))
}

pub async fn describe(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<Json<GroupDescription>, ApiError> {
    Ok(Json(state.groups.describe(&state.broker, &group)?))
}

#[derive(Serialize)]
pub struct DeleteGroupResponse {
    group: String,
    deleted: bool,
}

pub async fn delete(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<Json<DeleteGroupResponse>, ApiError> {
    state.groups.delete(&state.broker, &group)?;
    Ok(Json(DeleteGroupResponse {
        group,
        deleted: true,
    }))
}

pub async fn reset_offsets(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<ResetOffsetsRequest>,
) -> Result<Json<ResetOffsetsResponse>, ApiError> {
    Ok(Json(state.groups.reset_offsets(
        &state.broker,
        &group,
        &request,
    )?))
}
