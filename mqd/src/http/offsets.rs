//! `GET /v1/topics/{topic}/offsets?at=earliest|latest|<timestamp ms>[&partition=P]`.

use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, AppState};
use crate::broker::OffsetSpec;
use axum::extract::State;
use axum::Json;
use mq_wire::api::{ListOffsetsQuery, ListOffsetsResponse};
use mq_wire::ErrorBody;

/// List offsets: each partition's earliest, latest, or first offset at or after a timestamp.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/offsets",
    tag = "offsets",
    params(super::openapi::TopicParam, ListOffsetsQuery),
    responses(
        (status = 200, description = "One offset per partition (or the one asked for)", body = ListOffsetsResponse),
        (status = 400, description = "`invalid_request`: a bad `at`, an unknown or ill-typed parameter", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 503, description = "`offset_not_available` (cluster): the partition's leader was elected a moment ago and its high watermark has not reached where its leadership began (KIP-207); retry. `partition_unavailable` (cluster): the leader is down or cannot be reached", body = ErrorBody),
    )
)]

pub async fn list(
    State(state): State<AppState>,
    ApiPath(topic_name): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListOffsetsQuery>,
    headers: axum::http::HeaderMap,
) -> Result<Json<ListOffsetsResponse>, ApiError> {
    let forwarded = headers.contains_key(crate::cluster::forward::FORWARDED_BY);
    let spec = match query.at.as_deref() {
        None | Some("latest") => OffsetSpec::Latest,
        Some("earliest") => OffsetSpec::Earliest,
        Some(other) => OffsetSpec::Timestamp(other.parse().map_err(|_| {
            ApiError::invalid(format!(
                "`at` must be earliest, latest or a timestamp in ms, not `{other}`"
            ))
        })?),
    };
    if let Some(cluster) = &state.cluster {
        let partitions =
            super::spread::list_offsets(&state, cluster, &topic_name, &query, spec).await?;
        return Ok(Json(ListOffsetsResponse {
            topic: topic_name,
            partitions,
        }));
    }
    let topic = state.broker.topic(&topic_name)?;
    if forwarded {
        // Sent on by a node that thinks this one leads the partition: answer only if it does.
        let asked: Vec<u32> = query
            .partition
            .map_or_else(|| (0..topic.partition_count()).collect(), |p| vec![p]);
        for index in asked {
            let partition = topic.partition(index)?;
            if !partition.is_hosted() {
                return Err(crate::broker::BrokerError::NotLeader {
                    topic: topic_name,
                    partition: index,
                    leader: partition.leader(),
                }
                .into());
            }
        }
    }
    let partitions = state.broker.list_offsets(&topic, spec, query.partition)?;
    Ok(Json(ListOffsetsResponse {
        topic: topic_name,
        partitions,
    }))
}
