//! Kafka record batches (v2, any compression) to the log's batches and back. A produced Kafka
//! batch becomes one log batch with the same records, timestamps, headers and idempotent
//! producer fields (so the partition's producer window deduplicates Kafka retries as it does
//! mq's); a fetch encodes each stored batch as one uncompressed Kafka batch with the stored
//! offsets and leader epoch. Each record gets a new id (UUID v7), which Kafka clients do not see.
//!
//! What the log's format cannot carry yet: a compressed batch is stored decompressed, and a
//! header repeated under one key keeps its last value.

use super::decompress::BoundedDecompressor;
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::indexmap::IndexMap;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput};
use uuid::Uuid;

/// Why a produced record set was refused (Kafka's `CORRUPT_MESSAGE`).
#[derive(Debug, thiserror::Error)]
pub(super) enum RecordsError {
    #[error("not a valid Kafka record batch: {0}")]
    Malformed(String),
    #[error("a Kafka record batch without records")]
    Empty,
    #[error("{0}")]
    TooLarge(String),
}

impl RecordsError {
    /// The Kafka error a producer gets for it.
    pub fn kafka_error(&self) -> kafka_protocol::ResponseError {
        match self {
            RecordsError::TooLarge(_) => kafka_protocol::ResponseError::MessageTooLarge,
            RecordsError::Malformed(_) | RecordsError::Empty => {
                kafka_protocol::ResponseError::CorruptMessage
            }
        }
    }
}

/// What a produce's record set came to in the log's format.
#[derive(Debug)]
pub(super) struct LogBatches {
    pub bytes: Vec<u8>,
    pub records: u64,
    pub payload_bytes: u64,
}

/// Decodes (and decompresses, checking each CRC) the Kafka batches of one partition's produce and
/// encodes each as a log batch. The records may decompress to at most `max_bytes` in all.
pub(super) fn to_log_batches(
    mut kafka: Bytes,
    max_bytes: usize,
) -> Result<LogBatches, RecordsError> {
    let bounded = BoundedDecompressor::new(max_bytes);
    let mut sets = Vec::new();
    while kafka.has_remaining() {
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut kafka,
            Some(|records: &mut Bytes, compression| bounded.decompress(records, compression)),
        )
        .map_err(|e| {
            if bounded.exceeded() {
                RecordsError::TooLarge(e.to_string())
            } else {
                RecordsError::Malformed(e.to_string())
            }
        })?;
        sets.push(set);
    }
    let mut out = LogBatches {
        bytes: Vec::new(),
        records: 0,
        payload_bytes: 0,
    };
    for set in sets {
        let Some(first) = set.records.first() else {
            return Err(RecordsError::Empty);
        };
        let mut builder = BatchBuilder::with_capacity(64);
        if first.producer_id >= 0 {
            builder.set_producer(first.producer_id, first.producer_epoch, first.sequence);
        }
        for record in &set.records {
            let headers: Vec<(&str, &[u8])> = record
                .headers
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_deref().unwrap_or(&[])))
                .collect();
            let value = record.value.as_deref();
            out.payload_bytes +=
                (value.map_or(0, <[u8]>::len) + record.key.as_ref().map_or(0, Bytes::len)) as u64;
            builder.push(&RecordInput {
                id: Uuid::now_v7(),
                timestamp: record.timestamp,
                key: record.key.as_deref(),
                value,
                headers: &headers,
            });
        }
        out.records += u64::from(builder.record_count());
        out.bytes.extend_from_slice(&builder.finish());
    }
    Ok(out)
}

/// What a fetch read, as Kafka batches.
#[derive(Debug, Default)]
pub(super) struct KafkaBatches {
    pub bytes: Bytes,
    pub records: u64,
    pub payload_bytes: u64,
}

