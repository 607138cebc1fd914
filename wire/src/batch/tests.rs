//! Round trips and hostile-input checks for the batch encoding.

use super::*;
use proptest::prelude::*;
use uuid::Uuid;

/// A record with everything owned: what tests build batches from and decode back into (the fuzz
/// targets too).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct OwnedRecord {
    pub(super) id: [u8; 16],
    pub(super) timestamp: i64,
    pub(super) key: Option<Vec<u8>>,
    pub(super) value: Vec<u8>,
    pub(super) headers: Vec<(String, Vec<u8>)>,
}

fn owned_record() -> impl Strategy<Value = OwnedRecord> {
    (
        any::<[u8; 16]>(),
        -1_000_000i64..4_000_000_000_000,
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..40)),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(
            ("[a-z]{0,8}", proptest::collection::vec(any::<u8>(), 0..20)),
            0..3,
        ),
    )
        .prop_map(|(id, timestamp, key, value, headers)| OwnedRecord {
            id,
            timestamp,
            key,
            value,
            headers,
        })
}

pub(super) fn build(records: &[OwnedRecord]) -> Vec<u8> {
    let mut builder = BatchBuilder::default();
    for record in records {
        let headers: Vec<(&str, &[u8])> = record
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_slice()))
            .collect();
        builder.push(&RecordInput {
            id: Uuid::from_bytes(record.id),
            timestamp: record.timestamp,
            key: record.key.as_deref(),
            value: Some(&record.value),
            headers: &headers,
        });
    }
    builder.finish()
}

proptest! {
    #[test]
    fn batches_round_trip(records in proptest::collection::vec(owned_record(), 1..20), base in 0u64..1 << 40, epoch in any::<u32>()) {
        let mut bytes = build(&records);
        patch_leader_fields(&mut bytes, base, epoch);
        let (batch, rest) = BatchView::parse(&bytes).unwrap();
        prop_assert!(rest.is_empty());
        batch.validate().unwrap();
        prop_assert_eq!(batch.header.base_offset, base);
        prop_assert_eq!(batch.header.leader_epoch, epoch);
        prop_assert_eq!(batch.header.record_count as usize, records.len());
        prop_assert_eq!(batch.header.max_timestamp, records.iter().map(|r| r.timestamp).max().unwrap());
        for (i, (decoded, original)) in batch.records().zip(&records).enumerate() {
            let decoded = decoded.unwrap();
            prop_assert_eq!(decoded.offset, base + i as u64);
            prop_assert_eq!(decoded.timestamp, original.timestamp);
            prop_assert_eq!(decoded.id.map(|id| *id.as_bytes()), Some(original.id));
            prop_assert_eq!(decoded.key, original.key.as_deref());
            prop_assert_eq!(decoded.value, original.value.as_slice());
            let headers: Vec<(String, Vec<u8>)> = decoded.headers().map(|h| (h.key.to_owned(), h.value.to_vec())).collect();
            prop_assert_eq!(&headers, &original.headers);
        }
    }

    #[test]
    fn corrupt_bytes_never_panic(records in proptest::collection::vec(owned_record(), 1..5), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8), cut in any::<usize>()) {
        let mut bytes = build(&records);
        for (at, byte) in flips {
            let at = at % bytes.len();
            bytes[at] ^= byte | 1;
        }
        bytes.truncate(cut % (bytes.len() + 1));
        for batch in BatchIter::new(&bytes) {
            let Ok(batch) = batch else { break };
            let _ = batch.validate();
            for record in batch.records().flatten() {
                let _ = record.headers().count();
            }
        }
    }

    #[test]
    fn builder_predicts_record_length(records in proptest::collection::vec(owned_record(), 1..10)) {
        let mut builder = BatchBuilder::default();
        for record in &records {
            let headers: Vec<(&str, &[u8])> = record.headers.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
            let input = RecordInput { id: Uuid::from_bytes(record.id), timestamp: record.timestamp, key: record.key.as_deref(), value: Some(&record.value), headers: &headers };
            let before = builder.len();
            let predicted = builder.record_len(&input);
            builder.push(&input);
            prop_assert_eq!(builder.len() - before, predicted);
        }
    }
}

