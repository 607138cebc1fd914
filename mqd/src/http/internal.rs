//! `/internal/v1/…`: what nodes of a cluster ask each other — Raft's RPCs, proposals sent to the
//! controller, the controller's applied index (a read barrier), node heartbeats, and the partitions
//! a node leads (for describe and list). Not part of the public API or its OpenAPI document; a
//! node alone answers `404 not_found` to all of it.

use super::{ApiError, AppState};
use crate::cluster::liveness::{NodeReport, ReportAnswer, HEARTBEAT_PATH};
use crate::cluster::metadata::Command;
use crate::cluster::raft::network::{APPEND_PATH, SNAPSHOT_PATH, VOTE_PATH};
use crate::cluster::raft::TypeConfig;
use crate::cluster::remote::{LedPartition, PARTITIONS_PATH};
use crate::cluster::{
    AppliedAnswer, Cluster, ClusterError, Retry, WriteAnswer, APPLIED_PATH, WRITE_PATH,
};
use crate::replication::protocol as replica;
use crate::replication::stream;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use mq_wire::ErrorCode;
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

pub fn routes(max_body: usize) -> Router<AppState> {
    Router::new()
        .route(VOTE_PATH, post(vote))
        .route(APPEND_PATH, post(append))
        .route(SNAPSHOT_PATH, post(snapshot))
        .route(WRITE_PATH, post(write))
        .route(APPLIED_PATH, get(applied))
        .route(HEARTBEAT_PATH, post(heartbeat))
        .route(PARTITIONS_PATH, get(partitions))
        .route(replica::FETCH_PATH, post(replica_fetch))
        .route(replica::EPOCH_PATH, post(replica_epochs))
        .route(stream::STREAM_PATH, post(replica_stream))
        .layer(DefaultBodyLimit::max(max_body))
}

/// A follower's fetch: answered in the binary form of [`replica::encode_answer`].
async fn replica_fetch(
    State(state): State<AppState>,
    Json(fetch): Json<replica::ReplicaFetch>,
) -> Result<axum::response::Response, ApiError> {
    cluster_of(&state)?;
    let chunks =
        crate::replication::leader::serve_fetch(&state.broker, fetch, replica::Encoding::Json)
            .await;
    // The batches go out as they were read, chunk after chunk, with their total length.
    let length: usize = chunks.iter().map(bytes::Bytes::len).sum();
    state.metrics.replica_fetch_answered(length);
    let body = axum::body::Body::from_stream(futures_util::stream::iter(
        chunks.into_iter().map(Ok::<_, std::convert::Infallible>),
    ));
    Ok(axum::response::IntoResponse::into_response((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/octet-stream".to_owned(),
            ),
            (axum::http::header::CONTENT_LENGTH, length.to_string()),
        ],
        body,
    )))
}

/// A follower turns its connection into a replication stream ([`stream`]): answered `101`, and
/// the connection then carries its fetches until it closes. The connection counts as busy for as
/// long, so the idle and header timeouts never cut it between two fetches.
async fn replica_stream(
    State(state): State<AppState>,
    mut request: axum::extract::Request,
) -> Result<axum::response::Response, ApiError> {
    cluster_of(&state)?;
    let asked = request
        .headers()
        .get(axum::http::header::UPGRADE)
        .is_some_and(|p| {
            p.as_bytes()
                .eq_ignore_ascii_case(stream::PROTOCOL.as_bytes())
        });
    if !asked {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!(
                "a replication stream asks for `Upgrade: {}`",
                stream::PROTOCOL
            ),
        ));
    }
    let busy = request
        .extensions()
        .get::<axum::extract::ConnectInfo<super::timeouts::ConnectionActivity>>()
        .map(|info| info.0.begin());
    let upgrade = hyper::upgrade::on(&mut request);
    let broker = Arc::clone(&state.broker);
    let metrics = Arc::clone(&state.metrics);
    let shutdown = state.shutdown.clone();
    tokio::spawn(async move {
        let _busy = busy;
        let outcome = match upgrade.await {
            Ok(upgraded) => {
                let io = hyper_util::rt::TokioIo::new(upgraded);
                stream::serve(broker, metrics, io, shutdown).await
            }
            Err(error) => Err(stream::StreamError::Io(std::io::Error::other(error))),
        };
        match outcome {
            // The follower's fetch never fits: it would reopen and send it again, round after
            // round, copying nothing.
            Err(error @ stream::StreamError::FrameTooLarge { .. }) => {
                tracing::warn!(%error, "replication stream refused a fetch over limits.max_request_bytes")
            }
            Err(error) => tracing::debug!(%error, "replication stream ended"),
            Ok(()) => {}
        }
    });
    Ok(axum::response::IntoResponse::into_response((
        axum::http::StatusCode::SWITCHING_PROTOCOLS,
        [
            (axum::http::header::CONNECTION, "upgrade"),
            (axum::http::header::UPGRADE, stream::PROTOCOL),
        ],
    )))
}

