//! A topic on this node: its partitions, its settings, and produce. Produce places each record (given
//! partition, else key hash, else round-robin), builds one batch per partition in request order (so
//! records with the same key keep their order), reserves memory for all batches at once, and
//! appends them. Records carrying a producer id go through the topic's dedup window.

use super::batch_check::{check_batches, CheckedBody};
use super::dedup::DedupWindow;
use super::producer_window::{ProducerWindow, Sequence};
use super::topic_config::InvalidConfigChange;
use super::{BrokerError, IdSequence, NewRecord, Partition};
use crate::log::{MemoryBudget, RetentionPolicy};
use mq_wire::api::{
    Acks, AlterTopicConfigRequest, BatchPosition, RecordPosition, TopicConfig, TopicDescription,
    TopicSummary,
};
use mq_wire::batch::{BatchBuilder, RecordInput};
use mq_wire::partitioner::partition_for_key;
use parking_lot::Mutex;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use uuid::Uuid;

pub struct Topic {
    name: Arc<str>,
    /// Its id in the cluster's metadata, telling it from an older topic of the same name (none
    /// on a node alone).
    id: Option<uuid::Uuid>,
    /// Changed only by [`Topic::set_config`] (an alter), never the partition count.
    config: parking_lot::RwLock<TopicConfig>,
    partitions: Vec<Arc<Partition>>,
    round_robin: AtomicU32,
    /// Held through a whole produce that carries ids, so that two requests with the same id cannot
    /// both append.
    dedup: Mutex<DedupWindow>,
    /// Per partition: recent batches of idempotent producers (binary produce).
    producer_windows: Vec<Mutex<ProducerWindow>>,
    /// Per partition: wakes produces waiting for an earlier batch of their producer (sent on
    /// another connection, so it may arrive second) whenever a producer's batch is appended.
    sequence_moved: Vec<tokio::sync::Notify>,
    budget: Arc<MemoryBudget>,
}

/// What a produce appended, and what its `acks=all` answer waits for.
#[derive(Debug)]
pub struct Produced<T> {
    pub positions: T,
    pub commits: Vec<Commit>,
    /// Records appended and their key and value bytes (what the metrics count): duplicates,
    /// acknowledged without an append, are not.
    pub appended_records: u64,
    pub appended_payload_bytes: u64,
}

/// One partition's share of a produce: committed once the high watermark reaches `end` while the
/// partition is still led at `leader_epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    pub partition: u32,
    pub end: u64,
    pub leader_epoch: u32,
}

/// What one binary produce may carry.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    pub max_record_bytes: u64,
    pub max_batch_records: u32,
    /// What the compressed Kafka batches of one body may decompress to in all
    /// (`limits.max_request_bytes`).
    pub max_inflated_bytes: usize,
}

/// Where each record of a request ends up while the request is assembled.
enum Placement {
    New { partition: u32, index_in_batch: u32 },
    Duplicate(RecordPosition),
    DuplicateOfEarlier(usize),
}

impl Topic {
    pub(crate) fn new(
        name: Arc<str>,
        id: Option<uuid::Uuid>,
        config: TopicConfig,
        partitions: Vec<Arc<Partition>>,
        dedup: DedupWindow,
        producer_windows: Vec<Mutex<ProducerWindow>>,
        budget: Arc<MemoryBudget>,
    ) -> Self {
        Topic {
            name,
            id,
            config: parking_lot::RwLock::new(config),
            partitions,
            round_robin: AtomicU32::new(0),
            dedup: Mutex::new(dedup),
            sequence_moved: producer_windows
                .iter()
                .map(|_| tokio::sync::Notify::new())
                .collect(),
            producer_windows,
            budget,
        }
    }

    /// [`Self::append_batches`], except that a body refused because a producer's batch is ahead
    /// of the next sequence expected waits up to `reorder_wait` for the batches before it: a
    /// producer with several requests in flight sends them on several connections, and they
    /// may arrive out of order. Only a refusal that persists is answered
    /// (`out_of_order_sequence`).
    pub async fn append_batches_in_order(
        &self,
        partition: u32,
        body: &mut [u8],
        limits: &BatchLimits,
        acks: Acks,
        reorder_wait: std::time::Duration,
    ) -> Result<Produced<Vec<BatchPosition>>, BrokerError> {
        self.partition(partition)?;
        let moved = &self.sequence_moved[partition as usize];
        let deadline = tokio::time::Instant::now() + reorder_wait;
        // Checked once (a compressed batch is inflated for it), whatever the waits.
        let checked = check_batches(body, limits)?;
        loop {
            let notified = moved.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.append_checked(partition, body, &checked, acks, crate::clock::now_ms()) {
                Err(BrokerError::OutOfOrderSequence { expected, got, .. })
                    if got.wrapping_sub(expected) > 0 && tokio::time::Instant::now() < deadline =>
                {
                    if tokio::time::timeout_at(deadline, notified).await.is_err() {
                        // One last try: the refusal it gives is the answer.
                        return self.append_checked(
                            partition,
                            body,
                            &checked,
                            acks,
                            crate::clock::now_ms(),
                        );
                    }
                }
                outcome => return outcome,
            }
        }
    }

