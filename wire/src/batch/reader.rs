//! Reading batches: one batch as a [`BatchView`], a run of batches (a segment, a fetch answer) as a
//! [`BatchIter`]. Every length is checked against the slice, so corrupt or hostile bytes give a
//! [`BatchError`], never a panic or an out-of-bounds read.

use super::header::{
    BatchHeader, ATTRIBUTES_AT, BATCH_LEN_AT, CRC_AT, CRC_FROM, KAFKA_COMPRESSION_BITS,
    KAFKA_LENGTH_EXCLUDES,
};
use super::kafka_record;
use super::record::{self, RecordRef};
use super::BatchError;

/// One batch, borrowed from a larger buffer.
#[derive(Debug, Clone, Copy)]
pub struct BatchView<'a> {
    pub header: BatchHeader,
    bytes: &'a [u8],
}

impl<'a> BatchView<'a> {
    /// Splits the first batch off `bytes`; returns it and the bytes after it. Checks the header and
    /// the length only (cheap); call [`BatchView::validate`] for untrusted input.
    pub fn parse(bytes: &'a [u8]) -> Result<(Self, &'a [u8]), BatchError> {
        let header = BatchHeader::read(bytes)?;
        let len = header.batch_len as usize;
        if bytes.len() < len {
            return Err(BatchError::Truncated {
                needed: len,
                available: bytes.len(),
            });
        }
        let (batch, rest) = bytes.split_at(len);
        Ok((
            BatchView {
                header,
                bytes: batch,
            },
            rest,
        ))
    }

    /// The batch's whole encoding, header included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Checks everything a producer could get wrong: the CRC, every record's encoding, the record
    /// count, offset deltas in order from 0, and `last_offset_delta`.
    pub fn validate(&self) -> Result<(), BatchError> {
        self.validate_visiting(|_, _| {})
    }

    /// [`BatchView::validate`], handing each record to `visit` (with its index) as it is checked,
    /// so that a caller with checks of its own reads the records once. A record visited may
    /// still be followed by an invalid one: what `visit` learnt counts only when this returns
    /// `Ok`.
    pub fn validate_visiting(
        &self,
        mut visit: impl FnMut(u32, &RecordRef<'a>),
    ) -> Result<(), BatchError> {
        self.check_crc()?;
        if self.header.compression() != 0 {
            return Err(BatchError::Compressed);
        }
        let mut found = 0u32;
        let mut max_timestamp = i64::MIN;
        for record in self.records() {
            let record = record?;
            max_timestamp = max_timestamp.max(record.timestamp);
            if record.offset != self.header.base_offset.wrapping_add(u64::from(found)) {
                return Err(BatchError::BadRecord {
                    index: found,
                    reason: "offset deltas must run 0, 1, 2, …",
                });
            }
            visit(found, &record);
            found += 1;
        }
        if found != self.header.record_count
            || (found > 0 && self.header.last_offset_delta != found - 1)
        {
            return Err(BatchError::CountMismatch {
                declared: self.header.record_count,
                found,
            });
        }
        // Retention and time lookups trust the header's max_timestamp: it must be the records'.
        if found > 0 && self.header.max_timestamp != max_timestamp {
            return Err(BatchError::BadRecord {
                index: 0,
                reason: "max_timestamp differs from the records' largest timestamp",
            });
        }
        Ok(())
    }

    /// Checks the attributes a stored batch may have and the CRC: all [`BatchView::validate`]
    /// can check of a compressed batch without inflating it.
    pub fn check_crc(&self) -> Result<(), BatchError> {
        if !self.header.storable_attributes() {
            return Err(BatchError::KafkaAttributes(self.header.attributes));
        }
        let computed = crc32c::crc32c(&self.bytes[CRC_FROM..]);
        if computed != self.header.crc {
            return Err(BatchError::BadCrc {
                stored: self.header.crc,
                computed,
            });
        }
        Ok(())
    }

    /// The bytes after the header: the records, compressed when [`BatchHeader::compression`]
    /// says so.
    pub fn record_bytes(&self) -> &'a [u8] {
        &self.bytes[super::HEADER_LEN..]
    }