/// A follower asks where its newest epochs ended here.
async fn replica_epochs(
    State(state): State<AppState>,
    Json(query): Json<replica::EpochQuery>,
) -> Result<Json<replica::EpochAnswer>, ApiError> {
    cluster_of(&state)?;
    Ok(Json(crate::replication::leader::serve_epochs(
        &state.broker,
        &query,
    )))
}

fn cluster_of(state: &AppState) -> Result<&Arc<Cluster>, ApiError> {
    state
        .cluster
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::NotFound, "this node runs alone: no cluster"))
}

async fn vote(
    State(state): State<AppState>,
    Json(request): Json<VoteRequest<u64>>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(cluster_of(&state)?.raft().vote(request).await))
}

async fn append(
    State(state): State<AppState>,
    Json(request): Json<AppendEntriesRequest<TypeConfig>>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(
        cluster_of(&state)?.raft().append_entries(request).await,
    ))
}

async fn snapshot(
    State(state): State<AppState>,
    Json(request): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Result<Json<impl Serialize>, ApiError> {
    Ok(Json(
        cluster_of(&state)?.raft().install_snapshot(request).await,
    ))
}

/// A proposal from another node; only the controller takes it.
async fn write(
    State(state): State<AppState>,
    Json(command): Json<Command>,
) -> Result<Json<WriteAnswer>, ApiError> {
    let cluster = cluster_of(&state)?;
    if !cluster.is_controller() {
        return Err(ApiError::new(
            ErrorCode::NotController,
            format!("node {} is not the controller", cluster.node_id()),
        ));
    }
    match cluster.write_locally(command).await {
        Ok(answer) => Ok(Json(answer)),
        Err(Retry::Later(why)) => Err(ApiError::new(ErrorCode::NotController, why)),
        Err(Retry::Never(error)) => Err(error.into()),
    }
}

async fn applied(State(state): State<AppState>) -> Result<Json<AppliedAnswer>, ApiError> {
    Ok(Json(AppliedAnswer {
        index: cluster_of(&state)?.metadata().index,
    }))
}

async fn heartbeat(
    State(state): State<AppState>,
    Json(report): Json<NodeReport>,
) -> Result<Json<ReportAnswer>, ApiError> {
    Ok(Json(cluster_of(&state)?.receive_report(report).await?))
}

#[derive(Debug, Deserialize)]
struct PartitionsQuery {
    /// Answer once this node has applied at least this metadata index (the asker's), so that a
    /// topic the asker knows is in place here too.
    at_least: Option<u64>,
}

/// The partitions this node leads, of every topic.
async fn partitions(
    State(state): State<AppState>,
    Query(query): Query<PartitionsQuery>,
) -> Json<Vec<LedPartition>> {
    if let (Some(cluster), Some(index)) = (&state.cluster, query.at_least) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        let _ = cluster.wait_applied(index, deadline).await;
        cluster.sync_local();
    }
    Json(local_partitions(&state))
}

/// The partitions this node leads, with their bounds.
pub fn local_partitions(state: &AppState) -> Vec<LedPartition> {
    let mut led = Vec::new();
    for topic in state.broker.topics() {
        for partition in topic.partitions() {
            if partition.is_hosted() {
                led.push(LedPartition {
                    topic: topic.name().to_owned(),
                    info: partition.info(),
                });
            }
        }
    }
    led
}

impl From<ClusterError> for ApiError {
    fn from(error: ClusterError) -> Self {
        use crate::cluster::metadata::MetadataError;
        use crate::cluster::placement::PlacementError;
        let code = match &error {
            ClusterError::ControllerUnavailable(_) => ErrorCode::ControllerUnavailable,
            ClusterError::NotController { .. } => ErrorCode::NotController,
            ClusterError::Metadata(MetadataError::TopicExists { .. }) => ErrorCode::TopicExists,
            ClusterError::Metadata(MetadataError::UnknownTopic { .. }) => ErrorCode::UnknownTopic,
            ClusterError::Metadata(MetadataError::NotCoordinator { .. }) => {
                ErrorCode::NotCoordinator
            }
            ClusterError::Metadata(MetadataError::StalePartitionState { .. }) => {
                ErrorCode::NotLeader
            }
            ClusterError::Metadata(MetadataError::InvalidConfig { .. }) => {
                ErrorCode::InvalidRequest
            }
            ClusterError::Placement(PlacementError::NotEnoughNodes { .. }) => {
                ErrorCode::NotEnoughNodes
            }
            ClusterError::UnknownNode { .. } => ErrorCode::InvalidRequest,
            ClusterError::Storage { .. } | ClusterError::Raft(_) => {
                tracing::error!(%error, "cluster request failed");
                ErrorCode::Internal
            }
        };
        ApiError::new(code, error.to_string())
    }
}