    /// Memory for a produce, by the topic's discard policy.
    fn reserve(&self, bytes: u64) -> Result<crate::log::Reservation, BrokerError> {
        super::discard::reserve_room(
            &self.budget,
            &self.partitions,
            self.config.read().discard,
            &self.name,
            bytes,
        )
        .map_err(BrokerError::from)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its id in the cluster's metadata (none on a node alone).
    pub fn id(&self) -> Option<uuid::Uuid> {
        self.id
    }

    /// The topic's settings as they are now.
    pub fn config(&self) -> TopicConfig {
        self.config.read().clone()
    }

    /// Takes settings the cluster's metadata altered (checked there by
    /// [`super::topic_config::altered`]): retention applies from the next pass,
    /// `min_insync_replicas` and `discard` from the next produce.
    pub fn set_config(&self, config: TopicConfig) {
        let mut current = self.config.write();
        self.take_config(&mut current, config);
    }

    /// Alters the settings of a topic on a node alone; the answer is the settings after.
    pub fn alter_config(
        &self,
        changes: &AlterTopicConfigRequest,
    ) -> Result<TopicConfig, InvalidConfigChange> {
        let mut current = self.config.write();
        let config = super::topic_config::altered(&current, changes)?;
        self.take_config(&mut current, config.clone());
        Ok(config)
    }

    fn take_config(&self, current: &mut TopicConfig, config: TopicConfig) {
        debug_assert_eq!(config.partitions, self.partition_count());
        for partition in &self.partitions {
            partition.set_min_insync(config.min_insync_replicas);
        }
        *current = config;
    }

    pub fn partition_count(&self) -> u32 {
        self.partitions.len() as u32
    }

    pub fn partitions(&self) -> &[Arc<Partition>] {
        &self.partitions
    }

    pub fn partition(&self, index: u32) -> Result<&Arc<Partition>, BrokerError> {
        self.partitions
            .get(index as usize)
            .ok_or_else(|| self.unknown_partition(index))
    }

    fn unknown_partition(&self, index: u32) -> BrokerError {
        BrokerError::UnknownPartition {
            topic: self.name.to_string(),
            partition: index,
            count: self.partition_count(),
        }
    }

    pub fn retention(&self) -> RetentionPolicy {
        let config = self.config.read();
        RetentionPolicy {
            retention_ms: config.retention_ms,
            retention_bytes: config.retention_bytes,
        }
    }

    /// The partition a record goes to: the one it names, else by key hash, else round-robin.
    pub fn partition_for(&self, record: &NewRecord<'_>) -> u32 {
        let count = self.partition_count();
        match (record.partition, &record.key) {
            (Some(partition), _) => partition,
            (None, Some(key)) => partition_for_key(key, count),
            (None, None) => self.round_robin.fetch_add(1, Ordering::Relaxed) % count,
        }
    }

    /// Appends `records`, all or none, and returns each one's position in request order, with
    /// what an `acks=all` answer must wait for. With `acks=all`, a partition with fewer in-sync
    /// replicas than `min_insync_replicas` refuses the whole request before anything is appended.
    pub fn produce(
        &self,
        records: &[NewRecord<'_>],
        max_record_bytes: u64,
        acks: Acks,
        now_ms: i64,
    ) -> Result<Produced<Vec<RecordPosition>>, BrokerError> {
        let count = self.partition_count();
        if let Some(bad) = records
            .iter()
            .find_map(|r| r.partition.filter(|&p| p >= count))
        {
            return Err(self.unknown_partition(bad));
        }
        let mut dedup = records
            .iter()
            .any(|r| r.id.producer_id().is_some())
            .then(|| self.dedup.lock());
        let mut first_index_of_id: HashMap<Uuid, usize> = HashMap::new();
        let mut builders: Vec<Option<BatchBuilder>> = (0..count).map(|_| None).collect();
        let mut placements = Vec::with_capacity(records.len());
        let mut header_refs: Vec<(&str, &[u8])> = Vec::new();
        let mut fresh_ids = IdSequence::new();

        for (index, record) in records.iter().enumerate() {
            if let (Some(id), Some(window)) = (record.id.producer_id(), dedup.as_mut()) {
                if let Some(position) = window.position_of(&id, now_ms) {
                    placements.push(Placement::Duplicate(position));
                    continue;
                }
                match first_index_of_id.entry(id) {
                    Entry::Occupied(first) => {
                        placements.push(Placement::DuplicateOfEarlier(*first.get()));
                        continue;
                    }
                    Entry::Vacant(slot) => {
                        slot.insert(index);
                    }
                }
            }
            let partition = self.partition_for(record);
            header_refs.clear();
            header_refs.extend(record.headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref())));
            let input = RecordInput {
                id: record.id.resolve(&mut fresh_ids),
                timestamp: record.timestamp.unwrap_or(now_ms),
                key: record.key.as_deref(),
                value: Some(&record.value),
                headers: &header_refs,
            };
            let builder = builders[partition as usize].get_or_insert_with(BatchBuilder::default);
            let size = builder.record_len(&input);
            if size as u64 > max_record_bytes {
                return Err(BrokerError::RecordTooLarge {
                    index,
                    size,
                    max: max_record_bytes,
                });
            }
            placements.push(Placement::New {
                partition,
                index_in_batch: builder.record_count(),
            });
            builder.push(&input);
            if record.id.producer_id().is_some() {
                builder.mark_chosen_ids();
            }
        }

        let batches: Vec<(usize, Vec<u8>)> = builders
            .into_iter()
            .enumerate()
            .filter_map(|(partition, builder)| builder.map(|b| (partition, b.finish())))
            .collect();
        if acks == Acks::All {
            for (partition, _) in &batches {
                self.partitions[*partition].check_insync()?;
            }
        }
        let total: u64 = batches.iter().map(|(_, bytes)| bytes.len() as u64).sum();
        let mut reservation = self.reserve(total)?;
        let mut base_offsets = vec![0u64; count as usize];
        let mut epochs: Vec<Option<u32>> = vec![None; count as usize];
        for (partition, mut bytes) in batches {
            let (base, epoch) = self.partitions[partition].append(&mut bytes, &mut reservation)?;
            base_offsets[partition] = base;
            epochs[partition] = Some(epoch);
        }

        let mut positions: Vec<RecordPosition> = Vec::with_capacity(records.len());
        for placement in placements {
            let position = match placement {
                Placement::New {
                    partition,
                    index_in_batch,
                } => RecordPosition {
                    partition,
                    offset: base_offsets[partition as usize] + u64::from(index_in_batch),
                    duplicate: false,
                },
                Placement::Duplicate(original) => RecordPosition {
                    duplicate: true,
                    ..original
                },
                Placement::DuplicateOfEarlier(first) => RecordPosition {
                    duplicate: true,
                    ..positions[first]
                },
            };
            positions.push(position);
        }
        if let Some(window) = dedup.as_mut() {
            for (record, position) in records.iter().zip(&positions) {
                if let (Some(id), false) = (record.id.producer_id(), position.duplicate) {
                    window.remember(id, *position, now_ms);
                }
            }
        }
        let mut commits: BTreeMap<u32, Commit> = BTreeMap::new();
        for position in &positions {
            let partition = &self.partitions[position.partition as usize];
            let commit = commits.entry(position.partition).or_insert(Commit {
                partition: position.partition,
                end: 0,
                leader_epoch: epochs[position.partition as usize]
                    .unwrap_or_else(|| partition.leader_epoch()),
            });
            commit.end = commit.end.max(position.offset + 1);
        }
        let (mut appended_records, mut appended_payload_bytes) = (0u64, 0u64);
        for (record, position) in records.iter().zip(&positions) {
            if !position.duplicate {
                appended_records += 1;
                appended_payload_bytes +=
                    (record.value.len() + record.key.as_ref().map_or(0, |k| k.len())) as u64;
            }
        }
        Ok(Produced {
            positions,
            commits: commits.into_values().collect(),
            appended_records,
            appended_payload_bytes,
        })
    }

