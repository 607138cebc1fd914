//! Kafka record batches (v2, any compression) to the log's batches and back.
//!
//! The log stores a Kafka batch byte for byte, compressed or not (its records carry no id), and
//! a fetch serves it as stored: no decoding or re-encoding on either side. A batch mq cannot
//! store so (transactional, a control batch, LogAppendTime, an old message set) is decoded and
//! re-encoded as one log batch in mq's encoding with the same records, timestamps, headers and
//! producer fields, each record given a new id (UUID v7) that Kafka clients do not see. A fetch
//! encodes such a stored batch (and any batch it must cut at the high watermark, inflated first
//! when compressed) as one uncompressed Kafka batch with the stored offsets and leader epoch.
//! Either way the partition's producer window deduplicates Kafka retries as it does mq's.

use crate::broker::IdSequence;
use crate::log::decompress::BoundedDecompressor;
use bytes::{Buf, BufMut, Bytes};
use integer_encoding::VarInt;
use kafka_protocol::records::RecordBatchDecoder;
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput, RecordRef};

/// Why a produced record set was refused (Kafka's `CORRUPT_MESSAGE`).
#[derive(Debug, thiserror::Error)]
pub(super) enum RecordsError {
    #[error("not a valid Kafka record batch: {0}")]
    Malformed(String),
    #[error("a Kafka record batch without records")]
    Empty,
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    TooManyRecords(String),
}