#[test]
fn a_flipped_payload_byte_fails_the_crc() {
    let records = vec![OwnedRecord {
        id: [7; 16],
        timestamp: 1_700_000_000_000,
        key: Some(b"k".to_vec()),
        value: b"hello".to_vec(),
        headers: vec![],
    }];
    let mut bytes = build(&records);
    let last = bytes.len() - 2;
    bytes[last] ^= 0x40;
    let (batch, _) = BatchView::parse(&bytes).unwrap();
    assert!(matches!(batch.validate(), Err(BatchError::BadCrc { .. })));
}

#[test]
fn a_short_buffer_is_truncated_not_a_panic() {
    let bytes = build(&[OwnedRecord {
        id: [1; 16],
        timestamp: 0,
        key: None,
        value: vec![1, 2, 3],
        headers: vec![],
    }]);
    assert!(matches!(
        BatchView::parse(&bytes[..10]),
        Err(BatchError::Truncated { .. })
    ));
    assert!(matches!(
        BatchView::parse(&bytes[..bytes.len() - 1]),
        Err(BatchError::Truncated { .. })
    ));
}

#[test]
fn overhead_for_a_560_byte_value_is_small() {
    let value = vec![b'x'; 560];
    let records: Vec<OwnedRecord> = (0..1000)
        .map(|i| OwnedRecord {
            id: [i as u8; 16],
            timestamp: 1_700_000_000_000 + i,
            key: None,
            value: value.clone(),
            headers: vec![],
        })
        .collect();
    let bytes = build(&records);
    let per_record = bytes.len() as f64 / 1000.0 - 560.0;
    assert!(per_record < 32.0, "per-record overhead {per_record} bytes");
}

#[test]
fn a_header_max_timestamp_other_than_the_records_is_refused() {
    let mut bytes = build(&[OwnedRecord {
        id: [1; 16],
        timestamp: 5,
        key: None,
        value: vec![1],
        headers: vec![],
    }]);
    // max_timestamp sits at byte 35 and is inside the CRC: rewrite both.
    bytes[35..43].copy_from_slice(&i64::MAX.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_le_bytes());
    let (batch, _) = BatchView::parse(&bytes).unwrap();
    assert!(matches!(
        batch.validate(),
        Err(BatchError::BadRecord { .. })
    ));
}

#[test]
fn offsets_near_the_top_of_u64_wrap_instead_of_panicking() {
    let records: Vec<OwnedRecord> = (0..3)
        .map(|i| OwnedRecord {
            id: [i; 16],
            timestamp: 1,
            key: None,
            value: vec![i],
            headers: vec![],
        })
        .collect();
    let mut bytes = build(&records);
    patch_leader_fields(&mut bytes, u64::MAX - 1, 0);
    let (batch, _) = BatchView::parse(&bytes).unwrap();
    batch.validate().unwrap();
    assert_eq!(batch.header.next_offset(), 1);
}

#[test]
fn a_restamped_batch_carries_the_new_epoch_and_sequence_and_stays_valid() {
    let mut builder = BatchBuilder::default();
    builder.set_producer(7, 0, 40);
    builder.push(&RecordInput {
        id: uuid::Uuid::from_u128(1),
        timestamp: 5,
        key: Some(b"k"),
        value: Some(b"v"),
        headers: &[],
    });
    let mut bytes = builder.finish();
    restamp_producer(&mut bytes, 1, 0);
    let (view, _) = BatchView::parse(&bytes).unwrap();
    view.validate().expect("the CRC was recomputed");
    assert_eq!(
        (
            view.header.producer_id,
            view.header.producer_epoch,
            view.header.base_sequence
        ),
        (7, 1, 0)
    );
}

