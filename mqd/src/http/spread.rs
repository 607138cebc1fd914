//! Requests that touch partitions on several nodes of a cluster: describe and list topics (each
//! partition's bounds come from the node leading it), list offsets, and a topic-wide produce,
//! which is split by partition and sent to each partition's leader. A partition whose leader is
//! down shows an empty ISR in describe and fails the requests that need it with
//! `partition_unavailable`.

use super::internal::local_partitions;
use super::records::new_record;
use super::{ApiError, AppState};
use crate::broker::OffsetSpec;
use crate::cluster::forward::{ForwardError, Outgoing};
use crate::cluster::metadata::TopicRecord;
use crate::cluster::Cluster;
use axum::http::{HeaderMap, Method};
use bytes::Bytes;
use mq_wire::api::{
    ListOffsetsQuery, ListOffsetsResponse, PartitionInfo, PartitionOffset, ProduceRecord,
    ProduceRequest, ProduceResponse, TopicDescription, TopicList, TopicSummary,
};
use mq_wire::partitioner::partition_for_key;
use mq_wire::{ErrorBody, ErrorCode};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// How long a node may take to list its partitions.
const LIST_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends one internal or public request to `node` (this node included: it goes over loopback
/// like any other) and reads its JSON answer; an error answer becomes that error.
pub async fn ask<T: serde::de::DeserializeOwned>(
    cluster: &Cluster,
    node: u64,
    method: Method,
    path_and_query: &str,
    body: Option<Bytes>,
    timeout: Duration,
    unavailable: ErrorCode,
) -> Result<T, ApiError> {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().expect("valid"));
    let answer = cluster
        .forward(
            node,
            Outgoing {
                method,
                path_and_query,
                headers: &headers,
                body: body.unwrap_or_default(),
                timeout,
            },
        )
        .await
        .map_err(|e| match e {
            ForwardError::NoAnswer { .. } => {
                ApiError::new(ErrorCode::ForwardTimeout, e.to_string())
            }
            other => ApiError::new(unavailable, other.to_string()),
        })?;
    let status = answer.status();
    let bytes = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .map_err(|e| ApiError::new(unavailable, e.to_string()))?;
    if !status.is_success() {
        return Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(body) => ApiError::new(body.error.code, body.error.message),
            Err(_) => ApiError::new(unavailable, format!("node {node} answered {status}")),
        });
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::new(ErrorCode::Internal, format!("node {node}: {e}")))
}

/// The partitions each live node in `nodes` leads, by (topic, partition); nodes that do not
/// answer are left out.
async fn led_partitions(
    state: &AppState,
    cluster: &Arc<Cluster>,
    nodes: BTreeSet<u64>,
) -> HashMap<(String, u32), PartitionInfo> {
    let mut led = cluster.led_partitions(nodes).await;
    led.extend(local_partitions(state));
    led.into_iter()
        .map(|led| ((led.topic, led.info.partition), led.info))
        .collect()
}

/// What describe shows of a partition whose leader did not answer: no ISR, no bounds.
fn offline(partition: u32, leader: u64, leader_epoch: u32) -> PartitionInfo {
    PartitionInfo {
        partition,
        leader,
        leader_epoch,
        replicas: vec![leader],
        isr: Vec::new(),
        log_start: 0,
        log_end: 0,
        high_watermark: 0,
        bytes: 0,
        segments: 0,
    }
}

fn leaders_of(record: &TopicRecord, alive: impl Fn(u64) -> bool) -> BTreeSet<u64> {
    record
        .partitions
        .iter()
        .map(|p| p.leader)
        .filter(|&n| alive(n))
        .collect()
}

