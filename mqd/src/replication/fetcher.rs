//! The follower's side: one fetcher per other node copies every partition this node follows from
//! it. Each round it first settles divergence (partitions that just became followers, or saw a new
//! leader epoch, ask where their newest epoch ended and truncate there), then long-polls the leader
//! for all the others at once and appends what comes back. A change of placement (once this node's
//! broker has taken it) cuts a parked fetch short, so a new leader is followed at once.

use super::protocol::{
    decode_answer, Encoding, EpochAnswer, EpochAsk, EpochQuery, FetchPartition, ReplicaError,
    ReplicaFetch, EPOCH_PATH, FETCH_PATH,
};
use super::stream::{LeaderStream, Opened, STREAM_PATH};
use crate::broker::{Broker, Partition, Role, Topic};
use crate::clock::now_ms;
use crate::cluster::Cluster;
use crate::shutdown::ShutdownSignal;
use std::sync::Arc;
use std::time::Duration;

/// How long a leader may hold a fetch with nothing new.
const MAX_WAIT: Duration = Duration::from_millis(500);
/// Bytes of batches one answer carries at most.
const MAX_BYTES: u64 = 16 << 20;
/// How long opening a stream may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after a failed round (the leader is unreachable, or refused).
const BACKOFF: Duration = Duration::from_millis(50);

/// Starts one fetcher per other node of the cluster.
pub fn spawn_fetchers(cluster: &Arc<Cluster>, broker: &Arc<Broker>, stop: &ShutdownSignal) {
    for leader in cluster.peer_ids() {
        tokio::spawn(fetch_from(
            Arc::clone(cluster),
            Arc::clone(broker),
            leader,
            stop.clone(),
        ));
    }
}

/// The partitions this node follows whose leader is `leader`, with their topics.
fn followed(broker: &Broker, leader: u64) -> Vec<(Arc<Topic>, Arc<Partition>)> {
    let mut out = Vec::new();
    for topic in broker.topics() {
        for partition in topic.partitions() {
            if partition.role() == Role::Follower && partition.leader() == leader {
                out.push((Arc::clone(&topic), Arc::clone(partition)));
            }
        }
    }
    out
}

/// Where one leader answers fetches and epoch questions, parsed once.
struct LeaderUrls {
    fetch: reqwest::Url,
    epoch: reqwest::Url,
    stream: reqwest::Url,
}

/// How a fetcher reaches its leader. A fetch that fails (the connection broke, no answer in
/// time) leaves it closed; a leader's refusal of some partitions does not.
enum Link {
    /// Nothing open: the next fetch opens a stream.
    Closed,
    Stream(LeaderStream),
    /// The leader refused a stream (an older version) at this time: HTTP fetches until one fails
    /// or [`REPROBE`] has passed.
    Http(std::time::Instant),
}

/// How long a fetcher refused a stream keeps to HTTP before it asks for one again.
const REPROBE: Duration = Duration::from_secs(60);

impl LeaderUrls {
    fn of(cluster: &Cluster, leader: u64) -> Result<Self, String> {
        let addr = cluster
            .address_of(leader)
            .ok_or_else(|| format!("node {leader} is not in cluster.nodes"))?;
        let parse = |path: &str| {
            reqwest::Url::parse(&format!("http://{addr}{path}"))
                .map_err(|e| format!("node {leader}'s address {addr}: {e}"))
        };
        Ok(LeaderUrls {
            fetch: parse(FETCH_PATH)?,
            epoch: parse(EPOCH_PATH)?,
            stream: parse(STREAM_PATH)?,
        })
    }
}

async fn fetch_from(cluster: Arc<Cluster>, broker: Arc<Broker>, leader: u64, stop: ShutdownSignal) {
    let urls = match LeaderUrls::of(&cluster, leader) {
        Ok(urls) => urls,
        Err(error) => {
            tracing::error!(leader, %error, "cannot copy from this node");
            return;
        }
    };
    let stop = stop.wait();
    tokio::pin!(stop);
    let mut changes = broker.watch_placement();
    let mut link = Link::Closed;
    loop {
        changes.borrow_and_update();
        let partitions = followed(&broker, leader);
        let round = async {
            if partitions.is_empty() {
                // Nothing to copy from this node: wait for the metadata to change. Its stream
                // would only idle until the leader closes it.
                link = Link::Closed;
                let _ = changes.changed().await;
                return Ok(());
            }
            tokio::select! {
                outcome = copy_round(&cluster, &urls, &mut link, &partitions) => outcome,
                _ = changes.changed() => Ok(()),
            }
        };
        let outcome = tokio::select! {
            outcome = round => outcome,
            _ = &mut stop => return,
        };
        if let Err(error) = outcome {
            tracing::debug!(leader, %error, "replica fetch failed");
            tokio::select! {
                _ = tokio::time::sleep(BACKOFF) => {}
                _ = &mut stop => return,
            }
        }
    }
}

