//! `POST /v1/topics`, `GET /v1/topics`, `GET /v1/topics/{topic}`, `PATCH
//! /v1/topics/{topic}/config`, `DELETE /v1/topics/{topic}`.

use super::extract::{ApiJson, ApiPath};
use super::{ApiError, AppState};
use crate::broker::BrokerError;
use crate::cluster::metadata::Command;
use crate::cluster::placement::place_replicas;
use crate::cluster::{Cluster, ClusterError};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use mq_wire::api::{
    AlterTopicConfigRequest, CreateTopicRequest, DeleteTopicResponse, TopicDescription, TopicList,
};
use mq_wire::ErrorBody;
use uuid::Uuid;

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
        (status = 400, description = "`malformed_json`, `invalid_request` (shape, `partitions` out of range, `replication_factor` other than 1 on a single node, `min_insync_replicas` above it), `invalid_topic_name`", body = ErrorBody),
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
    if let Some(cluster) = &state.cluster {
        let name = request.name.clone();
        create_in_cluster(&state, cluster, request).await?;
        let description = super::spread::describe(&state, cluster, &name).await?;
        return Ok((StatusCode::CREATED, Json(description)));
    }
    let topic = state.broker.create_topic(&request)?;
    Ok((StatusCode::CREATED, Json(topic.describe())))
}

/// On the controller: checks the request, places the partitions on live nodes and commits the
/// topic to the metadata; every node then puts it in place.
pub(crate) async fn create_in_cluster(
    state: &AppState,
    cluster: &Cluster,
    request: CreateTopicRequest,
) -> Result<(), ApiError> {
    let config = state.broker.topic_config_for(&request)?;
    cluster.settle_reports().await;
    let applied = cluster.metadata();
    let replicas = place_replicas(
        &applied.metadata,
        &request.name,
        config.partitions,
        config.replication_factor,
        &|node| cluster.placeable(node),
    )
    .map_err(ClusterError::from)?;
    cluster
        .propose(Command::CreateTopic {
            name: request.name.clone(),
            id: Uuid::new_v4(),
            config,
            replicas,
        })
        .await?;
    tracing::info!(topic = %request.name, "topic created in the cluster");
    Ok(())
}

/// List topics, sorted by name.
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "topics",
    responses((status = 200, description = "Every topic with its record and byte counts", body = TopicList))
)]
pub async fn list(State(state): State<AppState>) -> Json<TopicList> {
    if let Some(cluster) = &state.cluster {
        return Json(super::spread::list(&state, cluster).await);
    }
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
    if let Some(cluster) = &state.cluster {
        return Ok(Json(super::spread::describe(&state, cluster, &name).await?));
    }
    Ok(Json(state.broker.topic(&name)?.describe()))
}

/// Change a topic's settings.
///
/// Only the settings named change; the partition count and the replication factor are fixed at
/// creation. In a cluster the change goes through the controller and every node takes it; the
/// answer is the topic's description after it.
#[utoipa::path(
    patch,
    path = "/v1/topics/{topic}/config",
    tag = "topics",
    params(super::openapi::TopicParam),
    request_body = AlterTopicConfigRequest,
    responses(
        (status = 200, description = "Changed: the topic as describe shows it", body = TopicDescription),
        (status = 400, description = "`malformed_json`, `invalid_request` (an unknown or fixed setting such as `partitions`, no setting named, `min_insync_replicas` outside 1 to the replication factor, a path parameter that is not UTF-8)", body = ErrorBody),
        (status = 404, description = "`unknown_topic`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 408, description = "`request_timeout`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 503, description = "`controller_unavailable` (cluster)", body = ErrorBody),
    )
)]
pub async fn alter_config(
    State(state): State<AppState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(changes): ApiJson<AlterTopicConfigRequest>,
) -> Result<Json<TopicDescription>, ApiError> {
    alter_topic_config(&state, &name, &changes).await?;
    if let Some(cluster) = &state.cluster {
        return Ok(Json(super::spread::describe(&state, cluster, &name).await?));
    }
    Ok(Json(state.broker.topic(&name)?.describe()))
}

/// Alters a topic's settings: alone, here; in a cluster, through the controller (this node has
/// applied the change when it returns). The Kafka listener's AlterConfigs and
/// IncrementalAlterConfigs call this too.
pub(crate) async fn alter_topic_config(
    state: &AppState,
    name: &str,
    changes: &AlterTopicConfigRequest,
) -> Result<(), ApiError> {
    if let Some(cluster) = &state.cluster {
        cluster
            .propose(Command::AlterTopicConfig {
                name: name.to_owned(),
                changes: changes.clone(),
            })
            .await?;
        tracing::info!(topic = %name, ?changes, "topic config altered in the cluster");
        return Ok(());
    }
    let config = state
        .broker
        .topic(name)?
        .alter_config(changes)
        .map_err(|error| BrokerError::InvalidArgument(error.to_string()))?;
    tracing::info!(topic = %name, ?config, "topic config altered");
    Ok(())
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
    delete_topic(&state, &name).await?;
    Ok(Json(DeleteTopicResponse {
        name,
        deleted: true,
    }))
}

/// Deletes a topic: alone, here, with its groups' offsets and metrics; in a cluster, through the
/// controller. The Kafka listener's DeleteTopics calls this too.
pub(crate) async fn delete_topic(state: &AppState, name: &str) -> Result<(), ApiError> {
    if let Some(cluster) = &state.cluster {
        cluster
            .propose(Command::DeleteTopic {
                name: name.to_owned(),
            })
            .await?;
        return Ok(());
    }
    state.broker.delete_topic(name)?;
    state.groups.forget_topic(name);
    state.metrics.forget_topic(name);
    Ok(())
}
