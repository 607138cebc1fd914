//! The fixed 61-byte batch header: reading it from bytes, writing it, and patching the fields the
//! partition leader owns (base offset, leader epoch) in place.

use super::BatchError;

/// Format version written in every batch.
pub const MAGIC: u8 = 1;
/// Size of the fixed header in bytes.
pub const HEADER_LEN: usize = 61;
/// Attributes bit: records of this batch carry ids their producer chose (a JSON produce's `id`),
/// which the topic's dedup window remembers, on followers too.
pub const CHOSEN_IDS: u16 = 1 << 8;

pub(crate) const BASE_OFFSET_AT: usize = 0;
pub(crate) const BATCH_LEN_AT: usize = 8;
pub(crate) const LEADER_EPOCH_AT: usize = 12;
pub(crate) const MAGIC_AT: usize = 16;
pub(crate) const CRC_AT: usize = 17;
/// First byte covered by the CRC.
pub(crate) const CRC_FROM: usize = 21;
const ATTRIBUTES_AT: usize = 21;
const LAST_OFFSET_DELTA_AT: usize = 23;
const BASE_TIMESTAMP_AT: usize = 27;
const MAX_TIMESTAMP_AT: usize = 35;
const PRODUCER_ID_AT: usize = 43;
const PRODUCER_EPOCH_AT: usize = 51;
const BASE_SEQUENCE_AT: usize = 53;
const RECORD_COUNT_AT: usize = 57;

/// The decoded fixed header of one batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHeader {
    pub base_offset: u64,
    pub batch_len: u32,
    pub leader_epoch: u32,
    pub magic: u8,
    pub crc: u32,
    pub attributes: u16,
    pub last_offset_delta: u32,
    pub base_timestamp: i64,
    pub max_timestamp: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    pub record_count: u32,
}

impl BatchHeader {
    /// Offset of the last record in the batch.
    pub fn last_offset(&self) -> u64 {
        self.base_offset
            .wrapping_add(u64::from(self.last_offset_delta))
    }

    /// The offset after the batch's last record.
    pub fn next_offset(&self) -> u64 {
        self.base_offset.wrapping_add(u64::from(self.record_count))
    }

    /// Reads a header from the start of `bytes`, checking only that it is complete and well formed
    /// (magic, a length that covers the header); the records are checked by the reader.
    pub fn read(bytes: &[u8]) -> Result<Self, BatchError> {
        if bytes.len() < HEADER_LEN {
            return Err(BatchError::Truncated {
                needed: HEADER_LEN,
                available: bytes.len(),
            });
        }
        let magic = bytes[MAGIC_AT];
        if magic != MAGIC {
            return Err(BatchError::BadMagic(magic));
        }
        let header = BatchHeader {
            base_offset: u64_at(bytes, BASE_OFFSET_AT),
            batch_len: u32_at(bytes, BATCH_LEN_AT),
            leader_epoch: u32_at(bytes, LEADER_EPOCH_AT),
            magic,
            crc: u32_at(bytes, CRC_AT),
            attributes: u16::from_le_bytes([bytes[ATTRIBUTES_AT], bytes[ATTRIBUTES_AT + 1]]),
            last_offset_delta: u32_at(bytes, LAST_OFFSET_DELTA_AT),
            base_timestamp: u64_at(bytes, BASE_TIMESTAMP_AT) as i64,
            max_timestamp: u64_at(bytes, MAX_TIMESTAMP_AT) as i64,
            producer_id: u64_at(bytes, PRODUCER_ID_AT) as i64,
            producer_epoch: u16::from_le_bytes([
                bytes[PRODUCER_EPOCH_AT],
                bytes[PRODUCER_EPOCH_AT + 1],
            ]) as i16,
            base_sequence: u32_at(bytes, BASE_SEQUENCE_AT) as i32,
            record_count: u32_at(bytes, RECORD_COUNT_AT),
        };
        if (header.batch_len as usize) < HEADER_LEN {
            return Err(BatchError::BadLength(header.batch_len));
        }
        Ok(header)
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    pub(crate) fn write(&self, out: &mut [u8]) {
        out[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&self.base_offset.to_le_bytes());
        out[BATCH_LEN_AT..BATCH_LEN_AT + 4].copy_from_slice(&self.batch_len.to_le_bytes());
        out[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&self.leader_epoch.to_le_bytes());
        out[MAGIC_AT] = self.magic;
        out[CRC_AT..CRC_AT + 4].copy_from_slice(&self.crc.to_le_bytes());
        out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&self.attributes.to_le_bytes());
        out[LAST_OFFSET_DELTA_AT..LAST_OFFSET_DELTA_AT + 4]
            .copy_from_slice(&self.last_offset_delta.to_le_bytes());
        out[BASE_TIMESTAMP_AT..BASE_TIMESTAMP_AT + 8]
            .copy_from_slice(&self.base_timestamp.to_le_bytes());
        out[MAX_TIMESTAMP_AT..MAX_TIMESTAMP_AT + 8]
            .copy_from_slice(&self.max_timestamp.to_le_bytes());
        out[PRODUCER_ID_AT..PRODUCER_ID_AT + 8].copy_from_slice(&self.producer_id.to_le_bytes());
        out[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2]
            .copy_from_slice(&self.producer_epoch.to_le_bytes());
        out[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4]
            .copy_from_slice(&self.base_sequence.to_le_bytes());
        out[RECORD_COUNT_AT..RECORD_COUNT_AT + 4].copy_from_slice(&self.record_count.to_le_bytes());
    }
}

/// Sets the leader-owned fields of an encoded batch in place. They lie outside the CRC's range.
pub fn patch_leader_fields(batch: &mut [u8], base_offset: u64, leader_epoch: u32) {
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&base_offset.to_le_bytes());
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&leader_epoch.to_le_bytes());
}

/// Stamps an encoded batch with another producer epoch and base sequence, and recomputes its CRC
/// (the producer fields lie inside its range). A producer uses it to resend batches under a new
/// epoch after one of its batches failed for good and left a gap in its sequences.
pub fn restamp_producer(batch: &mut [u8], producer_epoch: i16, base_sequence: i32) {
    batch[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&producer_epoch.to_le_bytes());
    batch[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&base_sequence.to_le_bytes());
    let crc = crc32c::crc32c(&batch[CRC_FROM..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}