/// One round: settle divergence, then one fetch. A round cut short (the placement changed) drops
/// the stream it had taken from `link`, whose answer would come late.
async fn copy_round(
    cluster: &Cluster,
    urls: &LeaderUrls,
    link: &mut Link,
    partitions: &[(Arc<Topic>, Arc<Partition>)],
) -> Result<(), String> {
    let mut asks = Vec::new();
    for (topic, partition) in partitions {
        match partition.divergence_check() {
            None => {}
            Some(None) => {
                // Nothing copied yet: nothing can have diverged.
                topic
                    .truncate_diverged(partition.index(), partition.leader_epoch(), None)
                    .map_err(|e| e.to_string())?;
            }
            Some(Some(epoch)) => asks.push(EpochAsk {
                topic: topic.name().to_owned(),
                partition: partition.index(),
                leader_epoch: partition.leader_epoch(),
                epoch,
            }),
        }
    }
    if !asks.is_empty() {
        let asked_epochs: Vec<u32> = asks.iter().map(|a| a.leader_epoch).collect();
        let answer: EpochAnswer = cluster
            .http()
            .post(urls.epoch.clone())
            .timeout(Duration::from_secs(2))
            .json(&EpochQuery { partitions: asks })
            .send()
            .await
            .and_then(|a| a.error_for_status())
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        for (end, asked_at) in answer.partitions.into_iter().zip(asked_epochs) {
            if end.error.is_some() {
                continue;
            }
            if let Some((topic, partition)) = partitions
                .iter()
                .find(|(t, p)| t.name() == end.topic && p.index() == end.partition)
            {
                topic
                    .truncate_diverged(partition.index(), asked_at, end.end)
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    let asked: Vec<&(Arc<Topic>, Arc<Partition>)> = partitions
        .iter()
        .filter(|(_, p)| p.divergence_check().is_none())
        .collect();
    if asked.is_empty() {
        return Err("every partition still has to settle its divergence".to_owned());
    }
    let fetch = ReplicaFetch {
        replica: cluster.node_id(),
        max_wait_ms: MAX_WAIT.as_millis() as u64,
        max_bytes: MAX_BYTES,
        partitions: asked
            .iter()
            .map(|(topic, partition)| FetchPartition {
                topic: topic.name().to_owned(),
                partition: partition.index(),
                leader_epoch: partition.leader_epoch(),
                fetch_offset: partition.log_end(),
                log_start: Some(partition.local_log_start()),
            })
            .collect(),
    };
    let (body, encoding) = fetch_over(cluster, urls, link, &fetch).await?;
    let mut retry_soon = false;
    let asked_epochs: Vec<u32> = fetch.partitions.iter().map(|p| p.leader_epoch).collect();
    for (((part, bytes), (topic, partition)), epoch) in decode_answer(encoding, &body)?
        .into_iter()
        .zip(asked)
        .zip(asked_epochs)
    {
        match part.error {
            None => {
                if let Err(error) = topic.append_replicated(
                    partition.index(),
                    bytes,
                    epoch,
                    (part.log_start, part.high_watermark),
                    now_ms(),
                ) {
                    tracing::warn!(topic = topic.name(), partition = partition.index(), %error, "cannot append what the leader sent");
                    retry_soon = true;
                }
            }
            Some(ReplicaError::OffsetOutOfRange) => {
                let end = partition.log_end();
                if end < part.log_start {
                    tracing::info!(
                        topic = topic.name(),
                        partition = partition.index(),
                        log_start = part.log_start,
                        "follower starts over at its leader's log start"
                    );
                    topic
                        .restart_replica_at(partition.index(), part.log_start, epoch)
                        .map_err(|e| e.to_string())?;
                } else if end > part.log_end {
                    topic
                        .truncate_diverged(partition.index(), epoch, Some((u32::MAX, part.log_end)))
                        .map_err(|e| e.to_string())?;
                }
            }
            Some(_) => retry_soon = true,
        }
    }
    if retry_soon {
        return Err("the leader refused some partitions".to_owned());
    }
    Ok(())
}

/// Sends one fetch to the leader and reads its answer, with the encoding of its head: over the
/// link's stream (opening one when none is open), or over HTTP when the leader refuses streams.
async fn fetch_over(
    cluster: &Cluster,
    urls: &LeaderUrls,
    link: &mut Link,
    fetch: &ReplicaFetch,
) -> Result<(bytes::Bytes, Encoding), String> {
    let answer_within = MAX_WAIT + Duration::from_secs(5);
    // A stream to fetch on, or since when the leader refused one.
    let stream = match std::mem::replace(link, Link::Closed) {
        Link::Stream(stream) => Ok(stream),
        Link::Http(since) if since.elapsed() < REPROBE => Err(since),
        Link::Http(_) | Link::Closed => {
            match LeaderStream::open(cluster.http(), urls.stream.clone(), CONNECT_TIMEOUT).await? {
                Opened::Stream(stream) => Ok(stream),
                Opened::Refused => Err(std::time::Instant::now()),
            }
        }
    };
    match stream {
        Ok(mut stream) => {
            let body = tokio::time::timeout(answer_within, stream.fetch(fetch))
                .await
                .map_err(|_| format!("no answer on the stream in {answer_within:?}"))?
                .map_err(|e| e.to_string())?;
            *link = Link::Stream(stream);
            Ok((body, Encoding::Postcard))
        }
        Err(refused_since) => {
            let body = cluster
                .http()
                .post(urls.fetch.clone())
                .timeout(answer_within)
                .json(fetch)
                .send()
                .await
                .and_then(|a| a.error_for_status())
                .map_err(|e| e.to_string())?
                .bytes()
                .await
                .map_err(|e| e.to_string())?;
            *link = Link::Http(refused_since);
            Ok((body, Encoding::Json))
        }
    }
}