    /// This compressed Kafka batch with `records` (its records inflated) in place of its
    /// compressed ones: the same header with the codec bits cleared, its length and CRC made
    /// for the new records. What a reader that needs the records reads instead.
    pub fn uncompressed_with(&self, records: &[u8]) -> Result<Vec<u8>, BatchError> {
        debug_assert!(self.header.is_kafka());
        // Kafka's length is an i32: records inflating past it cannot make a batch.
        let length = (super::HEADER_LEN + records.len())
            .checked_sub(KAFKA_LENGTH_EXCLUDES as usize)
            .and_then(|len| i32::try_from(len).ok())
            .ok_or(BatchError::Inflate(format!(
                "{} bytes of records do not fit one batch",
                records.len()
            )))?;
        let mut out = Vec::with_capacity(super::HEADER_LEN + records.len());
        out.extend_from_slice(&self.bytes[..super::HEADER_LEN]);
        out.extend_from_slice(records);
        out[BATCH_LEN_AT..BATCH_LEN_AT + 4].copy_from_slice(&length.to_be_bytes());
        let attributes = self.header.attributes & !KAFKA_COMPRESSION_BITS;
        out[ATTRIBUTES_AT..ATTRIBUTES_AT + 2].copy_from_slice(&attributes.to_be_bytes());
        let crc = crc32c::crc32c(&out[CRC_FROM..]);
        out[CRC_AT..CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
        Ok(out)
    }

    /// The batch's records in order. A compressed batch yields one error
    /// ([`BatchView::uncompressed_with`] gives a batch whose records can be read).
    pub fn records(&self) -> RecordIter<'a> {
        RecordIter {
            rest: &self.bytes[super::HEADER_LEN..],
            base_offset: self.header.base_offset,
            base_timestamp: self.header.base_timestamp,
            index: 0,
            encoding: match (self.header.is_kafka(), self.header.attributes) {
                (false, _) => Some(Encoding::Mq),
                (true, 0) => Some(Encoding::Kafka),
                (true, _) => None,
            },
            failed: false,
        }
    }
}

/// Iterates the records of one batch. After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct RecordIter<'a> {
    rest: &'a [u8],
    base_offset: u64,
    base_timestamp: i64,
    index: u32,
    /// `None`: a Kafka batch whose records cannot be read in place (compressed).
    encoding: Option<Encoding>,
    failed: bool,
}

#[derive(Debug, Clone, Copy)]
enum Encoding {
    Mq,
    Kafka,
}

impl<'a> Iterator for RecordIter<'a> {
    type Item = Result<RecordRef<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let decoded = match self.encoding {
            Some(Encoding::Mq) => record::decode(self.rest, self.base_offset, self.base_timestamp),
            Some(Encoding::Kafka) => {
                kafka_record::decode(self.rest, self.base_offset, self.base_timestamp)
            }
            None => Err("a compressed or transactional Kafka batch is not read in place"),
        };
        match decoded {
            Ok((record, rest)) => {
                self.rest = rest;
                self.index += 1;
                Some(Ok(record))
            }
            Err(reason) => {
                self.failed = true;
                Some(Err(BatchError::BadRecord {
                    index: self.index,
                    reason,
                }))
            }
        }
    }
}

/// Iterates batches laid back to back in one buffer. After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> BatchIter<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        BatchIter {
            rest: bytes,
            failed: false,
        }
    }
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = Result<BatchView<'a>, BatchError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        match BatchView::parse(self.rest) {
            Ok((batch, rest)) => {
                self.rest = rest;
                Some(Ok(batch))
            }
            Err(error) => {
                self.failed = true;
                Some(Err(error))
            }
        }
    }
}

/// The part of a run of whole batches a reader may have: batches starting below the high
/// watermark, stopping once `max_records` records at or after `from` are in (the first batch
/// always is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VisiblePrefix {
    /// Bytes of whole batches to hand out.
    pub len: usize,
    /// The offset to ask for next.
    pub next_offset: u64,
    /// Records at or after `from` in those batches.
    pub records: u64,
    /// Their key and value bytes.
    pub payload_bytes: u64,
}

pub fn visible_prefix(
    bytes: &[u8],
    from: u64,
    high_watermark: u64,
    max_records: u64,
) -> VisiblePrefix {
    let mut visible = VisiblePrefix {
        next_offset: from,
        ..VisiblePrefix::default()
    };
    for batch in BatchIter::new(bytes).filter_map(Result::ok) {
        if batch.header.base_offset >= high_watermark
            || (visible.records > 0 && visible.records >= max_records)
        {
            break;
        }
        visible.len += batch.as_bytes().len();
        visible.next_offset = batch.header.next_offset().min(high_watermark).max(from);
        if batch.header.compression() != 0 {
            // Offsets in a batch are dense: count them; the payload is the compressed bytes.
            let first = batch.header.base_offset.max(from);
            let end = batch.header.next_offset().min(high_watermark);
            if end > first {
                visible.records += end - first;
                visible.payload_bytes += batch.record_bytes().len() as u64;
            }
            continue;
        }
        for record in batch.records().filter_map(Result::ok) {
            if record.offset >= from && record.offset < high_watermark {
                visible.records += 1;
                visible.payload_bytes += record.payload_len() as u64;
            }
        }
    }
    visible
}
