//! The record batch: a header followed by records packed with varint lengths and deltas, modelled on
//! Kafka's record batch v2. A batch is one contiguous byte slice; a partition's segment is a run of
//! batches back to back, so appending is one copy and fetching is handing out slices.
//!
//! Layout (all fixed-width integers little-endian):
//!
//! | at | field | type | notes |
//! |---|---|---|---|
//! | 0 | base_offset | u64 | set by the partition leader at append |
//! | 8 | batch_len | u32 | length of the whole batch, header included |
//! | 12 | leader_epoch | u32 | set by the partition leader at append |
//! | 16 | magic | u8 | [`MAGIC`] |
//! | 17 | crc | u32 | CRC-32C of bytes `21..batch_len` |
//! | 21 | attributes | u16 | bit 8 ([`CHOSEN_IDS`]): records carry ids their producer chose; the rest reserved (compression, timestamp type), 0 today |
//! | 23 | last_offset_delta | u32 | `record_count - 1` |
//! | 27 | base_timestamp | i64 | ms since the Unix epoch, of the first record |
//! | 35 | max_timestamp | i64 | largest record timestamp |
//! | 43 | producer_id | i64 | -1 when unused (idempotent producers, later) |
//! | 51 | producer_epoch | i16 | -1 when unused |
//! | 53 | base_sequence | i32 | -1 when unused |
//! | 57 | record_count | u32 | |
//! | 61 | records | | see [`record`] |
//!
//! Base offset and leader epoch sit before the CRC's range, as in Kafka, so the leader can patch them
//! without recomputing it.
//!
//! The same slices may hold Kafka's record batch v2 ([`KAFKA_MAGIC`]), as a Kafka producer (or
//! any binary producer) sent it: same fields at the same places, big-endian, records without ids
//! (`kafka_record.rs`), perhaps compressed. A Kafka produce is stored without re-encoding and a
//! Kafka fetch serves it as stored; every reader here takes both, and a compressed batch's records
//! are read from its inflated equivalent ([`BatchView::uncompressed_with`]; the broker holds the
//! codecs).

mod builder;
mod header;
mod kafka_record;
mod reader;
mod record;
mod zigzag;

pub use builder::BatchBuilder;
pub use header::{
    patch_leader_fields, restamp_producer, BatchHeader, CHOSEN_IDS, HEADER_LEN, KAFKA_MAGIC, MAGIC,
};
pub use reader::{visible_prefix, BatchIter, BatchView, RecordIter, VisiblePrefix};
pub use record::{HeaderRef, RecordInput, RecordRef};

/// Why a byte slice is not a valid batch. Every reader check returns one of these: malformed input,
/// from the network or a corrupt segment, never panics.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    #[error("batch truncated: need {needed} bytes, have {available}")]
    Truncated { needed: usize, available: usize },
    #[error("unsupported batch magic {0}")]
    BadMagic(u8),
    #[error("batch length {0} is smaller than the batch header")]
    BadLength(u32),
    #[error("batch CRC mismatch: stored {stored:#010x}, computed {computed:#010x}")]
    BadCrc { stored: u32, computed: u32 },
    #[error("malformed record {index} in batch: {reason}")]
    BadRecord { index: u32, reason: &'static str },
    #[error("batch declares {declared} records but holds {found}")]
    CountMismatch { declared: u32, found: u32 },
    #[error("a Kafka batch is stored as it came only when CreateTime, outside transactions, not a control batch, and uncompressed or compressed with one of Kafka's four codecs (attributes {0:#06x})")]
    KafkaAttributes(u16),
    #[error("the batch's records are compressed: inflate it to read them")]
    Compressed,
    #[error("the batch's records do not decompress: {0}")]
    Inflate(String),
}

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
mod tests;
