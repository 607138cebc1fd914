//! The fixed 61-byte batch header: reading it from bytes, writing it, and patching the fields the
//! partition leader owns (base offset, leader epoch) in place.
//!
//! Two encodings share this header: mq's own ([`MAGIC`], little-endian, `batch_len` counting the
//! whole batch) and Kafka's record batch v2 ([`KAFKA_MAGIC`], big-endian, its length field
//! counting the bytes after itself). Every field sits at the same place in both, and the magic at
//! byte 16 tells them apart, so a log holds either, and [`BatchHeader`] gives the same fields
//! (`batch_len` always the whole batch) for both.

use super::BatchError;

/// Format version written in every batch mq builds.
pub const MAGIC: u8 = 1;
/// Kafka's record batch v2, stored as its producer sent it.
pub const KAFKA_MAGIC: u8 = 2;
/// Bytes before and including Kafka's length field, which it does not count.
pub(crate) const KAFKA_LENGTH_EXCLUDES: u32 = 12;
/// Kafka's attributes bits naming the records' codec.
pub(crate) const KAFKA_COMPRESSION_BITS: u16 = 0b111;
/// The highest codec Kafka defines (zstd).
pub(crate) const KAFKA_LAST_CODEC: u16 = 4;
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
pub(crate) const ATTRIBUTES_AT: usize = 21;
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
        let header = match magic {
            MAGIC => Self::read_fields(bytes, Endian::Little),
            KAFKA_MAGIC => {
                let mut header = Self::read_fields(bytes, Endian::Big);
                // Kafka's length leaves out base offset and itself; a negative one stays
                // too small to pass the check below.
                header.batch_len = match header.batch_len {
                    len if len > i32::MAX as u32 => 0,
                    len => len + KAFKA_LENGTH_EXCLUDES,
                };
                header
            }
            other => return Err(BatchError::BadMagic(other)),
        };
        if (header.batch_len as usize) < HEADER_LEN {
            return Err(BatchError::BadLength(header.batch_len));
        }
        Ok(header)
    }

    /// Whether this is a Kafka record batch v2 stored as it came.
    pub fn is_kafka(&self) -> bool {
        self.magic == KAFKA_MAGIC
    }

    /// Whether a Kafka batch's attributes are ones the log stores as they came: at most a codec
    /// (CreateTime, not transactional, not a control batch). Always true for an mq batch.
    pub fn storable_attributes(&self) -> bool {
        !self.is_kafka()
            || (self.attributes & !KAFKA_COMPRESSION_BITS == 0
                && self.attributes & KAFKA_COMPRESSION_BITS <= KAFKA_LAST_CODEC)
    }

    /// The codec of a Kafka batch's records (Kafka's attributes bits 0-2: 1 gzip, 2 snappy,
    /// 3 lz4, 4 zstd); 0 for uncompressed records and for every mq batch.
    pub fn compression(&self) -> u8 {
        if self.is_kafka() {
            (self.attributes & KAFKA_COMPRESSION_BITS) as u8
        } else {
            0
        }
    }

    fn read_fields(bytes: &[u8], endian: Endian) -> Self {
        let u16_at = |at: usize| endian.u16([bytes[at], bytes[at + 1]]);
        let u32_at = |at: usize| endian.u32(bytes[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| endian.u64(bytes[at..at + 8].try_into().expect("8 bytes"));
        BatchHeader {
            base_offset: u64_at(BASE_OFFSET_AT),
            batch_len: u32_at(BATCH_LEN_AT),
            leader_epoch: u32_at(LEADER_EPOCH_AT),
            magic: bytes[MAGIC_AT],
            crc: u32_at(CRC_AT),
            attributes: u16_at(ATTRIBUTES_AT),
            last_offset_delta: u32_at(LAST_OFFSET_DELTA_AT),
            base_timestamp: u64_at(BASE_TIMESTAMP_AT) as i64,
            max_timestamp: u64_at(MAX_TIMESTAMP_AT) as i64,
            producer_id: u64_at(PRODUCER_ID_AT) as i64,
            producer_epoch: u16_at(PRODUCER_EPOCH_AT) as i16,
            base_sequence: u32_at(BASE_SEQUENCE_AT) as i32,
            record_count: u32_at(RECORD_COUNT_AT),
        }
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

/// Sets the leader-owned fields of an encoded batch (either encoding, told by its magic) in
/// place. They lie outside the CRC's range.
pub fn patch_leader_fields(batch: &mut [u8], base_offset: u64, leader_epoch: u32) {
    let (offset, epoch) = if batch[MAGIC_AT] == KAFKA_MAGIC {
        (base_offset.to_be_bytes(), leader_epoch.to_be_bytes())
    } else {
        (base_offset.to_le_bytes(), leader_epoch.to_le_bytes())
    };
    batch[BASE_OFFSET_AT..BASE_OFFSET_AT + 8].copy_from_slice(&offset);
    batch[LEADER_EPOCH_AT..LEADER_EPOCH_AT + 4].copy_from_slice(&epoch);
}

/// Stamps an encoded batch with another producer epoch and base sequence, and recomputes its CRC
/// (the producer fields lie inside its range). A producer uses it to resend batches under a new
/// epoch after one of its batches failed for good and left a gap in its sequences.
pub fn restamp_producer(batch: &mut [u8], producer_epoch: i16, base_sequence: i32) {
    debug_assert_eq!(
        batch[MAGIC_AT], MAGIC,
        "only mq's own batches are restamped"
    );
    batch[PRODUCER_EPOCH_AT..PRODUCER_EPOCH_AT + 2].copy_from_slice(&producer_epoch.to_le_bytes());
    batch[BASE_SEQUENCE_AT..BASE_SEQUENCE_AT + 4].copy_from_slice(&base_sequence.to_le_bytes());
    let crc = crc32c::crc32c(&batch[CRC_FROM..]);
    batch[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_le_bytes());
}

#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, bytes: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(bytes),
            Endian::Big => u16::from_be_bytes(bytes),
        }
    }

    fn u32(self, bytes: [u8; 4]) -> u32 {
        match self {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        }
    }

    fn u64(self, bytes: [u8; 8]) -> u64 {
        match self {
            Endian::Little => u64::from_le_bytes(bytes),
            Endian::Big => u64::from_be_bytes(bytes),
        }
    }
}
