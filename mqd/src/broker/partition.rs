//! One partition on this node: its log, its role (leader, follower, or neither), its leader epoch
//! and its high watermark.
//!
//! - As **leader** it takes appends, stamps them with its leader epoch, and tracks how far each
//!   follower has copied ([`Followers`]); the high watermark is the lowest log end among the
//!   in-sync replicas, so a record below it is on every one of them. Alone in its ISR (a node
//!   alone, or replication factor 1), the high watermark follows every append.
//! - As **follower** it copies the leader's batches unchanged ([`Partition::append_replicated`]),
//!   truncates where its log diverged (by leader epoch, [`LeaderEpochs`]), and keeps the leader's
//!   high watermark (never above its own log end).
//! - As neither it is a placeholder: it refuses appends and reads (routing sends those to the
//!   leader) and shows the leader's bounds as last heard.
//!
//! Readers only ever see records below the high watermark.

mod delete_records;
mod follower;

use super::followers::Followers;
use super::leader_epochs::LeaderEpochs;
use super::offset_lease::OffsetLease;
use super::BrokerError;
use crate::log::{Evicted, PartitionLog, ReadBatches, Reservation, RetentionPolicy};
use mq_wire::api::PartitionInfo;
use mq_wire::batch::{BatchIter, RecordRef};
use parking_lot::{Mutex, RwLock};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What this node is to a partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Leader,
    Follower,
    /// Not a replica here: a placeholder for the leader's.
    Observer,
}

/// Who holds a partition, as the cluster's metadata says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaSet {
    pub leader: u64,
    pub leader_epoch: u32,
    pub replicas: Vec<u64>,
    pub isr: Vec<u64>,
    pub partition_epoch: u32,
    /// Records below it written at [`Self::deleted_at_epoch`] or before were deleted, and the
    /// delete acknowledged, on the partition's leader.
    pub deleted_before: u64,
    pub deleted_at_epoch: u32,
}

impl ReplicaSet {
    /// `node` alone.
    pub fn single(node: u64) -> Self {
        ReplicaSet {
            leader: node,
            leader_epoch: 0,
            replicas: vec![node],
            isr: vec![node],
            partition_epoch: 0,
            deleted_before: 0,
            deleted_at_epoch: 0,
        }
    }
}

/// The log and the epochs its batches carry, changed together.
struct Stored {
    log: Box<dyn PartitionLog>,
    epochs: LeaderEpochs,
}

/// A leader's proposal to change the ISR, with the state it was made against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsrChange {
    pub leader_epoch: u32,
    pub partition_epoch: u32,
    pub isr: Vec<u64>,
}

pub struct Partition {
    topic: Arc<str>,
    index: u32,
    /// This node.
    node: u64,
    /// In-sync replicas an `acks=all` produce needs (the topic's setting, which may change).
    min_insync: AtomicU32,
    /// The replica set and this node's role in it, as last reconciled.
    placement: RwLock<(Role, ReplicaSet)>,
    /// Raised by the cluster at every change of leader.
    leader_epoch: AtomicU32,
    /// In a cluster: the offsets this partition may give out (or copy) before it must make a new
    /// ceiling durable, so that a restart never hands out an offset twice.
    lease: Option<OffsetLease>,
    /// The lock is held only while bytes are copied in or out, never across an `.await`.
    stored: RwLock<Stored>,
    /// Every offset below it may be read; long-polling fetches and `acks=all` produces wait on it.
    /// Where this node does not lead: the leader's, as last heard (so readers here, such as a
    /// group coordinator, see the partition's bounds, not this copy's).
    high_watermark: watch::Sender<u64>,
    /// Where this node does not lead: the leader's log start, as last heard.
    remote_log_start: AtomicU64,
    /// On a follower: its own high watermark, the leader's but never past its own log end; it
    /// becomes the high watermark if this node is elected leader.
    replica_high_watermark: AtomicU64,
    /// On the leader: the followers' progress.
    followers: Mutex<Followers>,
    /// On the leader: followers it proposed to take into the ISR, not yet committed. They count
    /// for the high watermark from the proposal on (Kafka's "maximal ISR", KIP-497): the moment
    /// the controller applies the expansion (and perhaps makes one of them leader), each holds
    /// every record below the high watermark.
    joining: Mutex<Vec<u64>>,
    /// Serializes computing and publishing the high watermark with taking followers into the
    /// ISR: a follower is found caught up and counted for the high watermark in one step, so no
    /// advance computed without it can publish past its log end.
    high_watermark_step: Mutex<()>,
    /// On a follower: set when it must ask the leader where its log diverged before it copies more.
    needs_truncation: AtomicBool,
    /// Bumped at every append anywhere on the node: followers' fetches wait on it.
    appended: Arc<watch::Sender<u64>>,
    /// On the leader: wakes what waits for followers' progress (a delete of records waiting for
    /// the in-sync followers to take the new log start).
    followers_fetched: tokio::sync::Notify,
}