    /// Waits until every commit is below its partition's high watermark with enough replicas in
    /// sync (an `acks=all` answer), or fails with the first partition that could not.
    pub async fn await_commits(
        &self,
        commits: &[Commit],
        timeout: std::time::Duration,
    ) -> Result<(), BrokerError> {
        let waits = commits.iter().map(|commit| {
            self.partitions[commit.partition as usize].wait_committed(
                commit.end,
                commit.leader_epoch,
                timeout,
            )
        });
        for outcome in futures_util::future::join_all(waits).await {
            outcome?;
        }
        Ok(())
    }

    /// On a follower: appends batches copied from the partition's leader, and remembers the
    /// idempotent producers' batches and the producer-chosen record ids among them, so that this
    /// node knows them if it leads next.
    pub fn append_replicated(
        &self,
        partition: u32,
        batches: &[u8],
        fetched_at_epoch: u32,
        (leader_log_start, leader_high_watermark): (u64, u64),
        now_ms: i64,
    ) -> Result<(), BrokerError> {
        let target = self.partition(partition)?;
        let mut reservation = self.reserve(batches.len() as u64)?;
        // Held across the append: a truncation (another fetcher, after a leader change) cannot
        // run between the append and the remembering, and leave batches remembered that it cut.
        let mut producers = self.producer_windows[partition as usize].lock();
        let replicated = target.append_replicated(
            batches,
            &mut reservation,
            fetched_at_epoch,
            leader_log_start,
            leader_high_watermark,
        )?;
        if !replicated.chosen_ids.is_empty() {
            let mut ids = self.dedup.lock();
            for (id, offset) in replicated.chosen_ids {
                let position = RecordPosition {
                    partition,
                    offset,
                    duplicate: false,
                };
                ids.remember(id, position, now_ms);
            }
        }
        if !replicated.headers.is_empty() {
            self.sequence_moved[partition as usize].notify_waiters();
            for header in replicated.headers {
                producers.remember(
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence,
                    header.record_count,
                    header.base_offset,
                    now_ms,
                );
            }
        }
        Ok(())
    }

