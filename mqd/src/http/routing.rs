//! Routing in a cluster: before a handler runs, this middleware decides which node serves the
//! request — the controller for topic changes, the partition's leader for produce and fetch of one
//! partition, the group's coordinator for group requests — and forwards it there when that is not
//! this node. A node alone (no `[cluster]`) serves everything itself.

use super::{ApiError, AppState};
use crate::cluster::forward::{ForwardError, Outgoing, FORWARDED_BY};
use crate::cluster::metadata::NodeState;
use crate::cluster::Cluster;
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use mq_wire::ErrorCode;
use std::sync::Arc;
use std::time::Duration;

/// Who serves a request.
#[derive(Debug, PartialEq, Eq)]
enum Target {
    Here,
    Controller,
    Leader { topic: String, partition: u32 },
    Coordinator { group: String },
}

fn target_of(method: &Method, path: &str, params: &[(String, String)]) -> Target {
    let param = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    match (method, path) {
        (&Method::POST, "/v1/topics" | "/topics") => Target::Controller,
        (&Method::DELETE, "/v1/topics/{topic}") => Target::Controller,
        (_, "/v1/topics/{topic}/partitions/{partition}/records") => {
            match (
                param("topic"),
                param("partition").and_then(|p| p.parse().ok()),
            ) {
                (Some(topic), Some(partition)) => Target::Leader { topic, partition },
                _ => Target::Here,
            }
        }
        // Any node knows the coordinator from the metadata.
        (_, "/v1/groups/{group}/coordinator") => Target::Here,
        (_, path) if path.starts_with("/v1/groups/{group}") => match param("group") {
            Some(group) => Target::Coordinator { group },
            None => Target::Here,
        },
        _ => Target::Here,
    }
}

/// Forwards what another node serves; lets the rest through.
pub async fn route(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(cluster) = state.cluster.clone() else {
        return next.run(request).await;
    };
    let Some(path) = request.extensions().get::<MatchedPath>().cloned() else {
        return next.run(request).await;
    };
    let (mut parts, body) = request.into_parts();
    let params: Vec<(String, String)> =
        match RawPathParams::from_request_parts(&mut parts, &state).await {
            Ok(raw) => raw
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            Err(_) => Vec::new(),
        };
    let mut target = target_of(&parts.method, path.as_str(), &params);
    // The seed's /consume and /commit name their consumer (a group) in the body.
    let body = if target == Target::Here && is_seed_consumer(&parts.method, path.as_str()) {
        let max_body = state.broker.config().limits.max_request_bytes.0 as usize;
        let Ok(bytes) = axum::body::to_bytes(body, max_body).await else {
            return too_large(max_body).into_response();
        };
        if let Some(group) = consumer_of(&bytes) {
            target = Target::Coordinator { group };
        }
        axum::body::Body::from(bytes)
    } else {
        body
    };
    let request = Request::from_parts(parts, body);
    let forwarded = request.headers().contains_key(FORWARDED_BY);
    let node = match owner(&cluster, &target).await {
        Ok(Some(node)) if node != cluster.node_id() => node,
        // Served here, or not in this node's metadata: unknown for certain only once this node
        // has caught up.
        Ok(_) => {
            if let Some(refusal) = rejoining(&cluster, &target) {
                return refusal.into_response();
            }
            return next.run(request).await;
        }
        Err(error) => return error.into_response(),
    };
    if forwarded {
        return misdirected(&target, node).into_response();
    }
    let timeout = state.broker.config().limits.max_fetch_wait.0 + Duration::from_secs(10);
    let max_body = state.broker.config().limits.max_request_bytes.0 as usize;
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, max_body).await {
        Ok(body) => body,
        Err(_) => return too_large(max_body).into_response(),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let outgoing = Outgoing {
        method: parts.method.clone(),
        path_and_query,
        headers: &parts.headers,
        body,
        timeout,
    };
    match cluster.forward(node, outgoing).await {
        Ok(answer) => {
            if target == Target::Controller && answer.status().is_success() {
                // What the controller just changed is visible here once this answer is.
                if let Err(error) = cluster.catch_up().await {
                    tracing::warn!(%error, "could not catch up with the controller after a change");
                }
            }
            answer
        }
        Err(error) => unavailable(&target, error).into_response(),
    }
}

/// A node that restarted serves no partition or group until the metadata knows this very process:
/// until then its records are gone and the controller has not yet moved what it led. Nor does it
/// call a topic unknown: it may have re-applied only part of the metadata (the saved committed id
/// is a hint), and a 404 would make a client give up on a topic that exists.
fn rejoining(cluster: &Cluster, target: &Target) -> Option<ApiError> {
    if cluster.registered() {
        return None;
    }
    let message = format!(
        "node {} is rejoining the cluster after a restart; retry shortly",
        cluster.node_id()
    );
    match target {
        Target::Leader { .. } => Some(ApiError::new(ErrorCode::PartitionUnavailable, message)),
        Target::Coordinator { .. } => {
            Some(ApiError::new(ErrorCode::CoordinatorUnavailable, message))
        }
        Target::Here | Target::Controller => None,
    }
}