/// A topic this node does not know: unknown (404) once this node has re-applied the metadata,
/// retriable (503, "rejoining") before, when it may only not have heard of it yet.
fn unknown_topic(cluster: &Cluster, name: &str) -> ApiError {
    if cluster.registered() {
        return ApiError::new(ErrorCode::UnknownTopic, format!("unknown topic `{name}`"));
    }
    ApiError::new(
        ErrorCode::PartitionUnavailable,
        format!(
            "node {} is rejoining the cluster after a restart and does not know topic `{name}` yet; retry shortly",
            cluster.node_id()
        ),
    )
}

pub async fn describe(
    state: &AppState,
    cluster: &Arc<Cluster>,
    name: &str,
) -> Result<TopicDescription, ApiError> {
    let _ = cluster.catch_up().await;
    let applied = cluster.metadata();
    let record = applied
        .metadata
        .topics
        .get(name)
        .ok_or_else(|| unknown_topic(cluster, name))?;
    let nodes = leaders_of(record, |n| applied.metadata.is_alive(n));
    let mut found = led_partitions(state, cluster, nodes).await;
    let partitions = record
        .partitions
        .iter()
        .enumerate()
        .map(|(index, placed)| {
            let index = index as u32;
            match found.remove(&(name.to_owned(), index)) {
                Some(mut info) => {
                    info.leader_epoch = placed.leader_epoch.max(info.leader_epoch);
                    info
                }
                None => offline(index, placed.leader, placed.leader_epoch),
            }
        })
        .collect();
    Ok(TopicDescription {
        name: name.to_owned(),
        config: record.config.clone(),
        partitions,
    })
}

pub async fn list(state: &AppState, cluster: &Arc<Cluster>) -> TopicList {
    let _ = cluster.catch_up().await;
    let applied = cluster.metadata();
    let nodes = applied.metadata.live_nodes().into_iter().collect();
    let found = led_partitions(state, cluster, nodes).await;
    let topics = applied
        .metadata
        .topics
        .iter()
        .map(|(name, record)| {
            let (mut records, mut bytes) = (0, 0);
            for index in 0..record.partitions.len() as u32 {
                if let Some(info) = found.get(&(name.clone(), index)) {
                    records += info.log_end - info.log_start;
                    bytes += info.bytes;
                }
            }
            TopicSummary {
                name: name.clone(),
                partitions: record.config.partitions,
                replication_factor: record.config.replication_factor,
                records,
                bytes,
            }
        })
        .collect();
    TopicList { topics }
}

