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
    CommitRequest, CommitResponse, GroupCoordinator, GroupDescription, GroupFetchRequest,
    GroupFetchResponse, GroupList, HeartbeatRequest, JoinGroupRequest, MemberAssignment,
    ResetOffsetsRequest, ResetOffsetsResponse,
};
use mq_wire::binary::{FRAMES_CONTENT_TYPE, HEADER_GENERATION, HEADER_REBALANCE};
use mq_wire::ErrorBody;
use serde::Serialize;
use std::time::Duration;

/// Records a group fetch returns when it does not say `max_records`.
const DEFAULT_FETCH_RECORDS: u32 = 1000;

/// Join a group (creating it): the answer is the member's id, generation and assignment.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/members",
    tag = "groups",
    params(super::openapi::GroupParam),
    request_body = JoinGroupRequest,
    responses(
        (status = 200, description = "The new member and its assignment", body = MemberAssignment),
        (status = 400, description = "`malformed_json`, `invalid_request` (no topics, `session_timeout_ms` out of bounds, a `strategy` other than the group's)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
    )
)]
pub async fn join(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<JoinGroupRequest>,
) -> Result<Json<MemberAssignment>, ApiError> {
    ready_to_join(&state, &group).await?;
    Ok(Json(state.groups.join(&state.broker, &group, &request)?))
}

/// Before a new member joins: in a cluster, this node catches up with the metadata (offsets
/// committed through the old coordinator are there) and must still coordinate the group. A node
/// that cannot (paused, cut off) takes no member. The Kafka listener's JoinGroup asks this too.
pub(crate) async fn ready_to_join(state: &AppState, group: &str) -> Result<(), ApiError> {
    if let Some(cluster) = &state.cluster {
        if let Err(error) = cluster.catch_up().await {
            return Err(ApiError::new(
                mq_wire::ErrorCode::CoordinatorUnavailable,
                format!(
                    "node {} cannot confirm it still coordinates group `{group}`: {error}; retry",
                    cluster.node_id()
                ),
            ));
        }
        state.groups.check_coordinated_here(group)?;
    }
    Ok(())
}

/// Keep a member alive and acknowledge its assignment; the answer is the current one.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/heartbeat",
    tag = "groups",
    params(super::openapi::GroupParam),
    request_body = HeartbeatRequest,
    responses(
        (status = 200, description = "The member's current generation and assignment", body = MemberAssignment),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 409, description = "`unknown_member`, `fenced_instance` (a static member replaced by a newer process with its `instance_id`), `stale_generation` (a generation above the member's)", body = ErrorBody),
    )
)]
pub async fn heartbeat(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<HeartbeatRequest>,
) -> Result<Json<MemberAssignment>, ApiError> {
    let answer = state.groups.heartbeat(&state.broker, &group, &request);
    Ok(Json(answer.map_err(|e| state.groups.refine(&group, e))?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LeaveResponse {
    group: String,
    member_id: String,
    left: bool,
}

/// Remove a member at once; its partitions go to the others.
#[utoipa::path(
    delete,
    path = "/v1/groups/{group}/members/{member}",
    tag = "groups",
    params(super::openapi::MemberParams),
    responses(
        (status = 200, description = "The member left", body = LeaveResponse),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 409, description = "`unknown_member`, `fenced_instance`", body = ErrorBody),
    )
)]
pub async fn leave(
    State(state): State<AppState>,
    ApiPath((group, member_id)): ApiPath<(String, String)>,
) -> Result<Json<LeaveResponse>, ApiError> {
    state
        .groups
        .leave(&state.broker, &group, &member_id)
        .map_err(|e| state.groups.refine(&group, e))?;
    Ok(Json(LeaveResponse {
        group,
        member_id,
        left: true,
    }))
}

/// Group fetch: JSON records, or with `Accept: application/vnd.mq.frames` frames of the stored
/// batches of each partition.
///
/// Reads the partitions the member owns from positions the broker keeps, and moves them past what
/// it returns.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/fetch",
    tag = "groups",
    params(super::openapi::GroupParam),
    request_body = GroupFetchRequest,
    responses(
        (status = 200, description = "JSON records; or, with `Accept: application/vnd.mq.frames`, frames of stored batches with the generation and rebalance flag in headers",
            content(
                (GroupFetchResponse = "application/json"),
                (super::openapi::Batches = "application/vnd.mq.frames"),
            ),
            headers(
                ("mq-generation" = u64, description = "Frames answers: the group's generation"),
                ("mq-rebalance" = bool, description = "Frames answers: whether the member should heartbeat"),
            )
        ),
        (status = 400, description = "`malformed_json`, `invalid_request` (`max_records=0`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 409, description = "`unknown_member`, `fenced_instance`, `stale_generation`, `no_committed_offset`", body = ErrorBody),
        (status = 500, description = "`internal`: a corrupt stored batch", body = ErrorBody),
    )
)]
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
        .await
        .map_err(|e| state.groups.refine(&group, e))?;
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