#[test]
fn a_null_value_stays_apart_from_an_empty_one() {
    let mut builder = BatchBuilder::default();
    for value in [None, Some(&b""[..]), Some(&b"v"[..])] {
        builder.push(&RecordInput {
            id: uuid::Uuid::from_u128(1),
            timestamp: 5,
            key: Some(b"k"),
            value,
            headers: &[("h", b"1")],
        });
    }
    let bytes = builder.finish();
    let (view, _) = BatchView::parse(&bytes).unwrap();
    view.validate().unwrap();
    let values: Vec<Option<Vec<u8>>> = view
        .records()
        .map(|r| r.unwrap().value_or_null().map(<[u8]>::to_vec))
        .collect();
    assert_eq!(values, vec![None, Some(Vec::new()), Some(b"v".to_vec())]);
    let headers: Vec<_> = view.records().map(|r| r.unwrap().header_count()).collect();
    assert_eq!(headers, vec![1, 1, 1]);
}

/// A Kafka record batch v2 as a Kafka producer writes it (uncompressed, no producer): records of
/// (timestamp, key, value, headers), `None` for a null.
#[allow(clippy::type_complexity)]
fn kafka_batch(
    records: &[(i64, Option<&[u8]>, Option<&[u8]>, &[(&str, Option<&[u8]>)])],
) -> Vec<u8> {
    use integer_encoding::VarInt;
    fn varint<V: VarInt>(out: &mut Vec<u8>, v: V) {
        let mut buf = [0u8; 10];
        let n = v.encode_var(&mut buf);
        out.extend_from_slice(&buf[..n]);
    }
    fn field(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
        match bytes {
            Some(b) => {
                varint(out, b.len() as i32);
                out.extend_from_slice(b);
            }
            None => varint(out, -1i32),
        }
    }
    let base_timestamp = records[0].0;
    let mut body = Vec::new();
    for (delta, (timestamp, key, value, headers)) in records.iter().enumerate() {
        let mut record = vec![0u8];
        varint(&mut record, timestamp - base_timestamp);
        varint(&mut record, delta as i32);
        field(&mut record, *key);
        field(&mut record, *value);
        varint(&mut record, headers.len() as i32);
        for (k, v) in *headers {
            field(&mut record, Some(k.as_bytes()));
            field(&mut record, *v);
        }
        varint(&mut body, record.len() as i32);
        body.extend_from_slice(&record);
    }
    let max_timestamp = records.iter().map(|r| r.0).max().unwrap();
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0i64.to_be_bytes());
    bytes.extend_from_slice(&((HEADER_LEN - 12 + body.len()) as i32).to_be_bytes());
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.push(KAFKA_MAGIC);
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&0i16.to_be_bytes());
    bytes.extend_from_slice(&(records.len() as i32 - 1).to_be_bytes());
    bytes.extend_from_slice(&base_timestamp.to_be_bytes());
    bytes.extend_from_slice(&max_timestamp.to_be_bytes());
    bytes.extend_from_slice(&(-1i64).to_be_bytes());
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.extend_from_slice(&(records.len() as i32).to_be_bytes());
    bytes.extend_from_slice(&body);
    let crc = crc32c::crc32c(&bytes[21..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn a_kafka_batch_is_read_in_place_beside_mq_batches() {
    let mut kafka = kafka_batch(&[
        (
            1_000,
            Some(b"k"),
            Some(b"one"),
            &[("trace", Some(b"t")), ("gone", None)],
        ),
        (900, None, None, &[]),
        (1_100, Some(b""), Some(b""), &[]),
    ]);
    patch_leader_fields(&mut kafka, 5, 9);
    let mut mq = build(&[OwnedRecord {
        id: [7; 16],
        timestamp: 2_000,
        key: None,
        value: b"mq".to_vec(),
        headers: vec![],
    }]);
    patch_leader_fields(&mut mq, 8, 9);
    let mut log = kafka.clone();
    log.extend_from_slice(&mq);

    let batches: Vec<BatchView<'_>> = BatchIter::new(&log).map(Result::unwrap).collect();
    assert_eq!(batches.len(), 2);
    let header = batches[0].header;
    assert!(header.is_kafka());
    assert_eq!(header.batch_len as usize, kafka.len());
    assert_eq!((header.base_offset, header.leader_epoch), (5, 9));
    assert_eq!((header.record_count, header.next_offset()), (3, 8));
    assert_eq!(header.max_timestamp, 1_100);
    batches[0].validate().unwrap();
    batches[1].validate().unwrap();
    let records: Vec<RecordRef<'_>> = batches[0].records().map(Result::unwrap).collect();
    assert_eq!(records[0].offset, 5);
    assert_eq!(records[0].id, None);
    assert_eq!(records[0].key, Some(&b"k"[..]));
    assert_eq!(records[0].value_or_null(), Some(&b"one"[..]));
    let headers: Vec<(&str, &[u8])> = records[0].headers().map(|h| (h.key, h.value)).collect();
    assert_eq!(headers, vec![("trace", &b"t"[..]), ("gone", &b""[..])]);
    assert_eq!((records[1].key, records[1].value_or_null()), (None, None));
    assert_eq!(records[1].timestamp, 900);
    assert_eq!(records[2].key, Some(&b""[..]));
    assert_eq!(records[2].value_or_null(), Some(&b""[..]));
    let mq_record = batches[1].records().next().unwrap().unwrap();
    assert_eq!(
        (mq_record.offset, mq_record.id),
        (8, Some(Uuid::from_bytes([7; 16])))
    );

    let visible = visible_prefix(&log, 6, 9, u64::MAX);
    assert_eq!((visible.records, visible.next_offset), (3, 9));
}

#[test]
fn a_kafka_batch_the_log_cannot_read_in_place_or_a_damaged_one_is_refused() {
    let batch = kafka_batch(&[(1, Some(b"k"), Some(b"v"), &[])]);
    let marked = |attributes: u16| {
        let mut marked = batch.clone();
        marked[21..23].copy_from_slice(&attributes.to_be_bytes());
        let crc = crc32c::crc32c(&marked[21..]);
        marked[17..21].copy_from_slice(&crc.to_be_bytes());
        marked
    };
    // Transactional, a control batch, LogAppendTime, a codec Kafka does not define: refused.
    for attributes in [1u16 << 4, 1 << 5, 1 << 3, 5, 1 | 1 << 4] {
        let marked = marked(attributes);
        let (view, _) = BatchView::parse(&marked).unwrap();
        assert_eq!(
            view.validate(),
            Err(BatchError::KafkaAttributes(attributes))
        );
        assert!(view.records().next().unwrap().is_err());
    }
    // Compressed (gzip here): its CRC is checked, its records only once inflated.
    let gzip = marked(1);
    let (view, _) = BatchView::parse(&gzip).unwrap();
    assert_eq!(view.header.compression(), 1);
    assert_eq!(view.validate(), Err(BatchError::Compressed));
    assert!(view.records().next().unwrap().is_err());
    // Inflating gives the batch back with its codec bits cleared (these records were never
    // compressed, so the result is the original batch).
    assert_eq!(view.uncompressed_with(view.record_bytes()).unwrap(), batch);
    let mut damaged = gzip.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let (view, _) = BatchView::parse(&damaged).unwrap();
    assert!(matches!(view.validate(), Err(BatchError::BadCrc { .. })));
    let mut damaged = batch.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let (view, _) = BatchView::parse(&damaged).unwrap();
    assert!(matches!(view.validate(), Err(BatchError::BadCrc { .. })));
    // A record length written in 6 bytes (Kafka's readers take at most 5) is refused.
    let mut overlong = batch.clone();
    let length = overlong[61];
    overlong.splice(61..62, [length | 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
    let total = (overlong.len() - 12) as i32;
    overlong[8..12].copy_from_slice(&total.to_be_bytes());
    let crc = crc32c::crc32c(&overlong[21..]);
    overlong[17..21].copy_from_slice(&crc.to_be_bytes());
    let (view, _) = BatchView::parse(&overlong).unwrap();
    assert!(
        matches!(view.validate(), Err(BatchError::BadRecord { .. })),
        "{:?}",
        view.validate()
    );
    // A negative length is not a length.
    let mut negative = batch;
    negative[8..12].copy_from_slice(&(-5i32).to_be_bytes());
    assert!(matches!(
        BatchView::parse(&negative),
        Err(BatchError::BadLength(_))
    ));
    // A compressed batch in a fetch is counted by its offsets.
    let mut gzip = gzip;
    patch_leader_fields(&mut gzip, 10, 0);
    let visible = visible_prefix(&gzip, 10, 11, u64::MAX);
    assert_eq!((visible.records, visible.next_offset), (1, 11));
}
