//! The partition log: an append-only run of record batches split into segments, with a sparse offset
//! index per segment and retention that evicts whole segments.
//!
//! [`PartitionLog`] is the one interface the broker stores through. [`MemoryLog`] implements it in
//! memory today; a file-backed log (segment files, CRC checks on recovery, fsync policy) will implement
//! the same trait later, so nothing above this module changes when it lands.
//!
//! The log knows nothing of topics, leaders or high watermarks: those belong to
//! [`crate::broker::Partition`], which wraps a log.

pub(crate) mod decompress;
mod inflate;
mod memory;
mod memory_budget;
mod prefault;
mod retention;
mod segment;

pub use inflate::{inflate_stored, inflate_stored_batch, InflateError, Inflater};
pub use memory::MemoryLog;
pub use memory_budget::{MemoryBudget, MemoryLimitExceeded, Reservation};
pub use prefault::start as start_prefault;
pub use retention::{Evicted, RetentionPolicy};
pub use segment::Segment;

use mq_wire::batch::{BatchError, BatchView};

/// One step of a look-up by time ([`PartitionLog::time_lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimeLookup {
    /// The first record at or after the time: its offset and timestamp.
    Found { offset: u64, timestamp: i64 },
    /// No record is stamped that late.
    NotFound,
    /// The next batch that may hold it is compressed: its stored bytes, to be searched inflated
    /// without the partition's lock for a record at offset `from` or later (the log start may
    /// fall inside it), and where to look on when it holds no such record.
    Compressed {
        stored: Vec<u8>,
        from: u64,
        resume_at: u64,
    },
}

/// The first record at or after `timestamp_ms` (Kafka's ListOffsets by time): `lookup(from)`
/// takes one step under whatever lock guards the log, and a compressed batch it hands back is
/// inflated and searched here, outside that lock, so a search never holds up appends for the
/// time an inflate takes. A batch that does not inflate is skipped.
///
/// The log may change between steps (a follower truncating and copying again). A record found
/// in an inflated batch is returned only once a step under the lock hands the same batch out
/// again; otherwise the search goes on with what that step found. A match behind a batch
/// already passed over may still be missed, as a look-up racing a truncation can in Kafka.
pub fn find_by_time(
    timestamp_ms: i64,
    mut lookup: impl FnMut(u64) -> TimeLookup,
) -> Option<(u64, i64)> {
    let mut from = 0;
    let mut step = lookup(from);
    loop {
        match step {
            TimeLookup::Found { offset, timestamp } => return Some((offset, timestamp)),
            TimeLookup::NotFound => return None,
            TimeLookup::Compressed {
                stored,
                from: first_wanted,
                resume_at,
            } => {
                let inflated = BatchView::parse(&stored)
                    .ok()
                    .and_then(|(batch, _)| inflate_stored_batch(&batch).ok());
                let found = inflated.as_deref().and_then(|bytes| {
                    let (batch, _) = BatchView::parse(bytes).ok()?;
                    first_record_at_or_after(&batch, timestamp_ms, first_wanted)
                });
                if found.is_some() {
                    let again = lookup(from);
                    let unchanged = matches!(&again, TimeLookup::Compressed { stored: now, .. } if *now == stored);
                    if unchanged {
                        return found;
                    }
                    step = again;
                    continue;
                }
                from = resume_at.max(first_wanted + 1);
            }
        }
        step = lookup(from);
    }
}

/// The first record of an uncompressed `batch` at offset `from` or later stamped at or after
/// `timestamp_ms`: its offset and timestamp.
fn first_record_at_or_after(
    batch: &BatchView<'_>,
    timestamp_ms: i64,
    from: u64,
) -> Option<(u64, i64)> {
    batch
        .records()
        .map_while(Result::ok)
        .find(|record| record.offset >= from && record.timestamp >= timestamp_ms)
        .map(|record| (record.offset, record.timestamp))
}

/// How a log lays out its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogSettings {
    /// A segment is closed once it holds this many bytes (a larger batch gets a segment of its own).
    pub segment_bytes: usize,
    /// One index entry per this many bytes of batches.
    pub index_interval_bytes: usize,
}

