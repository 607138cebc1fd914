//! A streaming producer: records go into per-partition batches; each partition has one sender task
//! (`sender.rs`) with up to `in_flight_per_partition` requests in flight and as many batches
//! queued, so a partition's records arrive in order (the broker takes each producer's sequences
//! only in order) while requests overlap, and memory stays bounded whatever the input size. Keyed records are placed with the broker's own rule (murmur2), keyless ones stick to one
//! partition per batch and then move on, as Kafka's sticky partitioner does.
//!
//! Batches travel in the binary format ([`mq_wire::batch`]), stamped with this producer's id and a
//! per-partition sequence, so a batch retried after a lost answer is acknowledged by the broker
//! instead of appended twice (Kafka's idempotent producer). A batch that still fails after the
//! retries is reported with the input line numbers it held: never a silent loss.
//!
//! A full node (`memory_limit_exceeded`) is final for the whole producer, not retried: it halts,
//! every batch not yet sent fails at once with that error, and [`Producer::halted`] tells the
//! caller to stop reading input.

mod sender;

use crate::{Client, ClientError};
use mq_wire::api::Acks;
use mq_wire::batch::{BatchBuilder, RecordInput};
use mq_wire::partitioner::partition_for_key;
pub use sender::MAX_IN_FLIGHT_PER_PARTITION;
use sender::{send_batches, SenderContext, Shared};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;

/// How a [`Producer`] batches and retries.
#[derive(Debug, Clone)]
pub struct ProducerConfig {
    /// Records per request.
    pub batch_size: usize,
    /// Bytes per request, at most (a larger single record goes alone).
    pub max_batch_bytes: usize,
    /// How long a partly filled batch may wait for more records.
    pub linger: Duration,
    /// Requests in flight across all partitions.
    pub max_in_flight: usize,
    /// Requests one partition may have in flight (1 to [`MAX_IN_FLIGHT_PER_PARTITION`]); order
    /// is kept either way.
    pub in_flight_per_partition: usize,
    /// Attempts after the first for a batch that failed with a retriable error.
    pub retries: u32,
    pub acks: Acks,
    /// Headers added to every record.
    pub headers: Vec<(String, String)>,
    /// Send every record to this partition.
    pub partition: Option<u32>,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            batch_size: 1000,
            max_batch_bytes: 1 << 20,
            linger: Duration::from_millis(5),
            max_in_flight: 8,
            in_flight_per_partition: 1,
            retries: 5,
            acks: Acks::All,
            headers: Vec::new(),
            partition: None,
        }
    }
}

/// Counters shared with whoever shows progress.
#[derive(Debug, Default)]
pub struct ProducerProgress {
    pub acknowledged_records: AtomicU64,
    pub acknowledged_bytes: AtomicU64,
    /// Set once, by the first error that ends the whole run (the node's memory is full).
    halted: OnceLock<String>,
}

impl ProducerProgress {
    /// Why the producer halted, if it did.
    pub fn halted(&self) -> Option<&str> {
        self.halted.get().map(String::as_str)
    }
}

/// What a finished producer did.
#[derive(Debug)]
pub struct ProduceSummary {
    pub records: u64,
    /// Bytes of keys and values acknowledged.
    pub bytes: u64,
    pub seconds: f64,
    /// Input line numbers (1-based, inclusive ranges) whose records were not acknowledged.
    pub failed_lines: Vec<(u64, u64)>,
    /// The error that made the first batch fail, if any did.
    pub first_error: Option<String>,
}

impl ProduceSummary {
    pub fn records_per_sec(&self) -> f64 {
        if self.seconds > 0.0 {
            self.records as f64 / self.seconds
        } else {
            0.0
        }
    }
}

struct Batch {
    builder: BatchBuilder,
    lines: Vec<u64>,
    bytes: u64,
    started: Instant,
    timestamp: i64,
}

impl Batch {
    fn new(capacity: usize) -> Self {
        Batch {
            builder: BatchBuilder::with_capacity(capacity * 64),
            lines: Vec::with_capacity(capacity),
            bytes: 0,
            started: Instant::now(),
            timestamp: now_ms(),
        }
    }
}

