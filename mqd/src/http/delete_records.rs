//! `DELETE /v1/topics/{topic}/partitions/{partition}/records?before=N`: deletes a partition's
//! records below an offset (Kafka's DeleteRecords, which the Kafka listener serves through the
//! same [`crate::broker::Partition::delete_records_before`]). Routing sends it to the leader.

use super::extract::{ApiPath, ApiQuery};
use super::{ApiError, AppState};
use crate::broker::Partition;
use axum::extract::State;
use axum::Json;
use mq_wire::api::{DeleteRecordsQuery, DeleteRecordsResponse};
use mq_wire::ErrorBody;
use std::sync::Arc;

/// Delete a partition's records below an offset.
///
/// The log start moves to `before` (at most the high watermark); whole segments below it give
/// their memory back at once, and a record below it is never read again, from this node or, in a
/// cluster, from a follower that becomes leader: the answer comes once every in-sync follower's
/// log starts there too and the metadata says so (a replica elected later that was not copying
/// then deletes them before it leads). Consumers whose position is below get
/// `offset_out_of_range` and reset.
#[utoipa::path(
    delete,
    path = "/v1/topics/{topic}/partitions/{partition}/records",
    tag = "records",
    params(super::openapi::PartitionParams, DeleteRecordsQuery),
    responses(
        (status = 200, description = "Deleted: where the partition starts now", body = DeleteRecordsResponse),
        (status = 400, description = "`invalid_request`: `before` missing or not a u64, an unknown parameter, a path partition that is not a u32", body = ErrorBody),
        (status = 404, description = "`unknown_topic`, `unknown_partition`", body = ErrorBody),
        (status = 416, description = "`offset_out_of_range`: `before` past the high watermark", body = ErrorBody),
        (status = 421, description = "`not_leader` (cluster): the request reached a node that does not lead the partition, or its leader lost the partition before the delete was written into the metadata", body = ErrorBody),
        (status = 503, description = "`partition_unavailable` (cluster): the leader is down or cannot be reached; `controller_unavailable` (cluster): the delete could not be written into the metadata (the leader and its in-sync followers have deleted the records; retry)", body = ErrorBody),
        (status = 504, description = "`replication_timeout` (cluster): an in-sync follower did not take the new log start within `cluster.replication_timeout` (the leader has deleted the records)", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    ApiPath((topic_name, partition_index)): ApiPath<(String, u32)>,
    ApiQuery(query): ApiQuery<DeleteRecordsQuery>,
) -> Result<Json<DeleteRecordsResponse>, ApiError> {
    let log_start = delete_records(&state, &topic_name, partition_index, query.before).await?;
    Ok(Json(DeleteRecordsResponse {
        topic: topic_name,
        partition: partition_index,
        log_start,
    }))
}

/// Deletes `topic`/`partition`'s records below `before` on this node, its leader, and waits for
/// the in-sync followers to start there too; the new log start.
pub(crate) async fn delete_records(
    state: &AppState,
    topic: &str,
    partition: u32,
    before: u64,
) -> Result<u64, ApiError> {
    let started = start_delete(state, topic, partition, Some(before))?;
    finish_delete(state, topic, &started, super::replication_timeout(state)).await?;
    Ok(started.log_start)
}

/// What the leader's part of a delete did.
pub(crate) struct StartedDelete {
    pub partition: Arc<Partition>,
    /// The topic's id in the cluster's metadata, read with the partition.
    pub topic_id: Option<uuid::Uuid>,
    /// Where the partition's log starts now.
    pub log_start: u64,
    /// The leader epoch the records were deleted at.
    pub leader_epoch: u32,
}

/// The rest of a delete, once the leader has deleted: waits (within `timeout`) for the in-sync
/// followers to start at the new log start, then, in a cluster, writes the delete into the
/// metadata, so that a replica elected later that was not copying meanwhile deletes them too
/// before it leads. The metadata refuses it (`not_leader`) from a leader deposed since.
pub(crate) async fn finish_delete(
    state: &AppState,
    topic: &str,
    started: &StartedDelete,
    timeout: std::time::Duration,
) -> Result<(), ApiError> {
    let partition = &started.partition;
    partition
        .wait_followers_log_start(started.log_start, timeout)
        .await?;
    let (Some(cluster), Some(topic_id)) = (&state.cluster, started.topic_id) else {
        return Ok(());
    };
    let applied = cluster.metadata();
    let written = applied
        .metadata
        .topics
        .get(topic)
        .filter(|t| t.id == topic_id)
        .and_then(|t| t.partitions.get(partition.index() as usize))
        .is_some_and(|p| {
            p.deleted_at_epoch == started.leader_epoch && p.deleted_before >= started.log_start
        });
    if written {
        return Ok(());
    }
    cluster
        .propose(crate::cluster::metadata::Command::DeleteRecords {
            topic: topic.to_owned(),
            topic_id,
            partition: partition.index(),
            leader_epoch: started.leader_epoch,
            before: started.log_start,
        })
        .await?;
    Ok(())
}

/// The leader's part of a delete, followers not waited for (the Kafka listener deletes in every
/// partition of a request first, then waits for all). `before` `None`: up to the high
/// watermark (Kafka's offset -1).
pub(crate) fn start_delete(
    state: &AppState,
    topic: &str,
    partition: u32,
    before: Option<u64>,
) -> Result<StartedDelete, ApiError> {
    let topic = state.broker.topic(topic)?;
    let partition = Arc::clone(topic.partition(partition)?);
    let before = before.unwrap_or_else(|| partition.high_watermark());
    let (log_start, leader_epoch) = partition.delete_records_before(before)?;
    Ok(StartedDelete {
        partition,
        topic_id: topic.id(),
        log_start,
        leader_epoch,
    })
}