    /// On a follower: truncates a partition's log where it diverged from its new leader's (see
    /// [`Partition::truncate_diverged`]), and forgets the producers' batches and record ids it
    /// cut. Returns the log end.
    pub fn truncate_diverged(
        &self,
        partition: u32,
        asked_at_epoch: u32,
        answer: Option<(u32, u64)>,
    ) -> Result<u64, BrokerError> {
        let target = self.partition(partition)?;
        let mut producers = self.producer_windows[partition as usize].lock();
        let mut ids = self.dedup.lock();
        let end = target.truncate_diverged(asked_at_epoch, answer)?;
        producers.forget_from(end);
        ids.forget_from(partition, end);
        Ok(end)
    }

    /// On a follower whose log ends before its leader's log start: starts the partition over,
    /// empty, at `log_start` (see [`Partition::restart_at`]).
    pub fn restart_replica_at(
        &self,
        partition: u32,
        log_start: u64,
        fetched_at_epoch: u32,
    ) -> Result<(), BrokerError> {
        let target = self.partition(partition)?;
        let mut producers = self.producer_windows[partition as usize].lock();
        let mut ids = self.dedup.lock();
        target.restart_at(log_start, fetched_at_epoch);
        producers.forget_from(target.log_end());
        ids.forget_from(partition, target.log_end());
        Ok(())
    }

    /// Appends a binary produce body (record batches back to back) to one partition, all or none:
    /// every batch is validated (length, CRC, each record), batches an idempotent producer sent
    /// before are acknowledged with their first offset, memory is reserved for the rest, and each
    /// is copied once into the log.
    pub fn append_batches(
        &self,
        partition: u32,
        body: &mut [u8],
        limits: &BatchLimits,
        acks: Acks,
        now_ms: i64,
    ) -> Result<Produced<Vec<BatchPosition>>, BrokerError> {
        let checked = check_batches(body, limits)?;
        self.append_checked(partition, body, &checked, acks, now_ms)
    }