/// A topic-wide JSON produce in a cluster: each record is placed (its partition, else key hash,
/// else — with a producer id — the id's hash so a retry lands where the first try did, else
/// round-robin), the records of each partition go to its leader in one request, and the answers
/// are put back in request order.
///
/// Each partition's part is all or nothing; a request spanning partitions on several nodes is not
/// (an error names the first part that failed, and the other parts may have been appended).
pub async fn produce(
    state: &AppState,
    cluster: &Arc<Cluster>,
    topic_name: &str,
    request: &ProduceRequest,
) -> Result<ProduceResponse, ApiError> {
    let topic = match state.broker.topic(topic_name) {
        Ok(topic) => topic,
        Err(_) => {
            let _ = cluster.catch_up().await;
            state
                .broker
                .topic(topic_name)
                .map_err(|_| unknown_topic(cluster, topic_name))?
        }
    };
    let applied = cluster.metadata();
    let placed = applied
        .metadata
        .topics
        .get(topic_name)
        .ok_or_else(|| unknown_topic(cluster, topic_name))?;
    // The metadata decides the count: the local topic may be an older one of the same name.
    let count = placed.partitions.len() as u32;
    let mut parts: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (index, record) in request.records.iter().enumerate() {
        let new = new_record(index, record, None)?;
        let partition = match (new.partition, &new.key, new.id.producer_id()) {
            (Some(p), _, _) if p >= count => {
                return Err(ApiError::new(
                    ErrorCode::UnknownPartition,
                    format!("topic `{topic_name}` has no partition {p} (it has {count})"),
                ))
            }
            (Some(p), _, _) => p,
            (None, Some(key), _) => partition_for_key(key, count),
            (None, None, Some(id)) => partition_for_key(id.as_bytes(), count),
            (None, None, None) => topic.partition_for(&new) % count,
        };
        parts.entry(partition).or_default().push(index);
    }
    let timeout = state.broker.config().limits.max_fetch_wait.0 + Duration::from_secs(10);
    let sends = parts.iter().map(|(&partition, indexes)| {
        let leader = placed.partitions[partition as usize].leader; // partition < count
        let records: Vec<ProduceRecord> = indexes
            .iter()
            .map(|&i| ProduceRecord {
                partition: Some(partition),
                ..request.records[i].clone()
            })
            .collect();
        let part = ProduceRequest {
            records,
            acks: request.acks,
        };
        let alive = applied.metadata.is_alive(leader);
        async move {
            if !alive {
                return Err(ApiError::new(
                    ErrorCode::PartitionUnavailable,
                    format!("{topic_name}/{partition} is led by node {leader}, which is down"),
                ));
            }
            let body = Bytes::from(serde_json::to_vec(&part).expect("serializable"));
            let path = format!("/v1/topics/{topic_name}/partitions/{partition}/records");
            let answer: ProduceResponse = ask(
                cluster,
                leader,
                Method::POST,
                &path,
                Some(body),
                timeout,
                ErrorCode::PartitionUnavailable,
            )
            .await?;
            Ok(answer.offsets)
        }
    });
    let answers = futures_util::future::join_all(sends).await;
    let mut offsets = vec![None; request.records.len()];
    for ((_, indexes), answer) in parts.iter().zip(answers) {
        for (&index, position) in indexes.iter().zip(answer?) {
            offsets[index] = Some(position);
        }
    }
    Ok(ProduceResponse {
        topic: topic_name.to_owned(),
        offsets: offsets.into_iter().flatten().collect(),
    })
}

/// List offsets in a cluster: each partition's answer comes from its leader.
pub async fn list_offsets(
    state: &AppState,
    cluster: &Arc<Cluster>,
    topic_name: &str,
    query: &ListOffsetsQuery,
    spec: OffsetSpec,
) -> Result<Vec<PartitionOffset>, ApiError> {
    let topic = match state.broker.topic(topic_name) {
        Ok(topic) => topic,
        Err(_) => {
            let _ = cluster.catch_up().await;
            state
                .broker
                .topic(topic_name)
                .map_err(|_| unknown_topic(cluster, topic_name))?
        }
    };
    let wanted: Vec<u32> = match query.partition {
        Some(p) => vec![topic.partition(p)?.index()],
        None => (0..topic.partition_count()).collect(),
    };
    let applied = cluster.metadata();
    let me = cluster.node_id();
    let asks = wanted.into_iter().map(|partition| {
        let leader = topic.partitions()[partition as usize].leader();
        let alive = applied.metadata.is_alive(leader);
        let topic = Arc::clone(&topic);
        async move {
            if leader == me {
                return Ok(state.broker.list_offsets(&topic, spec, Some(partition))?);
            }
            if !alive {
                return Err(ApiError::new(
                    ErrorCode::PartitionUnavailable,
                    format!("{topic_name}/{partition} is led by node {leader}, which is down"),
                ));
            }
            let at = query
                .at
                .as_deref()
                .map(|at| format!("&at={}", at.replace('+', "%2B")))
                .unwrap_or_default();
            let path = format!("/v1/topics/{topic_name}/offsets?partition={partition}{at}");
            let answer: ListOffsetsResponse = ask(
                cluster,
                leader,
                Method::GET,
                &path,
                None,
                LIST_TIMEOUT,
                ErrorCode::PartitionUnavailable,
            )
            .await?;
            Ok(answer.partitions)
        }
    });
    let mut partitions = Vec::new();
    for answer in futures_util::future::join_all(asks).await {
        partitions.extend(answer?);
    }
    Ok(partitions)
}