/// Why the log refused an operation.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("offset {requested} is out of range: valid offsets run from the log start {log_start} to the log end {log_end}")]
    OffsetOutOfRange {
        requested: u64,
        log_start: u64,
        log_end: u64,
    },
    #[error("invalid batch: {0}")]
    InvalidBatch(#[from] BatchError),
    #[error("corrupt log: {0}")]
    Corrupt(String),
    #[error("the reservation holds {reserved} bytes but the batch needs {needed}")]
    NotReserved { reserved: u64, needed: u64 },
    #[error("a replicated batch starts at {base_offset} but the log ends at {log_end}")]
    NotContiguous { base_offset: u64, log_end: u64 },
}

/// What a read returns: whole batches copied out of the log, starting with the batch that holds the
/// requested offset (so the first batch may begin before it; readers skip records below it).
#[derive(Debug, Default, Clone)]
pub struct ReadBatches {
    pub bytes: Vec<u8>,
    pub log_start: u64,
    pub log_end: u64,
}

/// The store interface of one partition's records.
pub trait PartitionLog: Send + Sync {
    /// Appends an encoded batch (validated by the caller), giving it the next offsets: patches its
    /// base offset and leader epoch, copies it into the active segment, and returns the base offset.
    /// The bytes it keeps are taken from `reservation`.
    fn append(
        &mut self,
        batch: &mut [u8],
        leader_epoch: u32,
        reservation: &mut Reservation,
    ) -> Result<u64, LogError>;

    /// Appends a batch copied from the partition's leader as it is: its offsets and leader epoch
    /// were given by the leader, and it must start at this log's end.
    fn append_replica(
        &mut self,
        batch: &[u8],
        reservation: &mut Reservation,
    ) -> Result<(), LogError>;

    /// Drops every batch from the one holding `offset` on (a follower whose log diverged from its
    /// leader's): the log ends at that batch's base offset after. Returns the bytes dropped.
    fn truncate_to(&mut self, offset: u64) -> Result<u64, LogError>;

    /// Drops everything and starts empty at `log_start` (a follower whose log ends before its
    /// leader's log start).
    fn reset_to(&mut self, log_start: u64);

    /// Deletes every record below `offset` (Kafka's DeleteRecords): whole segments below it are
    /// dropped and their memory returned; the log start becomes `offset`, possibly inside a
    /// batch, whose records below it are no longer readable. An offset at or below the log start
    /// changes nothing; one past the log end is out of range.
    fn delete_before(&mut self, offset: u64) -> Result<Evicted, LogError>;

    /// Copies whole batches from the one holding `from` on, stopping before `max_bytes` is passed
    /// (but always returning at least one batch when `from` is below the log end).
    fn read(&self, from: u64, max_bytes: usize) -> Result<ReadBatches, LogError>;

    /// The first offset a reader may ask for: the first retained one, or where records were
    /// deleted up to (then inside the first batch a read returns).
    fn log_start(&self) -> u64;
    /// The offset the next record will get.
    fn log_end(&self) -> u64;
    /// Bytes of batches held.
    fn size_bytes(&self) -> u64;
    fn segment_count(&self) -> usize;

    /// The first record at or after `timestamp_ms` with an offset of at least `from`, or the
    /// compressed batch to search for it ([`find_by_time`] runs the whole look-up).
    fn time_lookup(&self, timestamp_ms: i64, from: u64) -> TimeLookup;

    /// Evicts the oldest whole segments that `policy` no longer keeps.
    fn enforce_retention(&mut self, policy: RetentionPolicy, now_ms: i64) -> Evicted;

    /// The retention time (newest timestamp, bounded by the last append) of the oldest segment
    /// that holds records, if any: which partition of a `discard = "old"` topic gives up a
    /// segment first when memory is full.
    fn oldest_segment_time(&self) -> Option<i64>;

    /// Evicts the oldest segment holding records, even the active one, to make room.
    fn evict_oldest(&mut self) -> Evicted;
}
