//! [`GroupConsumer`]: a member of a consumer group that reads its partitions straight from their
//! leaders, as Kafka's consumers do, and talks to the group's coordinator only to join, heartbeat,
//! commit and leave. In a cluster a group's read rate then grows with the nodes instead of going
//! through the coordinator. (The server-side group fetch, `POST /v1/groups/{g}/fetch`, stays for
//! curl and for a node alone, where it saves the per-partition requests.)
//!
//! The member keeps one long-polling fetch in flight per partition it owns. When a heartbeat
//! brings a new assignment, it stops reading what it lost (results still in flight are dropped),
//! and the caller commits before the next heartbeat acknowledges the handover, so the new owner
//! starts where this one stopped. A coordinator that moved (it died, or the cluster rebalanced
//! its slot) answers `unknown_member`: the member joins again and resumes from the committed
//! offsets. A partition whose leader is down is retried every second while the others flow.

use crate::client::{Client, ClientError, FetchedBatches};
use futures_util::future::BoxFuture;
use futures_util::stream::{FuturesUnordered, StreamExt};
use mq_wire::api::{
    CommitRequest, HeartbeatRequest, JoinGroupRequest, ListOffsetsQuery, MemberAssignment,
    OffsetCommit, OffsetReset,
};
use mq_wire::ErrorCode;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// One partition of one topic.
pub type TopicPartition = (String, u32);

/// How long a failing partition waits before it is fetched again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Heartbeats at least this often: a member reading from the leaders learns of a rebalance only
/// from a heartbeat (the server-side group fetch tells at once), so partitions move within this.
const HEARTBEAT_AT_LEAST_EVERY: Duration = Duration::from_millis(500);

/// How long the coordinator may stay unreachable before the member gives up.
const COORDINATOR_PATIENCE: Duration = Duration::from_secs(60);

/// Records of one partition, as its leader sent them.
pub struct Polled {
    pub topic: String,
    pub partition: u32,
    /// The offset asked for: the first batch may start before it.
    pub from: u64,
    pub batches: FetchedBatches,
}

type InFlight = BoxFuture<
    'static,
    (
        TopicPartition,
        u64,
        u64,
        Result<FetchedBatches, ClientError>,
    ),
>;

pub struct GroupConsumer {
    client: Client,
    group: String,
    join: JoinGroupRequest,
    member_id: String,
    generation: u64,
    heartbeat_every: Duration,
    last_heartbeat: Instant,
    /// The last heartbeat brought a new generation: the next one acknowledges it.
    acknowledge_now: bool,
    /// Partitions waiting for another member to let go: heartbeat often until they arrive.
    pending: bool,
    owned: BTreeSet<TopicPartition>,
    /// Bumped at every change of `owned`: fetches started before are dropped when they return.
    assignment_epoch: u64,
    positions: HashMap<TopicPartition, u64>,
    retry_at: HashMap<TopicPartition, Instant>,
    in_flight: FuturesUnordered<InFlight>,
    fetching: BTreeSet<TopicPartition>,
    /// Next offsets of what the caller processed and did not commit yet.
    uncommitted: BTreeMap<TopicPartition, u64>,
    max_wait_ms: u64,
    max_bytes: u64,
    unreachable_since: Option<Instant>,
    /// When positions that could not be learned are asked for again.
    resolve_again_at: Option<Instant>,
}

impl GroupConsumer {
    /// Joins `group`; fetches wait up to `max_wait_ms` at the leaders and take up to `max_bytes`.
    pub async fn join(
        client: Client,
        group: &str,
        join: JoinGroupRequest,
        max_wait_ms: u64,
        max_bytes: u64,
    ) -> Result<GroupConsumer, ClientError> {
        let joined = join_patiently(&client, group, &join).await?;
        let mut consumer = GroupConsumer {
            client,
            group: group.to_owned(),
            join,
            member_id: String::new(),
            generation: 0,
            heartbeat_every: Duration::from_secs(1),
            last_heartbeat: Instant::now(),
            acknowledge_now: false,
            pending: false,
            owned: BTreeSet::new(),
            assignment_epoch: 0,
            positions: HashMap::new(),
            retry_at: HashMap::new(),
            in_flight: FuturesUnordered::new(),
            fetching: BTreeSet::new(),
            uncommitted: BTreeMap::new(),
            max_wait_ms,
            max_bytes,
            unreachable_since: None,
            resolve_again_at: None,
        };
        consumer.take(joined, true).await?;
        Ok(consumer)
    }