/// A batch on its way: encoded, with what to report if it fails.
struct Sealed {
    bytes: bytes::Bytes,
    records: u64,
    lines: Vec<u64>,
    payload: u64,
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Record ids: a random prefix for this producer and a counter (UUID version 8), unique without
/// asking the random number generator for every record.
#[derive(Debug)]
pub struct IdSource {
    prefix: u64,
    next: u64,
}

impl IdSource {
    pub fn new() -> Self {
        IdSource {
            prefix: uuid::Uuid::new_v4().as_u64_pair().0,
            next: 0,
        }
    }

    pub fn next_id(&mut self) -> uuid::Uuid {
        self.next += 1;
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.prefix.to_be_bytes());
        bytes[8..].copy_from_slice(&self.next.to_be_bytes());
        uuid::Uuid::new_v8(bytes)
    }
}

impl Default for IdSource {
    fn default() -> Self {
        IdSource::new()
    }
}

enum Outcome {
    Failed { lines: Vec<u64>, error: String },
}

pub struct Producer {
    topic: String,
    partitions: u32,
    config: ProducerConfig,
    open: Vec<Option<Batch>>,
    senders: Vec<Option<mpsc::Sender<Sealed>>>,
    /// This producer's id and the next sequence number of each partition.
    producer_id: i64,
    sequences: Vec<i32>,
    ids: IdSource,
    headers: Arc<Vec<(String, String)>>,
    tasks: Vec<JoinHandle<()>>,
    client: Client,
    in_flight: Arc<Semaphore>,
    outcomes_tx: mpsc::UnboundedSender<Outcome>,
    outcomes_rx: mpsc::UnboundedReceiver<Outcome>,
    progress: Arc<ProducerProgress>,
    sticky: u32,
    started: Instant,
}

/// Why a producer stopped.
#[derive(Debug, thiserror::Error)]
pub enum ProducerError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("partition {partition} does not exist: topic `{topic}` has {count}")]
    UnknownPartition {
        topic: String,
        partition: u32,
        count: u32,
    },
}