impl RecordsError {
    /// The Kafka error a producer gets for it.
    pub fn kafka_error(&self) -> kafka_protocol::ResponseError {
        match self {
            RecordsError::TooLarge(_) => kafka_protocol::ResponseError::MessageTooLarge,
            RecordsError::TooManyRecords(_) => kafka_protocol::ResponseError::RecordListTooLarge,
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
}

/// Where a Kafka batch header keeps its record count (after base offset, length, leader epoch,
/// magic, CRC, attributes, last offset delta, timestamps and producer fields).
const KAFKA_RECORD_COUNT_AT: usize = 57;

/// Takes the Kafka batches of one partition's produce into the log's form, one batch at a time:
/// a record batch v2 outside transactions, compressed or not, is kept byte for byte (the log
/// stores it as it is; the append validates its CRC and every record, inflating compressed ones
/// within `limits.max_request_bytes`). Any other (a transactional or control batch, an old
/// message set) is decoded, decompressed within `max_bytes`, and re-encoded as a log batch. A
/// batch may declare at most `max_batch_records` records (checked before it is read, so a count
/// of 2^31 costs nothing).
pub(super) fn to_log_batches(
    mut kafka: Bytes,
    max_bytes: usize,
    max_batch_records: u32,
) -> Result<LogBatches, RecordsError> {
    let bounded = BoundedDecompressor::new(max_bytes);
    let mut out = LogBatches {
        bytes: Vec::with_capacity(kafka.len()),
        records: 0,
    };
    while kafka.has_remaining() {
        let declared = kafka
            .get(KAFKA_RECORD_COUNT_AT..KAFKA_RECORD_COUNT_AT + 4)
            .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if let Some(declared) = declared.filter(|&n| n < 0 || n as u32 > max_batch_records) {
            return Err(RecordsError::TooManyRecords(format!(
                "a batch declares {declared} records; limits.max_batch_records is {max_batch_records}"
            )));
        }
        if let Some(len) = stored_as_is(&kafka) {
            let batch = kafka.split_to(len);
            out.records += u64::from(declared.unwrap_or(0) as u32);
            out.bytes.extend_from_slice(&batch);
            continue;
        }
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
        reencode(&set, &mut out)?;
    }
    Ok(out)
}

/// The length of the batch at the start of `kafka` when the log keeps it as it came: a whole
/// record batch v2 whose attributes name at most a codec (CreateTime, not transactional, not a
/// control batch). Its CRC and records are checked by the append.
fn stored_as_is(kafka: &[u8]) -> Option<usize> {
    // Kafka's magic 0 and 1 message sets are other layouts: only a v2 header is read.
    if kafka.get(KAFKA_MAGIC_AT) != Some(&mq_wire::batch::KAFKA_MAGIC) {
        return None;
    }
    let header = mq_wire::batch::BatchHeader::read(kafka).ok()?;
    let len = header.batch_len as usize;
    (header.storable_attributes() && len <= kafka.len()).then_some(len)
}

/// One decoded (decompressed) Kafka batch as a log batch in mq's encoding, each record given a
/// new id.
fn reencode(
    set: &kafka_protocol::records::RecordSet,
    out: &mut LogBatches,
) -> Result<(), RecordsError> {
    let Some(first) = set.records.first() else {
        return Err(RecordsError::Empty);
    };
    let mut builder = BatchBuilder::with_capacity(64);
    let mut ids = IdSequence::new();
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
        builder.push(&RecordInput {
            id: ids.next_id(),
            timestamp: record.timestamp,
            key: record.key.as_deref(),
            value,
            headers: &headers,
        });
    }
    out.records += u64::from(builder.record_count());
    out.bytes.extend_from_slice(&builder.finish());
    Ok(())
}

/// What a fetch read, as Kafka batches.
#[derive(Debug, Default)]
pub(super) struct KafkaBatches {
    pub bytes: Bytes,
    pub records: u64,
    pub payload_bytes: u64,
}

/// The records of `stored` (log batches back to back) at or after `from` and below `visible_end`
/// as Kafka batches, one per stored batch. A Kafka batch stored as it came goes out as it is
/// when it ends within `visible_end` (a consumer skips records below the offset it asked for, as
/// it does with Kafka's own compressed batches). Any other is encoded: uncompressed,
/// `CreateTime`, with the stored offsets, timestamps, leader epoch and producer fields, written
/// straight from the stored records into one buffer (the layout is Kafka's `DefaultRecordBatch`),
/// because this runs for every record a Kafka consumer reads; the tests decode what it writes
/// with `kafka-protocol`.
pub(super) fn to_kafka_batches(
    stored: &Bytes,
    from: u64,
    visible_end: u64,
) -> Result<KafkaBatches, String> {
    // Kafka's records are smaller than ours (no 16-byte id): one allocation holds them all.
    let mut out = Vec::with_capacity(stored.len());
    let (mut count, mut payload) = (0u64, 0u64);
    for batch in BatchIter::new(stored) {
        let batch = batch.map_err(|e| format!("corrupt stored batch: {e}"))?;
        let header = batch.header;
        if header.is_kafka() && header.next_offset() <= visible_end {
            if header.next_offset() <= from {
                continue;
            }
            if header.compression() != 0 {
                // Offsets in a batch are dense; the payload counted is the compressed bytes.
                count += header.next_offset() - header.base_offset.max(from);
                payload += batch.record_bytes().len() as u64;
            } else {
                for record in batch.records() {
                    let record = record.map_err(|e| format!("corrupt stored record: {e}"))?;
                    if record.offset >= from {
                        count += 1;
                        payload += record.payload_len() as u64;
                    }
                }
            }
            out.extend_from_slice(batch.as_bytes());
            continue;
        }
        // A compressed batch cut at the high watermark is encoded from its records inflated.
        let inflated;
        let batch = if header.compression() != 0 {
            inflated = crate::log::inflate_stored_batch(&batch).map_err(|e| e.to_string())?;
            mq_wire::batch::BatchView::parse(&inflated)
                .map_err(|e| format!("corrupt stored batch: {e}"))?
                .0
        } else {
            batch
        };
        let start = out.len();
        out.resize(start + KAFKA_BATCH_HEADER_LEN, 0);
        let mut first: Option<(u64, i64)> = None;
        let (mut last_offset, mut max_timestamp, mut records) = (0u64, i64::MIN, 0i32);
        for record in batch.records() {
            let record = record.map_err(|e| format!("corrupt stored record: {e}"))?;
            if record.offset < from {
                continue;
            }
            if record.offset >= visible_end {
                break;
            }
            let (base_offset, base_timestamp) =
                *first.get_or_insert((record.offset, record.timestamp));
            put_kafka_record(
                &mut out,
                &record,
                record.offset.wrapping_sub(base_offset) as i32,
                record.timestamp.wrapping_sub(base_timestamp),
            );
            last_offset = record.offset;
            max_timestamp = max_timestamp.max(record.timestamp);
            records += 1;
            payload += record.payload_len() as u64;
        }
        let Some((base_offset, base_timestamp)) = first else {
            out.truncate(start);
            continue;
        };
        count += records as u64;
        // Without a producer the base sequence is -1; with one, the sequence of the first record
        // served.
        let base_sequence = if header.producer_id >= 0 {
            header
                .base_sequence
                .wrapping_add(base_offset.wrapping_sub(header.base_offset) as i32)
        } else {
            -1
        };
        let batch_len = (out.len() - start - 12) as i32;
        let mut head = &mut out[start..start + KAFKA_BATCH_HEADER_LEN];
        head.put_i64(base_offset as i64);
        head.put_i32(batch_len);
        head.put_i32(header.leader_epoch as i32);
        head.put_i8(2); // magic
        head.put_u32(0); // the CRC, below
        head.put_i16(0); // attributes: no compression, CreateTime, not transactional
        head.put_i32(last_offset.wrapping_sub(base_offset) as i32);
        head.put_i64(base_timestamp);
        head.put_i64(max_timestamp);
        head.put_i64(header.producer_id);
        head.put_i16(header.producer_epoch);
        head.put_i32(base_sequence);
        head.put_i32(records);
        let crc = crc32c::crc32c(&out[start + KAFKA_CRC_FROM..]);
        out[start + KAFKA_CRC_AT..start + KAFKA_CRC_FROM].copy_from_slice(&crc.to_be_bytes());
    }
    Ok(KafkaBatches {
        bytes: Bytes::from(out),
        records: count,
        payload_bytes: payload,
    })
}

/// Kafka's record batch v2 header: base offset, length, leader epoch, magic, CRC, attributes,
/// last offset delta, base and max timestamps, producer id, epoch and base sequence, count.
const KAFKA_BATCH_HEADER_LEN: usize = 61;
/// Where the CRC sits, and where the bytes it covers begin (attributes to the end).
const KAFKA_CRC_AT: usize = 17;
const KAFKA_CRC_FROM: usize = 21;
const KAFKA_MAGIC_AT: usize = 16;

/// One record in Kafka's v2 encoding: zigzag varints, -1 lengths for a null key or value.
fn put_kafka_record(out: &mut Vec<u8>, record: &RecordRef<'_>, offset_delta: i32, ts_delta: i64) {
    let key_len = record.key.map_or(-1, |k| k.len() as i32);
    let value = record.value_or_null();
    let value_len = value.map_or(-1, |v| v.len() as i32);
    let header_count = record.header_count() as i32;
    let mut body = 1
        + ts_delta.required_space()
        + offset_delta.required_space()
        + key_len.required_space()
        + record.key.map_or(0, <[u8]>::len)
        + value_len.required_space()
        + value.map_or(0, <[u8]>::len)
        + header_count.required_space();
    for h in record.headers() {
        body += (h.key.len() as i32).required_space()
            + h.key.len()
            + (h.value.len() as i32).required_space()
            + h.value.len();
    }
    put_varint(out, body as i32);
    out.push(0); // attributes
    put_varint(out, ts_delta);
    put_varint(out, offset_delta);
    put_varint(out, key_len);
    out.extend_from_slice(record.key.unwrap_or_default());
    put_varint(out, value_len);
    out.extend_from_slice(value.unwrap_or_default());
    put_varint(out, header_count);
    for h in record.headers() {
        put_varint(out, h.key.len() as i32);
        out.extend_from_slice(h.key.as_bytes());
        put_varint(out, h.value.len() as i32);
        out.extend_from_slice(h.value);
    }
}

/// A zigzag varint (`integer-encoding` encodes signed integers so, as Kafka does).
fn put_varint<V: VarInt>(out: &mut Vec<u8>, value: V) {
    let mut buf = [0u8; 10];
    let used = value.encode_var(&mut buf);
    out.extend_from_slice(&buf[..used]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;
    use kafka_protocol::indexmap::IndexMap;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::records::{
        Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
    };
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
        for compression in crate::log::decompress::EVERY_COMPRESSION {
            let sent = vec![
                kafka_record(0, Some("k1"), "one"),
                kafka_record(1, None, "two"),
                kafka_record(2, Some("k1"), "three"),
            ];
            let mut stored = to_log_batches(encode(&sent, compression), 1 << 20, 1000).unwrap();
            assert_eq!(stored.records, 3);
            patch_leader_fields(&mut stored.bytes, 40, 3);
            let fetched = to_kafka_batches(&Bytes::from(stored.bytes), 41, u64::MAX).unwrap();
            assert_eq!(fetched.records, 2);
            let mut fetched = fetched.bytes;
            let got = RecordBatchDecoder::decode_all(&mut fetched).unwrap();
            // An uncompressed batch is served whole, as Kafka serves a compressed one: the
            // client skips what is below the offset it asked for.
            let got: Vec<&Record> = got
                .iter()
                .flat_map(|s| &s.records)
                .filter(|r| r.offset >= 41)
                .collect();
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
    fn null_and_empty_fields_backward_timestamps_and_batches_without_a_producer_are_served_exactly()
    {
        let mut sent: Vec<Record> = (0..4).map(|i| kafka_record(i, Some("k"), "v")).collect();
        for record in &mut sent {
            record.producer_id = -1;
            record.producer_epoch = -1;
            // What the encoder needs to keep records in one batch without a producer; it
            // writes base sequence -1.
            record.sequence = (-1i32).wrapping_add(record.offset as i32);
        }
        sent[1].value = None;
        sent[1].key = None;
        sent[2].value = Some(Bytes::new());
        sent[2].headers.clear();
        sent[2].timestamp = 5; // before the batch's first record
        sent[3]
            .headers
            .insert(StrBytes::from_static_str("empty"), Some(Bytes::new()));
        let stored = to_log_batches(encode(&sent, Compression::None), 1 << 20, 1000).unwrap();
        let second = to_log_batches(encode(&sent[..2], Compression::None), 1 << 20, 1000).unwrap();
        let mut both = stored.bytes.clone();
        let mut next = second.bytes.clone();
        patch_leader_fields(&mut next, 4, 0);
        both.extend_from_slice(&next);
        let fetched = to_kafka_batches(&Bytes::from(both), 0, u64::MAX).unwrap();
        assert_eq!(fetched.records, 6);
        let mut bytes = fetched.bytes;
        let sets = RecordBatchDecoder::decode_all(&mut bytes).unwrap();
        assert_eq!(sets.len(), 2);
        let got: Vec<&Record> = sets.iter().flat_map(|s| &s.records).collect();
        let expected = sent.iter().chain(&sent[..2]);
        for (at, (got, sent)) in got.iter().zip(expected).enumerate() {
            assert_eq!(got.offset, at as i64);
            assert_eq!(got.producer_id, -1);
            assert_eq!(got.key, sent.key, "{at}");
            assert_eq!(got.value, sent.value, "{at}");
            assert_eq!(got.timestamp, sent.timestamp, "{at}");
            assert_eq!(got.headers, sent.headers, "{at}");
        }
    }

    #[test]
    fn records_at_or_past_the_visible_end_are_not_served() {
        let sent: Vec<Record> = (0..5).map(|i| kafka_record(i, None, "v")).collect();
        let stored = to_log_batches(encode(&sent, Compression::None), 1 << 20, 1000).unwrap();
        let stored = Bytes::from(stored.bytes);
        let fetched = to_kafka_batches(&stored, 0, 3).unwrap();
        assert_eq!(fetched.records, 3);
        let none = to_kafka_batches(&stored, 3, 3).unwrap();
        assert!(none.bytes.is_empty());
    }

    #[test]
    fn a_batch_with_a_bad_crc_is_kept_for_the_append_to_refuse() {
        let sent = vec![kafka_record(0, None, "v")];
        for compression in [Compression::None, Compression::Lz4] {
            let mut bytes = encode(&sent, compression).to_vec();
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            let kept = to_log_batches(Bytes::from(bytes.clone()), 1 << 20, 1000).unwrap();
            assert_eq!(kept.bytes, bytes, "stored byte for byte");
            let (view, _) = mq_wire::batch::BatchView::parse(&kept.bytes).unwrap();
            assert!(matches!(
                view.validate(),
                Err(mq_wire::batch::BatchError::BadCrc { .. })
            ));
        }
        assert!(to_log_batches(Bytes::from_static(b"\x00\x01"), 1 << 20, 1000).is_err());
    }

    #[test]
    fn an_uncompressed_batch_is_stored_and_served_byte_for_byte() {
        let sent: Vec<Record> = (0..3).map(|i| kafka_record(i, Some("k"), "v")).collect();
        let produced = encode(&sent, Compression::None);
        let mut stored = to_log_batches(produced.clone(), 1 << 20, 1000).unwrap();
        assert_eq!(stored.bytes, produced.to_vec());
        assert_eq!(stored.records, 3);
        patch_leader_fields(&mut stored.bytes, 100, 7);
        let (view, _) = mq_wire::batch::BatchView::parse(&stored.bytes).unwrap();
        view.validate().unwrap();
        assert_eq!(view.header.base_offset, 100);
        assert_eq!(view.header.leader_epoch, 7);
        let records: Vec<_> = view.records().map(Result::unwrap).collect();
        assert_eq!(records[2].offset, 102);
        assert_eq!(records[2].key, Some(&b"k"[..]));
        assert_eq!(records[2].id, None);
        assert_eq!(records[2].headers().next().unwrap().value, b"t-1");
        let stored = Bytes::from(stored.bytes);
        let served = to_kafka_batches(&stored, 101, 103).unwrap();
        assert_eq!(served.bytes, stored, "served as stored");
        assert_eq!((served.records, served.payload_bytes), (2, 4));
    }

    #[test]
    fn a_transactional_batch_is_decoded_within_the_budget_and_too_large_past_it() {
        // Not stored as it came (mq does not serve transactions): decoded, so the budget
        // applies here.
        let sent: Vec<Record> = (0..100)
            .map(|i| {
                let mut record = kafka_record(i, None, "zzzzzzzzzz");
                record.transactional = true;
                record
            })
            .collect();
        let packed = encode(&sent, Compression::Zstd);
        let decoded = to_log_batches(packed.clone(), 1 << 20, 1000).unwrap();
        assert_eq!(decoded.records, 100);
        assert_ne!(decoded.bytes[16], mq_wire::batch::KAFKA_MAGIC, "re-encoded");
        let refused = to_log_batches(packed.clone(), 512, 1000).unwrap_err();
        assert_eq!(
            refused.kafka_error(),
            kafka_protocol::ResponseError::MessageTooLarge
        );
    }

    #[test]
    fn a_batch_declaring_more_records_than_a_batch_may_hold_is_refused_before_decoding() {
        let sent: Vec<Record> = (0..100).map(|i| kafka_record(i, None, "v")).collect();
        let packed = encode(&sent, Compression::Zstd);
        let refused = to_log_batches(packed.clone(), 1 << 20, 99).unwrap_err();
        assert_eq!(
            refused.kafka_error(),
            kafka_protocol::ResponseError::RecordListTooLarge
        );
        // A count of 2^31 - 1 is refused on the count alone, before the CRC or any allocation.
        let mut lying = packed.to_vec();
        lying[KAFKA_RECORD_COUNT_AT..KAFKA_RECORD_COUNT_AT + 4]
            .copy_from_slice(&i32::MAX.to_be_bytes());
        let refused = to_log_batches(Bytes::from(lying), 1 << 20, 100_000).unwrap_err();
        assert!(
            matches!(refused, RecordsError::TooManyRecords(_)),
            "{refused}"
        );
    }
}