    pub fn member_id(&self) -> &str {
        &self.member_id
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The partitions this member reads now.
    pub fn owned(&self) -> &BTreeSet<TopicPartition> {
        &self.owned
    }

    /// Takes an answer of join or heartbeat: generation, interval and the partitions owned.
    async fn take(&mut self, answer: MemberAssignment, joined: bool) -> Result<(), ClientError> {
        if joined {
            self.member_id = answer.member_id.clone();
            self.acknowledge_now = false;
        } else {
            self.acknowledge_now = answer.generation != self.generation;
        }
        self.generation = answer.generation;
        self.heartbeat_every = Duration::from_millis(answer.heartbeat_interval_ms.max(1))
            .min(HEARTBEAT_AT_LEAST_EVERY);
        self.last_heartbeat = Instant::now();
        self.pending = answer.pending.iter().any(|t| !t.partitions.is_empty());
        let owned: BTreeSet<TopicPartition> = answer
            .assignment
            .iter()
            .flat_map(|t| t.partitions.iter().map(|&p| (t.topic.clone(), p)))
            .collect();
        if owned != self.owned || joined {
            // As Kafka's consumer does, a partition kept across a rebalance (or a join at a new
            // coordinator) keeps its position and what was processed but not yet committed.
            self.assignment_epoch += 1;
            self.positions.retain(|tp, _| owned.contains(tp));
            self.uncommitted.retain(|tp, _| owned.contains(tp));
            self.owned = owned;
            self.resolve_positions_or_later().await?;
        }
        Ok(())
    }

    /// Resolves what positions it can now; a partition whose position cannot be learned yet (its
    /// leader is down, the coordinator moving) is tried again at the next poll.
    async fn resolve_positions_or_later(&mut self) -> Result<(), ClientError> {
        match self.resolve_positions().await {
            Err(error) if retriable(&error) => Ok(()),
            other => other,
        }
    }

    /// Positions of newly owned partitions: the committed offset, else `auto_offset_reset`.
    async fn resolve_positions(&mut self) -> Result<(), ClientError> {
        let missing: Vec<TopicPartition> = self
            .owned
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp))
            .cloned()
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        let described = self.client.describe_group(&self.group).await?;
        let committed: HashMap<TopicPartition, u64> = described
            .offsets
            .iter()
            .filter_map(|o| Some(((o.topic.clone(), o.partition), o.committed_offset?)))
            .collect();
        for tp in missing {
            let position = match committed.get(&tp) {
                Some(&offset) => offset,
                None => {
                    match reset_position(&self.client, self.join.auto_offset_reset, &tp).await {
                        Ok(position) => position,
                        // This partition's leader is down: the others need not wait for it.
                        Err(error) if retriable(&error) => continue,
                        Err(error) => return Err(error),
                    }
                }
            };
            self.positions.insert(tp, position);
        }
        Ok(())
    }

    /// Starts a fetch for every owned partition that has none in flight.
    fn start_fetches(&mut self) {
        let now = Instant::now();
        for tp in self.owned.clone() {
            if self.fetching.contains(&tp) {
                continue;
            }
            let Some(&from) = self.positions.get(&tp) else {
                continue;
            };
            let delay = self
                .retry_at
                .get(&tp)
                .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
            let (client, epoch) = (self.client.clone(), self.assignment_epoch);
            let (max_bytes, max_wait) = (self.max_bytes, self.max_wait_ms);
            let key = tp.clone();
            self.fetching.insert(tp);
            self.in_flight.push(Box::pin(async move {
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                let fetched = client
                    .fetch_batches(&key.0, key.1, from, max_bytes, max_wait)
                    .await;
                (key, epoch, from, fetched)
            }));
        }
    }

    /// The next records of any owned partition, waiting for the first fetch to come back.
    /// `None` when nothing is owned (wait for a heartbeat) or the fetch brought nothing new.
    pub async fn poll(&mut self) -> Result<Option<Polled>, ClientError> {
        let missing = self.owned.iter().any(|tp| !self.positions.contains_key(tp));
        if missing && self.resolve_again_at.is_none_or(|at| Instant::now() >= at) {
            self.resolve_again_at = Some(Instant::now() + RETRY_AFTER);
            self.resolve_positions_or_later().await?;
        }
        self.start_fetches();
        if self.in_flight.is_empty() {
            tokio::time::sleep(Duration::from_millis(self.max_wait_ms.min(100))).await;
            return Ok(None);
        }
        let Some((tp, epoch, from, fetched)) = self.in_flight.next().await else {
            return Ok(None);
        };
        self.fetching.remove(&tp);
        if epoch != self.assignment_epoch && !self.owned.contains(&tp) {
            return Ok(None);
        }
        if self.positions.get(&tp) != Some(&from) {
            // The position moved (a rejoin resolved it again) while this fetch was out.
            return Ok(None);
        }
        match fetched {
            Ok(batches) => {
                self.retry_at.remove(&tp);
                self.positions.insert(tp.clone(), batches.next_offset);
                Ok(Some(Polled {
                    topic: tp.0,
                    partition: tp.1,
                    from,
                    batches,
                }))
            }
            Err(error) if error.code() == Some(ErrorCode::OffsetOutOfRange) => {
                // Retention, or a leader that came back empty: start over as a new member would.
                let position =
                    reset_position(&self.client, self.join.auto_offset_reset, &tp).await?;
                self.positions.insert(tp, position);
                Ok(None)
            }
            Err(error) if retriable(&error) => {
                self.retry_at.insert(tp, Instant::now() + RETRY_AFTER);
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Marks records up to `next_offset` (exclusive) of a partition as processed: the next commit
    /// includes them.
    pub fn processed(&mut self, topic: &str, partition: u32, next_offset: u64) {
        let tp = (topic.to_owned(), partition);
        if self.owned.contains(&tp) {
            self.uncommitted.insert(tp, next_offset);
        }
    }

    /// Commits what was processed. A coordinator that moved makes the member join again.
    pub async fn commit(&mut self) -> Result<(), ClientError> {
        if self.uncommitted.is_empty() {
            return Ok(());
        }
        let request = commit_request(&self.member_id, self.generation, &self.uncommitted);
        match self.client.commit(&self.group, &request).await {
            Ok(_) => {
                self.uncommitted.clear();
                self.unreachable_since = None;
                Ok(())
            }
            Err(error) => self.coordinator_trouble(error).await,
        }
    }

    /// Whether a heartbeat is due: the interval passed, a new generation is to be acknowledged,
    /// or partitions are pending.
    pub fn heartbeat_due(&self) -> bool {
        let every = if self.pending {
            self.heartbeat_every.min(Duration::from_millis(100))
        } else {
            self.heartbeat_every
        };
        self.acknowledge_now || self.last_heartbeat.elapsed() >= every
    }

    /// Heartbeats and takes the assignment it brings. Commit first: the heartbeat may
    /// acknowledge giving partitions away.
    pub async fn heartbeat(&mut self) -> Result<(), ClientError> {
        let request = HeartbeatRequest {
            member_id: self.member_id.clone(),
            generation: self.generation,
        };
        match self.client.heartbeat(&self.group, &request).await {
            Ok(answer) => {
                self.unreachable_since = None;
                self.take(answer, false).await
            }
            Err(error) => self.coordinator_trouble(error).await,
        }
    }

    /// A coordinator that does not know this member (it moved, or the session expired): join
    /// again. One that cannot be reached: keep reading, retry at the next heartbeat, and give up
    /// after a minute.
    async fn coordinator_trouble(&mut self, error: ClientError) -> Result<(), ClientError> {
        self.last_heartbeat = Instant::now();
        match error.code() {
            Some(ErrorCode::UnknownMember) => {
                let joined = join_patiently(&self.client, &self.group, &self.join).await?;
                self.take(joined, true).await
            }
            Some(ErrorCode::StaleGeneration | ErrorCode::NotPartitionOwner) => {
                // Handed over meanwhile: what was not committed is the new owner's to read.
                self.uncommitted.clear();
                self.acknowledge_now = true;
                Ok(())
            }
            _ if retriable(&error) => {
                let since = *self.unreachable_since.get_or_insert_with(Instant::now);
                if since.elapsed() > COORDINATOR_PATIENCE {
                    return Err(error);
                }
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// Commits what was processed and leaves the group.
    pub async fn leave(mut self) -> Result<(), ClientError> {
        let committed = self.commit().await;
        let _ = self.client.leave_group(&self.group, &self.member_id).await;
        committed
    }

    /// Leaves without committing.
    pub async fn leave_without_commit(self) {
        let _ = self.client.leave_group(&self.group, &self.member_id).await;
    }
}

/// A member's commit of `next` offsets (what it processed, per partition).
pub fn commit_request(
    member_id: &str,
    generation: u64,
    next: &BTreeMap<TopicPartition, u64>,
) -> CommitRequest {
    let offsets = next
        .iter()
        .map(|((topic, partition), &offset)| OffsetCommit {
            topic: topic.clone(),
            partition: *partition,
            offset,
            metadata: None,
        })
        .collect();
    CommitRequest {
        member_id: Some(member_id.to_owned()),
        generation: Some(generation),
        offsets,
    }
}

/// Where `auto_offset_reset` says a partition starts (`none` reads as earliest: a member that
/// wants to fail on a missing commit uses the server-side group fetch).
async fn reset_position(
    client: &Client,
    reset: Option<OffsetReset>,
    tp: &TopicPartition,
) -> Result<u64, ClientError> {
    let at = match reset.unwrap_or(OffsetReset::Earliest) {
        OffsetReset::Latest => "latest",
        OffsetReset::Earliest | OffsetReset::None => "earliest",
    };
    let query = ListOffsetsQuery {
        at: Some(at.to_owned()),
        partition: Some(tp.1),
    };
    let answer = client.list_offsets(&tp.0, &query).await?;
    Ok(answer.partitions.first().map_or(0, |p| p.offset))
}

/// Joins `group`. A coordinator that is moving (or settling after a move) answers with a
/// retriable error: ask again, for up to [`COORDINATOR_PATIENCE`], as Kafka's clients do with
/// `COORDINATOR_NOT_AVAILABLE`.
async fn join_patiently(
    client: &Client,
    group: &str,
    join: &JoinGroupRequest,
) -> Result<MemberAssignment, ClientError> {
    let give_up = Instant::now() + COORDINATOR_PATIENCE;
    let mut pause = Duration::from_millis(50);
    loop {
        match client.join_group(group, join).await {
            Err(error) if retriable(&error) && Instant::now() + pause < give_up => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            other => return other,
        }
    }
}

/// Errors that pass: a node down or unreachable, a coordinator or leader that moved.
fn retriable(error: &ClientError) -> bool {
    match error {
        // A lost answer to a heartbeat, commit or fetch: the next one says where things stand.
        ClientError::Unreachable { .. } | ClientError::NoAnswer { .. } => true,
        ClientError::Api { code, .. } => matches!(
            code,
            ErrorCode::PartitionUnavailable
                | ErrorCode::CoordinatorUnavailable
                | ErrorCode::ControllerUnavailable
                | ErrorCode::NotCoordinator
                | ErrorCode::NotLeader
                | ErrorCode::ForwardTimeout
                | ErrorCode::TooManyConnections
        ),
        _ => false,
    }
}