/// Commit offsets: a member's (fenced), or an operator's while the group has no members.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/offsets",
    tag = "groups",
    params(super::openapi::GroupParam),
    request_body = CommitRequest,
    responses(
        (status = 200, description = "Every entry was committed", body = CommitResponse),
        (status = 400, description = "`malformed_json`, `invalid_request` (an offset past the log end, only one of `member_id` and `generation`)", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 409, description = "`unknown_member`, `fenced_instance`, `stale_generation`, `not_partition_owner`, `group_not_empty` (an operator's commit)", body = ErrorBody),
    )
)]
pub async fn commit(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<CommitRequest>,
) -> Result<Json<CommitResponse>, ApiError> {
    let committed = state
        .groups
        .commit_offsets(&state.broker, &group, &request)
        .await
        .map_err(|e| state.groups.refine(&group, e))?;
    Ok(Json(CommitResponse { group, committed }))
}

/// List groups with members or committed offsets, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/groups",
    tag = "groups",
    responses((status = 200, description = "Every group", body = GroupList))
)]
pub async fn list(State(state): State<AppState>) -> Json<GroupList> {
    Json(state.groups.list(&state.broker))
}

/// Describe a group: members, assignments, committed offsets and lag.
#[utoipa::path(
    get,
    path = "/v1/groups/{group}",
    tag = "groups",
    params(super::openapi::GroupParam),
    responses(
        (status = 200, description = "The group", body = GroupDescription),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_group`", body = ErrorBody),
    )
)]
pub async fn describe(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<Json<GroupDescription>, ApiError> {
    Ok(Json(
        state.groups.describe_group(&state.broker, &group).await?,
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeleteGroupResponse {
    group: String,
    deleted: bool,
}

/// Delete a group and its committed offsets; it must have no members.
#[utoipa::path(
    delete,
    path = "/v1/groups/{group}",
    tag = "groups",
    params(super::openapi::GroupParam),
    responses(
        (status = 200, description = "Deleted", body = DeleteGroupResponse),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 404, description = "`unknown_group`", body = ErrorBody),
        (status = 409, description = "`group_not_empty`", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<Json<DeleteGroupResponse>, ApiError> {
    state.groups.delete_group(&state.broker, &group).await?;
    Ok(Json(DeleteGroupResponse {
        group,
        deleted: true,
    }))
}

/// Plan (or, with `execute`, apply) new committed offsets for a topic; the group must have no members.
#[utoipa::path(
    post,
    path = "/v1/groups/{group}/offsets/reset",
    tag = "groups",
    params(super::openapi::GroupParam),
    request_body = ResetOffsetsRequest,
    responses(
        (status = 200, description = "The plan, and whether it was executed", body = ResetOffsetsResponse),
        (status = 400, description = "`malformed_json`, `invalid_request`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 409, description = "`group_not_empty`", body = ErrorBody),
    )
)]
pub async fn reset_offsets(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
    ApiJson(request): ApiJson<ResetOffsetsRequest>,
) -> Result<Json<ResetOffsetsResponse>, ApiError> {
    Ok(Json(
        state
            .groups
            .reset_group_offsets(&state.broker, &group, &request)
            .await?,
    ))
}

/// Where the group's member requests go: the node coordinating it (any node answers, from the
/// metadata; a node alone names itself). Clients ask once and send join, heartbeat, fetch and
/// commit there; any node would forward them.
#[utoipa::path(
    get,
    path = "/v1/groups/{group}/coordinator",
    tag = "groups",
    params(super::openapi::GroupParam),
    responses(
        (status = 200, description = "The coordinator", body = GroupCoordinator),
        (status = 400, description = "`invalid_request`: a path parameter that is not UTF-8", body = ErrorBody),
        (status = 503, description = "`coordinator_unavailable`: the coordinator is down (its groups move shortly), or no node has registered yet", body = ErrorBody),
    )
)]
pub async fn coordinator(
    State(state): State<AppState>,
    ApiPath(group): ApiPath<String>,
) -> Result<Json<GroupCoordinator>, ApiError> {
    let Some(cluster) = &state.cluster else {
        return Ok(Json(GroupCoordinator {
            group,
            node: state.broker.node_id(),
            address: state.advertised.clone(),
        }));
    };
    let applied = cluster.metadata();
    match applied.metadata.slot(&group) {
        Some((_, slot)) if applied.metadata.is_alive(slot.node) => Ok(Json(GroupCoordinator {
            address: format!(
                "http://{}",
                cluster.address_of(slot.node).unwrap_or_default()
            ),
            node: slot.node,
            group,
        })),
        _ => Err(ApiError::new(
            mq_wire::ErrorCode::CoordinatorUnavailable,
            format!("group `{group}` has no live coordinator right now; retry shortly"),
        )),
    }
}
