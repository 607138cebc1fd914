//! `GET /v1/topics/{topic}/offsets?at=earliest|latest|<timestamp ms>[&partition=P]`.

use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, AppState};
use crate::broker::OffsetSpec;
use axum::extract::State;
use axum::Json;
use mq_wire::api::{ListOffsetsQuery, ListOffsetsResponse};

pub async fn list(
    State(state): State<AppState>,
    ApiPath(topic_name): ApiPath<String>,
    ApiQuery(query): ApiQuery<ListOffsetsQuery>,
) -> Result<Json<ListOffsetsResponse>, ApiError> {
    let spec = match query.at.as_deref() {
        None | Some("latest") => OffsetSpec::Latest,
        Some("earliest") => OffsetSpec::Earliest,
        Some(other) => OffsetSpec::Timestamp(other.parse().map_err(|_| {
            ApiError::invalid(format!(
                "`at` must be earliest, latest or a timestamp in ms, not `{other}`"
            ))
        })?),
    };
    let topic = state.broker.topic(&topic_name)?;
    let partitions = state.broker.list_offsets(&topic, spec, query.partition)?;
    Ok(Json(ListOffsetsResponse {
        topic: topic_name,
        partitions,
    }))
}