impl Producer {
    /// A producer for `topic` (its partition count is looked up now).
    pub async fn new(
        client: Client,
        topic: &str,
        config: ProducerConfig,
    ) -> Result<Producer, ProducerError> {
        let partitions = client.describe_topic(topic).await?.config.partitions;
        if let Some(partition) = config.partition.filter(|&p| p >= partitions) {
            return Err(ProducerError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                count: partitions,
            });
        }
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        Ok(Producer {
            topic: topic.to_owned(),
            partitions,
            open: (0..partitions).map(|_| None).collect(),
            senders: (0..partitions).map(|_| None).collect(),
            producer_id: (uuid::Uuid::new_v4().as_u64_pair().0 >> 1) as i64,
            sequences: vec![0; partitions as usize],
            ids: IdSource::new(),
            headers: Arc::new(config.headers.clone()),
            tasks: Vec::new(),
            client,
            in_flight: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
            config,
            outcomes_tx,
            outcomes_rx,
            progress: Arc::default(),
            sticky: 0,
            started: Instant::now(),
        })
    }

    pub fn progress(&self) -> Arc<ProducerProgress> {
        Arc::clone(&self.progress)
    }

    /// Why the producer halted (the node refused produce for lack of memory), if it did: then
    /// nothing more will be sent, and the caller should stop reading input.
    pub fn halted(&self) -> Option<&str> {
        self.progress.halted()
    }

    /// Adds one record (from input line `line`); sends its partition's batch when full, waiting
    /// while that partition already has its requests in flight and as many batches queued.
    pub async fn send(&mut self, line: u64, key: Option<&[u8]>, value: &[u8]) {
        let partition = match (self.config.partition, key) {
            (Some(partition), _) => partition,
            (None, Some(key)) => partition_for_key(key, self.partitions),
            (None, None) => self.sticky,
        };
        let header_source = Arc::clone(&self.headers);
        let headers: Vec<(&str, &[u8])> = header_source
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_bytes()))
            .collect();
        let capacity = self.config.batch_size;
        let id = self.ids.next_id();
        // Cut by size too: a record that would take the batch past max_batch_bytes starts a new
        // one, so one oversized record fails alone instead of with a whole batch of lines.
        let too_big = self.open[partition as usize].as_ref().is_some_and(|batch| {
            let input = RecordInput {
                id,
                timestamp: batch.timestamp,
                key,
                value: Some(value),
                headers: &headers,
            };
            !batch.lines.is_empty()
                && batch.builder.len() + batch.builder.record_len(&input)
                    > self.config.max_batch_bytes
        });
        if too_big {
            self.dispatch(partition).await;
        }
        let batch = self.open[partition as usize].get_or_insert_with(|| Batch::new(capacity));
        batch.builder.push(&RecordInput {
            id,
            timestamp: batch.timestamp,
            key,
            value: Some(value),
            headers: &headers,
        });
        batch.lines.push(line);
        batch.bytes += (value.len() + key.map_or(0, <[u8]>::len)) as u64;
        if batch.lines.len() >= self.config.batch_size
            || batch.builder.len() >= self.config.max_batch_bytes
        {
            self.dispatch(partition).await;
            if self.config.partition.is_none() && partition == self.sticky {
                self.sticky = (self.sticky + 1) % self.partitions;
            }
        }
    }

    /// Sends every batch that has waited longer than the linger time.
    pub async fn flush_lingering(&mut self) {
        for partition in 0..self.partitions {
            let due = self.open[partition as usize]
                .as_ref()
                .is_some_and(|b| b.started.elapsed() >= self.config.linger);
            if due {
                self.dispatch(partition).await;
            }
        }
    }

    /// The longest a partly filled batch may still wait.
    pub fn linger(&self) -> Duration {
        self.config.linger
    }

    async fn dispatch(&mut self, partition: u32) {
        let Some(mut batch) = self.open[partition as usize].take() else {
            return;
        };
        let records = batch.lines.len() as u64;
        let sequence = &mut self.sequences[partition as usize];
        batch.builder.set_producer(self.producer_id, 0, *sequence);
        *sequence = sequence.wrapping_add(records as i32);
        let sealed = Sealed {
            bytes: bytes::Bytes::from(batch.builder.finish()),
            records,
            lines: batch.lines,
            payload: batch.bytes,
        };
        let sender = self.senders[partition as usize].get_or_insert_with(|| {
            let window = self
                .config
                .in_flight_per_partition
                .clamp(1, MAX_IN_FLIGHT_PER_PARTITION);
            let (tx, rx) = mpsc::channel(window);
            let task = tokio::spawn(send_batches(SenderContext {
                shared: Shared {
                    client: self.client.clone(),
                    acks: self.config.acks,
                    topic: self.topic.clone(),
                    partition,
                    retries: self.config.retries,
                    outcomes: self.outcomes_tx.clone(),
                    progress: Arc::clone(&self.progress),
                },
                window,
                in_flight: Arc::clone(&self.in_flight),
                batches: rx,
            }));
            self.tasks.push(task);
            tx
        });
        if let Err(unsent) = sender.send(sealed).await {
            let _ = self.outcomes_tx.send(Outcome::Failed {
                lines: unsent.0.lines,
                error: "the partition's sender stopped".to_owned(),
            });
        }
    }

    /// Sends what is left, waits for every answer, and sums up.
    pub async fn finish(mut self) -> ProduceSummary {
        for partition in 0..self.partitions {
            self.dispatch(partition).await;
        }
        self.senders.clear();
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        drop(self.outcomes_tx);
        let mut failed: Vec<u64> = Vec::new();
        let mut first_error = None;
        while let Some(Outcome::Failed { lines, error }) = self.outcomes_rx.recv().await {
            failed.extend(lines);
            first_error.get_or_insert(error);
        }
        failed.sort_unstable();
        ProduceSummary {
            records: self.progress.acknowledged_records.load(Ordering::Relaxed),
            bytes: self.progress.acknowledged_bytes.load(Ordering::Relaxed),
            seconds: self.started.elapsed().as_secs_f64(),
            failed_lines: ranges(&failed),
            first_error,
        }
    }
}

/// Sorted numbers as inclusive ranges: [1,2,3,7] -> [(1,3),(7,7)].
pub fn ranges(sorted: &[u64]) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for &n in sorted {
        match out.last_mut() {
            Some((_, end)) if *end + 1 == n => *end = n,
            Some((_, end)) if *end == n => {}
            _ => out.push((n, n)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn line_numbers_fold_into_ranges() {
        assert_eq!(ranges(&[1, 2, 3, 7, 9, 10]), [(1, 3), (7, 7), (9, 10)]);
        assert_eq!(ranges(&[]), []);
    }
}
