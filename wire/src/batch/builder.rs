//! Builds one batch from records, in a single buffer: header space first, records after it, and the
//! header (with its CRC) written last.

use super::header::{BatchHeader, CRC_FROM, HEADER_LEN, MAGIC};
use super::record::{self, RecordInput};

/// Accumulates records into one encoded batch. Offsets are relative until the leader appends the
/// batch and patches its base offset.
#[derive(Debug)]
pub struct BatchBuilder {
    buf: Vec<u8>,
    count: u32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer: (i64, i16, i32),
    attributes: u16,
}

impl Default for BatchBuilder {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl BatchBuilder {
    /// A builder whose buffer can hold `bytes` of records before it grows.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER_LEN + bytes);
        buf.resize(HEADER_LEN, 0);
        BatchBuilder {
            buf,
            count: 0,
            base_timestamp: 0,
            max_timestamp: i64::MIN,
            producer: (-1, -1, -1),
            attributes: 0,
        }
    }

    /// Marks the batch as holding records whose ids their producer chose ([`super::CHOSEN_IDS`]).
    pub fn mark_chosen_ids(&mut self) {
        self.attributes |= super::CHOSEN_IDS;
    }

    /// Marks the batch as sent by an idempotent producer: the broker appends a batch with the same
    /// producer id, epoch and base sequence only once.
    pub fn set_producer(&mut self, producer_id: i64, epoch: i16, base_sequence: i32) {
        self.producer = (producer_id, epoch, base_sequence);
    }

    /// Bytes `record` would add to the batch if pushed next.
    pub fn record_len(&self, record: &RecordInput<'_>) -> usize {
        let base = if self.count == 0 {
            record.timestamp
        } else {
            self.base_timestamp
        };
        record::encoded_len(record, record.timestamp.wrapping_sub(base), self.count)
    }

    /// Appends one record; it gets the next offset in the batch.
    pub fn push(&mut self, record: &RecordInput<'_>) {
        if self.count == 0 {
            self.base_timestamp = record.timestamp;
        }
        let timestamp_delta = record.timestamp.wrapping_sub(self.base_timestamp);
        record::encode(record, timestamp_delta, self.count, &mut self.buf);
        self.max_timestamp = self.max_timestamp.max(record.timestamp);
        self.count += 1;
    }

    pub fn record_count(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes of the batch so far, header included.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Finishes the batch: writes the header and CRC. Base offset and leader epoch are 0 until the
    /// leader patches them at append.
    pub fn finish(mut self) -> Vec<u8> {
        let header = BatchHeader {
            base_offset: 0,
            batch_len: self.buf.len() as u32,
            leader_epoch: 0,
            magic: MAGIC,
            crc: 0,
            attributes: self.attributes,
            last_offset_delta: self.count.saturating_sub(1),
            base_timestamp: self.base_timestamp,
            max_timestamp: if self.count == 0 {
                self.base_timestamp
            } else {
                self.max_timestamp
            },
            producer_id: self.producer.0,
            producer_epoch: self.producer.1,
            base_sequence: self.producer.2,
            record_count: self.count,
        };
        header.write(&mut self.buf);
        let crc = crc32c::crc32c(&self.buf[CRC_FROM..]);
        BatchHeader { crc, ..header }.write(&mut self.buf);
        self.buf
    }
}