/// A read of a partition, with the bounds seen at that moment.
#[derive(Debug, Default, Clone)]
pub struct PartitionRead {
    pub batches: ReadBatches,
    pub high_watermark: u64,
}

impl PartitionRead {
    /// This read with every compressed Kafka batch inflated, for readers of records (the HTTP
    /// and group fetches, whose clients carry no codecs), cut after the batch that takes it
    /// past `max_bytes`; not copied when it holds none.
    pub fn inflated(mut self, max_bytes: usize) -> Result<Self, BrokerError> {
        let stored = std::mem::take(&mut self.batches.bytes);
        self.batches.bytes = crate::log::inflate_stored(stored, max_bytes)
            .map_err(|e| BrokerError::Internal(e.to_string()))?;
        Ok(self)
    }

    /// Whether any record at or after `from` and below the high watermark came back.
    pub fn has_records_from(&self, from: u64) -> bool {
        !self.batches.bytes.is_empty() && from < self.high_watermark
    }

    /// Hands `visit` each record at or after `from` and below the high watermark, in order, until
    /// it answers false. A corrupt stored batch is an internal error.
    pub fn visit_records(
        &self,
        from: u64,
        mut visit: impl FnMut(RecordRef<'_>) -> bool,
    ) -> Result<(), BrokerError> {
        for batch in BatchIter::new(&self.batches.bytes) {
            let batch = batch.map_err(|e| BrokerError::Internal(format!("corrupt batch: {e}")))?;
            for record in batch.records() {
                let record =
                    record.map_err(|e| BrokerError::Internal(format!("corrupt record: {e}")))?;
                if record.offset < from {
                    continue;
                }
                if record.offset >= self.high_watermark || !visit(record) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Partition {
    /// A partition of `topic` on `node`, playing its part in `set`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        topic: Arc<str>,
        index: u32,
        node: u64,
        set: ReplicaSet,
        min_insync: u32,
        log: Box<dyn PartitionLog>,
        lease: Option<OffsetLease>,
        appended: Arc<watch::Sender<u64>>,
    ) -> Self {
        let end = log.log_end();
        let role = role_of(node, &set);
        let epoch = set.leader_epoch;
        let mut epochs = LeaderEpochs::default();
        if role == Role::Leader {
            epochs.assign(epoch, end);
        }
        Partition {
            topic,
            index,
            node,
            min_insync: AtomicU32::new(min_insync),
            leader_epoch: AtomicU32::new(epoch),
            placement: RwLock::new((role, set)),
            lease,
            stored: RwLock::new(Stored { log, epochs }),
            high_watermark: watch::Sender::new(if role == Role::Follower { 0 } else { end }),
            remote_log_start: AtomicU64::new(0),
            replica_high_watermark: AtomicU64::new(0),
            followers: Mutex::new(Followers::default()),
            joining: Mutex::new(Vec::new()),
            high_watermark_step: Mutex::new(()),
            needs_truncation: AtomicBool::new(role == Role::Follower),
            appended,
            followers_fetched: tokio::sync::Notify::new(),
        }
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The node leading this partition.
    pub fn leader(&self) -> u64 {
        self.placement.read().1.leader
    }

    pub fn role(&self) -> Role {
        self.placement.read().0
    }

    pub fn replica_set(&self) -> ReplicaSet {
        self.placement.read().1.clone()
    }

    pub fn leader_epoch(&self) -> u32 {
        self.leader_epoch.load(Ordering::Acquire)
    }

    pub fn high_watermark(&self) -> u64 {
        *self.high_watermark.borrow()
    }

    /// Takes the part the metadata gives this node. A new leader starts a new epoch in its epoch
    /// cache at its log end and forgets what followers reported to the old leader; a new follower
    /// first finds where its log diverged from the leader's. Anything waiting on the high
    /// watermark (`acks=all` produces) wakes to see the change. Returns whether the leader or
    /// this node's role changed.
    pub fn apply_placement(&self, set: &ReplicaSet) -> bool {
        let role = role_of(self.node, set);
        let mut placement = self.placement.write();
        let (old_role, old_set) = &*placement;
        let epoch_rose = set.leader_epoch > old_set.leader_epoch;
        if set.leader_epoch < old_set.leader_epoch
            || (set.leader_epoch == old_set.leader_epoch
                && set.partition_epoch < old_set.partition_epoch)
        {
            return false;
        }
        // Before any role change: a replica elected with records the old leader deleted (one
        // that was not copying then) must not serve them.
        self.delete_below(set.deleted_before, set.deleted_at_epoch);
        let changed_role = role != *old_role || epoch_rose || set.leader != old_set.leader;
        self.leader_epoch
            .fetch_max(set.leader_epoch, Ordering::AcqRel);
        if changed_role {
            match role {
                Role::Leader => {
                    let mut stored = self.stored.write();
                    let end = stored.log.log_end();
                    stored.epochs.assign(set.leader_epoch, end);
                    *self.followers.lock() = Followers::new(Instant::now());
                    if *old_role == Role::Follower {
                        // Its own high watermark now: what it knows committed, within its log.
                        let own = self.replica_high_watermark.load(Ordering::Acquire).min(end);
                        self.high_watermark.send_modify(|hw| *hw = own);
                    }
                }
                Role::Follower => self.needs_truncation.store(true, Ordering::Release),
                Role::Observer => {}
            }
            tracing::info!(
                topic = %self.topic,
                partition = self.index,
                role = ?role,
                leader = set.leader,
                leader_epoch = set.leader_epoch,
                isr = ?set.isr,
                "partition role"
            );
        }
        if role == Role::Leader && !changed_role {
            let mut followers = self.followers.lock();
            for gone in old_set.isr.iter().filter(|n| !set.isr.contains(n)) {
                followers.forget(*gone);
            }
        }
        *placement = (role, set.clone());
        drop(placement);
        if role == Role::Leader {
            self.advance_high_watermark();
        }
        if changed_role {
            self.high_watermark.send_modify(|_| {});
        }
        // A delete of records waiting on followers re-checks against the new ISR.
        self.followers_fetched.notify_waiters();
        changed_role
    }

    /// Deletes this replica's records below `before` written at leader epoch `at_epoch` or
    /// before, as the metadata says the leader did (never records a later leader wrote there);
    /// the high watermark comes up to the new log start, as Kafka's does.
    fn delete_below(&self, before: u64, at_epoch: u32) {
        if before == 0 {
            return;
        }
        let target = |stored: &Stored| {
            let end = stored.log.log_end();
            // Where records newer than `at_epoch` begin here (none held that old: nothing).
            let older_end = stored
                .epochs
                .end_offset_for(at_epoch, end)
                .map_or(0, |(_, ended)| ended);
            before.min(older_end).min(end)
        };
        {
            let stored = self.stored.read();
            if target(&stored) <= stored.log.log_start() {
                return;
            }
        }
        let mut stored = self.stored.write();
        let to = target(&stored);
        let evicted = delete_records::follow_log_start(&mut *stored.log, to);
        let log_start = stored.log.log_start();
        drop(stored);
        self.replica_high_watermark
            .fetch_max(log_start, Ordering::AcqRel);
        self.high_watermark.send_if_modified(|hw| {
            let below = *hw < log_start;
            *hw = (*hw).max(log_start);
            below
        });
        tracing::info!(topic = %self.topic, partition = self.index, log_start, records = evicted.records, "records the metadata says were deleted are deleted here too");
    }

    fn not_leader(&self, leader: u64) -> BrokerError {
        BrokerError::NotLeader {
            topic: self.topic.to_string(),
            partition: self.index,
            leader,
        }
    }

    fn check_leader(&self) -> Result<(), BrokerError> {
        let placement = self.placement.read();
        match placement.0 {
            Role::Leader => Ok(()),
            _ => Err(self.not_leader(placement.1.leader)),
        }
    }

    /// Refuses an `acks=all` produce up front when fewer replicas than `min_insync_replicas` are
    /// in sync: it could not be acknowledged safely.
    pub fn check_insync(&self) -> Result<(), BrokerError> {
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return Err(self.not_leader(placement.1.leader));
        }
        self.check_isr_size(placement.1.isr.len())
    }

    /// In-sync replicas an `acks=all` produce needs.
    pub fn min_insync(&self) -> u32 {
        self.min_insync.load(Ordering::Relaxed)
    }

    /// The topic's `min_insync_replicas` changed.
    pub fn set_min_insync(&self, min_insync: u32) {
        self.min_insync.store(min_insync, Ordering::Relaxed);
    }

    /// `not_enough_replicas` unless `isr` members are at least `min_insync_replicas`.
    fn check_isr_size(&self, isr: usize) -> Result<(), BrokerError> {
        let isr = isr as u32;
        let min = self.min_insync();
        if isr < min {
            return Err(BrokerError::NotEnoughReplicas {
                topic: self.topic.to_string(),
                partition: self.index,
                isr,
                min,
            });
        }
        Ok(())
    }

    /// Appends one encoded batch and returns its base offset and the leader epoch it was stamped
    /// with.
    pub fn append(
        &self,
        batch: &mut [u8],
        reservation: &mut Reservation,
    ) -> Result<(u64, u32), BrokerError> {
        // The role is held while the batch goes in: a leadership change cannot slip between the
        // check and the append (the batch would land, at the old epoch, in a log that has begun
        // to follow, after its truncation, where nothing would ever take it out).
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return Err(self.not_leader(placement.1.leader));
        }
        let epoch = placement.1.leader_epoch;
        let base = {
            let mut stored = self.stored.write();
            let Stored { log, epochs } = &mut *stored;
            if let Some(lease) = &self.lease {
                lease.cover(&self.topic, self.index, log.log_end(), batch)?;
            }
            let base = log
                .append(batch, epoch, reservation)
                .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
            epochs.assign(epoch, base);
            tracing::trace!(topic = %self.topic, partition = self.index, base, end = log.log_end(), epoch, "appended");
            base
        };
        drop(placement);
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
        self.advance_high_watermark();
        Ok((base, epoch))
    }

    /// On the leader: moves the high watermark to the lowest log end among the in-sync replicas.
    /// It never moves back. Concurrent appends may publish out of order, hence the max.
    pub fn advance_high_watermark(&self) {
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return;
        }
        let _step = self.high_watermark_step.lock();
        let end = self.stored.read().log.log_end();
        let mut isr = placement.1.isr.clone();
        isr.extend(
            self.joining
                .lock()
                .iter()
                .filter(|n| !placement.1.isr.contains(n)),
        );
        let Some(hw) = self.followers.lock().high_watermark(self.node, end, &isr) else {
            return;
        };
        self.high_watermark.send_if_modified(|current| {
            let advance = hw > *current;
            if advance {
                tracing::trace!(
                    topic = %self.topic,
                    partition = self.index,
                    from = *current,
                    to = hw,
                    isr = ?isr,
                    epoch = placement.1.leader_epoch,
                    "high watermark"
                );
                *current = hw;
            }
            advance
        });
        drop(placement);
    }

    /// Waits until the records below `end` are committed (below the high watermark, with at least
    /// `min_insync_replicas` in sync), for an `acks=all` produce appended at `epoch`. Fails with
    /// `not_leader` when leadership moved meanwhile (the records may or may not survive: an
    /// idempotent producer's retry is safe), or `request_timeout` past `timeout`.
    pub async fn wait_committed(
        &self,
        end: u64,
        epoch: u32,
        timeout: Duration,
    ) -> Result<(), BrokerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut watermark = self.high_watermark.subscribe();
        loop {
            let hw = *watermark.borrow_and_update();
            {
                let placement = self.placement.read();
                if placement.0 != Role::Leader || self.leader_epoch() != epoch {
                    return Err(self.not_leader(placement.1.leader));
                }
                if hw >= end {
                    tracing::trace!(topic = %self.topic, partition = self.index, end, hw, epoch, isr = ?placement.1.isr, "committed");
                    return self.check_isr_size(placement.1.isr.len());
                }
            }
            tokio::select! {
                changed = watermark.changed() => if changed.is_err() {
                    return Err(BrokerError::Internal("partition dropped".into()));
                },
                _ = tokio::time::sleep_until(deadline) => {
                    return Err(BrokerError::ReplicationTimeout {
                        topic: self.topic.to_string(),
                        partition: self.index,
                        waited_ms: timeout.as_millis() as u64,
                    });
                }
            }
        }
    }

    /// Copies whole batches from the one holding `from`, up to `max_bytes`.
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<PartitionRead, BrokerError> {
        self.check_leader()?;
        self.read_local(from, max_bytes)
    }

    fn read_local(&self, from: u64, max_bytes: usize) -> Result<PartitionRead, BrokerError> {
        let high_watermark = self.high_watermark();
        let batches = self
            .stored
            .read()
            .log
            .read(from, max_bytes)
            .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
        Ok(PartitionRead {
            batches,
            high_watermark,
        })
    }

    /// On the leader, for a follower's fetch: notes that `follower` holds everything below
    /// `fetch_offset`, moves the high watermark, and reads on from there (past the high
    /// watermark: a follower copies everything).
    pub fn serve_follower(
        &self,
        follower: u64,
        (follower_log_start, fetch_offset): (u64, u64),
        max_bytes: usize,
    ) -> Result<PartitionRead, BrokerError> {
        self.check_leader()?;
        let (log_start, log_end) = {
            let stored = self.stored.read();
            (stored.log.log_start(), stored.log.log_end())
        };
        if fetch_offset > log_end || fetch_offset < log_start {
            return Err(BrokerError::OffsetOutOfRange {
                topic: self.topic.to_string(),
                partition: self.index,
                requested: fetch_offset,
                log_start,
                log_end,
            });
        }
        self.followers.lock().fetched(
            follower,
            (follower_log_start, fetch_offset),
            log_end,
            Instant::now(),
        );
        self.followers_fetched.notify_waiters();
        tracing::trace!(topic = %self.topic, partition = self.index, follower, fetch_offset, log_end, "follower fetched");
        self.advance_high_watermark();
        if fetch_offset == log_end {
            let mut read = self.read_local(fetch_offset, 0)?;
            read.batches.log_end = log_end;
            return Ok(read);
        }
        self.read_local(fetch_offset, max_bytes)
    }

    /// On the leader: `ask` of this log's leader epoch cache and log end, where an epoch ended
    /// (KIP-101's OffsetForLeaderEpoch as followers ask it, KIP-320's as consumers do).
    pub fn on_leader_epochs<T>(
        &self,
        ask: impl FnOnce(&LeaderEpochs, u64) -> T,
    ) -> Result<T, BrokerError> {
        self.check_leader()?;
        let stored = self.stored.read();
        Ok(ask(&stored.epochs, stored.log.log_end()))
    }

    /// After the proposal was applied (and reconciled) or refused.
    pub fn settle_isr(&self) {
        self.joining.lock().clear();
        self.advance_high_watermark();
    }

    /// On the leader: the ISR change its followers' progress calls for, if any — lagging members
    /// out (never below `min_insync_replicas`: only the controller takes a dead node out past
    /// that, so one slow follower cannot leave a single copy of what `acks=all` acknowledged),
    /// caught-up replicas in.
    pub fn isr_change(&self, lag_max: Duration) -> Option<IsrChange> {
        let placement = self.placement.read();
        let (role, set) = &*placement;
        if *role != Role::Leader {
            return None;
        }
        let now = Instant::now();
        let _step = self.high_watermark_step.lock();
        let followers = self.followers.lock();
        let mut lagging = followers.lagging(self.node, &set.isr, now, lag_max);
        if (set.isr.len() - lagging.len()) < self.min_insync() as usize {
            lagging.clear();
        }
        let joining =
            followers.caught_up(&set.replicas, &set.isr, self.high_watermark(), now, lag_max);
        if lagging.is_empty() && joining.is_empty() {
            return None;
        }
        // Counted for the high watermark from this moment (KIP-497's maximal ISR): when the
        // expansion applies, and perhaps makes one of them leader, each holds every record below
        // it. Cleared by `settle_isr`.
        *self.joining.lock() = joining.clone();
        let isr: Vec<u64> = set
            .replicas
            .iter()
            .copied()
            .filter(|n| (set.isr.contains(n) && !lagging.contains(n)) || joining.contains(n))
            .collect();
        Some(IsrChange {
            leader_epoch: set.leader_epoch,
            partition_epoch: set.partition_epoch,
            isr,
        })
    }

    /// This replica's log end.
    pub fn log_end(&self) -> u64 {
        self.stored.read().log.log_end()
    }

    /// A receiver that wakes whenever the high watermark moves.
    pub fn watch_high_watermark(&self) -> watch::Receiver<u64> {
        self.high_watermark.subscribe()
    }

    /// The partition's log start as known here: this log's where it leads, else the leader's as
    /// last heard.
    pub fn log_start(&self) -> u64 {
        if self.role() != Role::Leader {
            return self.remote_log_start.load(Ordering::Relaxed);
        }
        self.stored.read().log.log_start()
    }

    /// Whether this node leads the partition (else it follows it, or is a placeholder).
    pub fn is_hosted(&self) -> bool {
        self.role() == Role::Leader
    }

    /// Where this node does not lead: the bounds its leader just reported. They follow the leader
    /// exactly (they move back when the leader restarted empty).
    pub fn set_remote_bounds(&self, log_start: u64, high_watermark: u64) {
        if self.role() == Role::Leader {
            return;
        }
        self.remote_log_start.store(log_start, Ordering::Relaxed);
        self.high_watermark.send_if_modified(|hw| {
            let moved = *hw != high_watermark;
            *hw = high_watermark;
            moved
        });
    }

    /// The first record at or after `timestamp_ms` that consumers may read: one at or past the
    /// high watermark (still being copied to the followers) is not found yet, as in Kafka, whose
    /// look-up by time stops there too. Records are searched in offset order, so when the first
    /// match lies past the high watermark, so does every later one. Such a match on a leader
    /// whose high watermark still lags its election is `OffsetNotAvailable` ([`Self::latest`]).
    pub fn offset_for_timestamp(
        &self,
        timestamp_ms: i64,
    ) -> Result<Option<(u64, i64)>, BrokerError> {
        let Some(found) = crate::log::find_by_time(timestamp_ms, |from| {
            self.stored.read().log.time_lookup(timestamp_ms, from)
        }) else {
            return Ok(None);
        };
        if found.0 < self.high_watermark() {
            return Ok(Some(found));
        }
        self.check_high_watermark_settled()?;
        Ok(None)
    }

    /// The offset `latest` answers: the high watermark, unless this node was elected leader so
    /// recently that its high watermark has not reached the offset its leadership began at. It
    /// is then below what the previous leader may have answered, and a consumer resetting to it
    /// would read records again, so it is refused with `OffsetNotAvailable`, which clients
    /// retry (Kafka's KIP-207).
    pub fn latest(&self) -> Result<u64, BrokerError> {
        self.check_high_watermark_settled()?;
        Ok(self.high_watermark())
    }

    fn check_high_watermark_settled(&self) -> Result<(), BrokerError> {
        if self.role() != Role::Leader {
            return Ok(());
        }
        let high_watermark = self.high_watermark();
        let epoch_start = self
            .stored
            .read()
            .epochs
            .start_of_newest(self.leader_epoch());
        match epoch_start {
            Some(epoch_start) if epoch_start > high_watermark => {
                Err(BrokerError::OffsetNotAvailable {
                    topic: self.topic.to_string(),
                    partition: self.index,
                    high_watermark,
                    epoch_start,
                })
            }
            _ => Ok(()),
        }
    }

    pub fn enforce_retention(&self, policy: RetentionPolicy, now_ms: i64) -> Evicted {
        self.stored.write().log.enforce_retention(policy, now_ms)
    }

    /// Bytes held by the partition's segments.
    pub fn size_bytes(&self) -> u64 {
        self.stored.read().log.size_bytes()
    }

    pub fn oldest_segment_time(&self) -> Option<i64> {
        self.stored.read().log.oldest_segment_time()
    }

    pub fn evict_oldest(&self) -> Evicted {
        self.stored.write().log.evict_oldest()
    }

    /// Replication lag of each follower in records (leader's log end minus the follower's), for
    /// the metrics; empty unless this node leads.
    pub fn follower_lags(&self) -> Vec<(u64, u64)> {
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return Vec::new();
        }
        let end = self.log_end();
        let followers = self.followers.lock();
        placement
            .1
            .replicas
            .iter()
            .filter(|&&n| n != self.node)
            .map(|&n| (n, end.saturating_sub(followers.log_end(n).unwrap_or(0))))
            .collect()
    }

    pub fn info(&self) -> PartitionInfo {
        let high_watermark = self.high_watermark();
        let set = self.replica_set();
        let stored = self.stored.read();
        PartitionInfo {
            partition: self.index,
            leader: set.leader,
            leader_epoch: self.leader_epoch(),
            replicas: set.replicas,
            isr: set.isr,
            log_start: stored.log.log_start(),
            log_end: stored.log.log_end(),
            high_watermark,
            bytes: stored.log.size_bytes(),
            segments: stored.log.segment_count() as u32,
        }
    }
}

fn role_of(node: u64, set: &ReplicaSet) -> Role {
    if set.leader == node {
        Role::Leader
    } else if set.replicas.contains(&node) {
        Role::Follower
    } else {
        Role::Observer
    }
}