/// Encodes the records of `stored` (log batches back to back) at or after `from` and below
/// `visible_end` as Kafka batches, one per stored batch.
pub(super) fn to_kafka_batches(
    stored: &Bytes,
    from: u64,
    visible_end: u64,
) -> Result<KafkaBatches, String> {
    // Kafka's records are smaller than ours (no 16-byte id): one allocation holds them all.
    let mut out = BytesMut::with_capacity(stored.len());
    let (mut count, mut payload) = (0u64, 0u64);
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    let mut records = Vec::new();
    for batch in BatchIter::new(stored) {
        let batch = batch.map_err(|e| format!("corrupt stored batch: {e}"))?;
        let header = batch.header;
        records.clear();
        for record in batch.records() {
            let record = record.map_err(|e| format!("corrupt stored record: {e}"))?;
            if record.offset < from {
                continue;
            }
            if record.offset >= visible_end {
                break;
            }
            let delta = record.offset.wrapping_sub(header.base_offset) as i32;
            // Without a producer the sequence is -1 at the batch's first record, so that the
            // encoder keeps the records in one batch and writes base sequence -1.
            let sequence = header.base_sequence.wrapping_add(delta);
            let headers: IndexMap<StrBytes, Option<Bytes>> = record
                .headers()
                .map(|h| {
                    let key = Bytes::copy_from_slice(h.key.as_bytes());
                    (
                        // The key was checked to be UTF-8 when the record was read.
                        StrBytes::from_utf8(key).unwrap_or_default(),
                        Some(stored.slice_ref(h.value)),
                    )
                })
                .collect();
            payload += record.payload_len() as u64;
            records.push(Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: header.leader_epoch as i32,
                producer_id: header.producer_id,
                producer_epoch: header.producer_epoch,
                timestamp_type: TimestampType::Creation,
                offset: record.offset as i64,
                sequence: if header.producer_id >= 0 {
                    sequence
                } else {
                    (-1i32).wrapping_add(delta)
                },
                timestamp: record.timestamp,
                key: record.key.map(|k| stored.slice_ref(k)),
                value: record.value_or_null().map(|v| stored.slice_ref(v)),
                headers,
            });
        }
        if records.is_empty() {
            continue;
        }
        count += records.len() as u64;
        RecordBatchEncoder::encode(&mut out, records.iter(), &options)
            .map_err(|e| format!("cannot encode a Kafka batch: {e}"))?;
    }
    Ok(KafkaBatches {
        bytes: out.freeze(),
        records: count,
        payload_bytes: payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_wire::batch::patch_leader_fields;

    fn kafka_record(offset: i64, key: Option<&str>, value: &str) -> Record {
        let mut headers = IndexMap::new();
        headers.insert(
            StrBytes::from_static_str("trace"),
            Some(Bytes::from_static(b"t-1")),
        );
        Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: 7,
            producer_epoch: 0,
            timestamp_type: TimestampType::Creation,
            offset,
            sequence: 10 + offset as i32,
            timestamp: 1_700_000_000_000 + offset,
            key: key.map(|k| Bytes::copy_from_slice(k.as_bytes())),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers,
        }
    }

    fn encode(records: &[Record], compression: Compression) -> Bytes {
        let mut out = BytesMut::new();
        let options = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut out, records.iter(), &options).unwrap();
        out.freeze()
    }

    #[test]
    fn a_kafka_batch_comes_back_as_it_went_in_with_the_log_offsets() {
        for compression in [
            Compression::None,
            Compression::Gzip,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
        ] {
            let sent = vec![
                kafka_record(0, Some("k1"), "one"),
                kafka_record(1, None, "two"),
                kafka_record(2, Some("k1"), "three"),
            ];
            let mut stored = to_log_batches(encode(&sent, compression), 1 << 20).unwrap();
            assert_eq!(stored.records, 3);
            patch_leader_fields(&mut stored.bytes, 40, 3);
            let fetched = to_kafka_batches(&Bytes::from(stored.bytes), 41, u64::MAX).unwrap();
            assert_eq!(fetched.records, 2);
            let mut fetched = fetched.bytes;
            let got = RecordBatchDecoder::decode_all(&mut fetched).unwrap();
            let got: Vec<&Record> = got.iter().flat_map(|s| &s.records).collect();
            assert_eq!(got.len(), 2, "{compression:?}");
            for (got, sent) in got.iter().zip(&sent[1..]) {
                assert_eq!(got.offset, sent.offset + 40);
                assert_eq!(got.key, sent.key);
                assert_eq!(got.value, sent.value);
                assert_eq!(got.headers, sent.headers);
                assert_eq!(got.timestamp, sent.timestamp);
                assert_eq!(got.partition_leader_epoch, 3);
                assert_eq!(got.producer_id, 7);
                assert_eq!(got.sequence, sent.sequence);
            }
        }
    }

    #[test]
    fn records_at_or_past_the_visible_end_are_not_served() {
        let sent: Vec<Record> = (0..5).map(|i| kafka_record(i, None, "v")).collect();
        let stored = to_log_batches(encode(&sent, Compression::None), 1 << 20).unwrap();
        let stored = Bytes::from(stored.bytes);
        let fetched = to_kafka_batches(&stored, 0, 3).unwrap();
        assert_eq!(fetched.records, 3);
        let none = to_kafka_batches(&stored, 3, 3).unwrap();
        assert!(none.bytes.is_empty());
    }

    #[test]
    fn a_batch_with_a_bad_crc_is_refused() {
        let sent = vec![kafka_record(0, None, "v")];
        let mut bytes = encode(&sent, Compression::None).to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        assert!(to_log_batches(Bytes::from(bytes), 1 << 20).is_err());
        assert!(to_log_batches(Bytes::from_static(b"\x00\x01"), 1 << 20).is_err());
    }

    #[test]
    fn records_that_decompress_past_the_budget_are_too_large_not_corrupt() {
        let sent: Vec<Record> = (0..100)
            .map(|i| kafka_record(i, None, "zzzzzzzzzz"))
            .collect();
        let packed = encode(&sent, Compression::Zstd);
        assert!(to_log_batches(packed.clone(), 1 << 20).is_ok());
        let refused = to_log_batches(packed, 512).unwrap_err();
        assert_eq!(
            refused.kafka_error(),
            kafka_protocol::ResponseError::MessageTooLarge
        );
    }
}