    /// Appends a body [`check_batches`] accepted: the producer window, the memory, the copies.
    fn append_checked(
        &self,
        partition: u32,
        body: &mut [u8],
        checked: &CheckedBody,
        acks: Acks,
        now_ms: i64,
    ) -> Result<Produced<Vec<BatchPosition>>, BrokerError> {
        let target = Arc::clone(self.partition(partition)?);
        let spans = &checked.spans;
        if acks == Acks::All {
            target.check_insync()?;
        }
        let mut producers = self.producer_windows[partition as usize].lock();
        let mut positions = Vec::with_capacity(spans.len());
        let mut fresh = Vec::with_capacity(spans.len());
        // The same producer batch twice in one body: the second is a duplicate of the first.
        let mut in_body: HashMap<(i64, i16, i32), usize> = HashMap::new();
        // The sequence each producer of this body must send next, once its earlier batches here
        // are appended.
        let mut next_in_body: HashMap<i64, (i16, i32)> = HashMap::new();
        let mut copies: Vec<(usize, usize)> = Vec::new();
        let (mut appended_records, mut appended_payload_bytes) = (0u64, 0u64);
        for (index, (at, header, payload)) in spans.iter().enumerate() {
            let identity = (
                header.producer_id,
                header.producer_epoch,
                header.base_sequence,
            );
            let mut first = None;
            if header.producer_id >= 0 {
                if let Some(&earlier) = in_body.get(&identity) {
                    copies.push((index, earlier));
                    positions.push(BatchPosition {
                        base_offset: 0,
                        record_count: header.record_count,
                        duplicate: true,
                    });
                    continue;
                }
                in_body.insert(identity, index);
                let verdict = match next_in_body.get(&header.producer_id) {
                    Some(&(epoch, expected)) => {
                        let expected = if header.producer_epoch > epoch {
                            0
                        } else {
                            expected
                        };
                        if header.producer_epoch >= epoch && header.base_sequence == expected {
                            Sequence::Next
                        } else {
                            Sequence::OutOfOrder { expected }
                        }
                    }
                    None => producers.check(
                        header.producer_id,
                        header.producer_epoch,
                        header.base_sequence,
                        now_ms,
                    ),
                };
                match verdict {
                    Sequence::Duplicate {
                        base_offset,
                        record_count,
                    } => first = Some((base_offset, record_count)),
                    Sequence::Next => {
                        next_in_body.insert(
                            header.producer_id,
                            (
                                header.producer_epoch,
                                header
                                    .base_sequence
                                    .wrapping_add(header.record_count as i32),
                            ),
                        );
                    }
                    Sequence::OutOfOrder { expected } => {
                        return Err(BrokerError::OutOfOrderSequence {
                            topic: self.name.to_string(),
                            partition,
                            producer_id: header.producer_id,
                            expected,
                            got: header.base_sequence,
                        });
                    }
                }
            }
            positions.push(BatchPosition {
                base_offset: first.map_or(0, |(base, _)| base),
                // A duplicate is answered with what was stored the first time.
                record_count: first.map_or(header.record_count, |(_, count)| count),
                duplicate: first.is_some(),
            });
            if first.is_none() {
                fresh.push((*at, *header));
                appended_records += u64::from(header.record_count);
                appended_payload_bytes += payload;
            }
        }
        let total: u64 = fresh.iter().map(|(_, h)| u64::from(h.batch_len)).sum();
        let mut reservation = self.reserve(total)?;
        let mut appended = fresh.into_iter();
        let mut epoch = target.leader_epoch();
        for position in positions.iter_mut().filter(|p| !p.duplicate) {
            let (at, header) = appended.next().expect("one fresh batch per new position");
            let bytes = &mut body[at..at + header.batch_len as usize];
            let (base, appended_at) = target.append(bytes, &mut reservation)?;
            position.base_offset = base;
            epoch = appended_at;
            if header.producer_id >= 0 {
                producers.remember(
                    header.producer_id,
                    header.producer_epoch,
                    header.base_sequence,
                    header.record_count,
                    position.base_offset,
                    now_ms,
                );
            }
        }
        drop(producers);
        if spans.iter().any(|(_, h, _)| h.producer_id >= 0) {
            self.sequence_moved[partition as usize].notify_waiters();
        }
        for (copy, first) in copies {
            positions[copy].base_offset = positions[first].base_offset;
            positions[copy].record_count = positions[first].record_count;
        }
        // Every position is what the log holds (a duplicate's count is the original's, not the
        // resender's claim), so `acks=all` waits for all of it, and for nothing that may never
        // exist.
        let end = positions
            .iter()
            .map(|p| p.base_offset + u64::from(p.record_count))
            .max()
            .unwrap_or(0);
        Ok(Produced {
            positions,
            commits: vec![Commit {
                partition,
                end,
                leader_epoch: epoch,
            }],
            appended_records,
            appended_payload_bytes,
        })
    }

    pub fn describe(&self) -> TopicDescription {
        TopicDescription {
            name: self.name.to_string(),
            config: self.config(),
            partitions: self.partitions.iter().map(|p| p.info()).collect(),
        }
    }

    pub fn summary(&self) -> TopicSummary {
        let (mut records, mut bytes) = (0, 0);
        for info in self.partitions.iter().map(|p| p.info()) {
            records += info.log_end - info.log_start;
            bytes += info.bytes;
        }
        TopicSummary {
            name: self.name.to_string(),
            partitions: self.partition_count(),
            replication_factor: self.config.read().replication_factor,
            records,
            bytes,
        }
    }
}