fn too_large(max_body: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is over limits.max_request_bytes ({max_body} bytes)"),
    )
}

fn is_seed_consumer(method: &Method, path: &str) -> bool {
    method == Method::POST && matches!(path, "/consume" | "/commit")
}

/// The `consumerId` of a seed request body, when it has one (else the handler says what is wrong).
fn consumer_of(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("consumerId")?.as_str().map(str::to_owned)
}

/// The node serving `target`, `None` when this node answers (here, or the metadata does not know
/// the topic and the handler will say so). A topic this node has not heard of yet is looked up
/// again after catching up with the controller.
async fn owner(cluster: &Arc<Cluster>, target: &Target) -> Result<Option<u64>, ApiError> {
    match target {
        Target::Here => Ok(None),
        Target::Controller => cluster.controller().map(Some).ok_or_else(|| {
            ApiError::new(
                ErrorCode::ControllerUnavailable,
                "no controller is elected right now; retry shortly",
            )
        }),
        Target::Leader { topic, partition } => {
            let lookup = |cluster: &Cluster| {
                let applied = cluster.metadata();
                let record = applied.metadata.topics.get(topic)?;
                let placed = record.partitions.get(*partition as usize)?;
                let node = applied.metadata.nodes.get(&placed.leader);
                Some((placed.leader, node.map(|n| (n.state, n.since_ms))))
            };
            let found = match lookup(cluster) {
                Some(found) => Some(found),
                None => {
                    let _ = cluster.catch_up().await;
                    lookup(cluster)
                }
            };
            match found {
                None => Ok(None),
                Some((leader, Some((NodeState::Down, since_ms)))) if leader != cluster.node_id() => {
                    Err(ApiError::new(
                        ErrorCode::PartitionUnavailable,
                        format!(
                            "{topic}/{partition} is led by node {leader}, which is down (since {}); retry when it is back",
                            crate::clock::format_ms(since_ms)
                        ),
                    ))
                }
                Some((leader, _)) => Ok(Some(leader)),
            }
        }
        Target::Coordinator { group } => {
            let applied = cluster.metadata();
            match applied.metadata.slot(group) {
                None => Err(ApiError::new(
                    ErrorCode::CoordinatorUnavailable,
                    "no node has registered with the controller yet; retry shortly",
                )),
                Some((_, slot)) if !applied.metadata.is_alive(slot.node) => Err(ApiError::new(
                    ErrorCode::CoordinatorUnavailable,
                    format!("group `{group}` is coordinated by node {}, which is down; it moves to a live node shortly", slot.node),
                )),
                Some((_, slot)) => Ok(Some(slot.node)),
            }
        }
    }
}

/// The answer when a forwarded request reached a node whose map disagrees.
fn misdirected(target: &Target, node: u64) -> ApiError {
    match target {
        Target::Controller => ApiError::new(
            ErrorCode::NotController,
            format!("this node is not the controller; node {node} is, as far as it knows"),
        ),
        Target::Leader { topic, partition } => ApiError::new(
            ErrorCode::NotLeader,
            format!("this node does not lead {topic}/{partition}; node {node} does, as far as it knows"),
        ),
        Target::Coordinator { group } => ApiError::new(
            ErrorCode::NotCoordinator,
            format!("this node does not coordinate group `{group}`; node {node} does, as far as it knows"),
        ),
        Target::Here => ApiError::new(ErrorCode::Internal, "misrouted request"),
    }
}

fn unavailable(target: &Target, error: ForwardError) -> ApiError {
    if matches!(error, ForwardError::NoAnswer { .. }) {
        return ApiError::new(ErrorCode::ForwardTimeout, error.to_string());
    }
    let code = match target {
        Target::Controller => ErrorCode::ControllerUnavailable,
        Target::Coordinator { .. } => ErrorCode::CoordinatorUnavailable,
        _ => ErrorCode::PartitionUnavailable,
    };
    ApiError::new(code, error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn each_request_goes_to_its_owner() {
        assert_eq!(
            target_of(&Method::POST, "/v1/topics", &[]),
            Target::Controller
        );
        assert_eq!(target_of(&Method::GET, "/v1/topics", &[]), Target::Here);
        assert_eq!(
            target_of(
                &Method::DELETE,
                "/v1/topics/{topic}",
                &params(&[("topic", "t")])
            ),
            Target::Controller
        );
        assert_eq!(
            target_of(
                &Method::GET,
                "/v1/topics/{topic}/partitions/{partition}/records",
                &params(&[("topic", "t"), ("partition", "2")])
            ),
            Target::Leader {
                topic: "t".into(),
                partition: 2
            }
        );
        assert_eq!(
            target_of(
                &Method::POST,
                "/v1/groups/{group}/offsets",
                &params(&[("group", "g")])
            ),
            Target::Coordinator { group: "g".into() }
        );
        assert_eq!(target_of(&Method::GET, "/v1/groups", &[]), Target::Here);
        assert_eq!(
            target_of(
                &Method::GET,
                "/v1/groups/{group}/coordinator",
                &params(&[("group", "g")])
            ),
            Target::Here
        );
    }
}
