//! Fuzz targets for the batch decoder, run as property tests: arbitrary bytes, valid batches with
//! mutations (flipped bytes, cuts, splices, rewritten length and count fields), and random record
//! bytes under a header whose CRC is right (so decoding reaches the records). None may panic; a
//! batch that validates must decode consistently (its records match its header and build again
//! into a batch that decodes to the same records).

use super::header::{BatchHeader, CRC_FROM};
use super::tests::{build, OwnedRecord};
use super::*;
use proptest::prelude::*;

/// A batch's records with their offsets.
fn decode_all(batch: &BatchView<'_>) -> Result<Vec<(u64, OwnedRecord)>, BatchError> {
    batch
        .records()
        .map(|record| {
            record.map(|r| {
                let owned = OwnedRecord {
                    // Kafka's records carry none.
                    id: r.id.map_or([0; 16], |id| *id.as_bytes()),
                    timestamp: r.timestamp,
                    key: r.key.map(<[u8]>::to_vec),
                    value: r.value.to_vec(),
                    headers: r
                        .headers()
                        .map(|h| (h.key.to_owned(), h.value.to_vec()))
                        .collect(),
                };
                (r.offset, owned)
            })
        })
        .collect()
}

/// Everything a reader can do with untrusted bytes; checks what must hold for batches that
/// validate.
fn read_everything(bytes: &[u8]) -> Result<(), TestCaseError> {
    for batch in BatchIter::new(bytes) {
        let Ok(batch) = batch else { break };
        for record in batch.records().flatten() {
            let _ = (
                record.headers().count(),
                record.header_count(),
                record.payload_len(),
            );
        }
        if batch.validate().is_ok() {
            check_consistent(&batch)?;
        }
    }
    for (from, high_watermark, max) in [(0, u64::MAX, u64::MAX), (3, 5, 1), (u64::MAX, 0, 0)] {
        let visible = visible_prefix(bytes, from, high_watermark, max);
        prop_assert!(visible.len <= bytes.len());
    }
    let _ = crate::binary::decode_frames(bytes);
    Ok(())
}

/// A batch that validated: its records agree with its header, and building them again gives a
/// batch that validates and decodes to the same records.
fn check_consistent(batch: &BatchView<'_>) -> Result<(), TestCaseError> {
    let records = decode_all(batch).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let header = batch.header;
    prop_assert_eq!(records.len(), header.record_count as usize);
    for (i, (offset, _)) in records.iter().enumerate() {
        prop_assert_eq!(*offset, header.base_offset.wrapping_add(i as u64));
    }
    if let Some(max) = records.iter().map(|(_, r)| r.timestamp).max() {
        prop_assert_eq!(max, header.max_timestamp);
    }
    prop_assert_eq!(decode_all(batch).unwrap(), records.clone());
    if records.is_empty() || batch.header.is_kafka() {
        return Ok(());
    }
    let owned: Vec<OwnedRecord> = records.iter().map(|(_, r)| r.clone()).collect();
    let mut rebuilt = build(&owned);
    patch_leader_fields(&mut rebuilt, header.base_offset, header.leader_epoch);
    let (again, rest) =
        BatchView::parse(&rebuilt).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(rest.is_empty());
    prop_assert!(again.validate().is_ok());
    prop_assert_eq!(decode_all(&again).unwrap(), records);
    Ok(())
}

fn record() -> impl Strategy<Value = OwnedRecord> {
    (
        any::<u128>(),
        prop_oneof![any::<i64>(), 0i64..4_000_000_000_000],
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..24)),
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(
            (".{0,6}", proptest::collection::vec(any::<u8>(), 0..8)),
            0..3,
        ),
    )
        .prop_map(|(id, timestamp, key, value, headers)| OwnedRecord {
            timestamp,
            id: id.to_be_bytes(),
            key,
            value,
            headers,
        })
}

/// One way to damage a valid body.
#[derive(Debug, Clone)]
enum Mutation {
    Flip {
        at: usize,
        mask: u8,
    },
    Cut {
        at: usize,
    },
    Insert {
        at: usize,
        bytes: Vec<u8>,
    },
    Remove {
        at: usize,
        len: usize,
    },
    /// Overwrite a header field (batch_len, record_count, last_offset_delta, …) and fix the CRC,
    /// so the lie reaches the record checks.
    Field {
        at: usize,
        value: u32,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        any::<usize>().prop_map(|at| Mutation::Cut { at }),
        (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..8))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (any::<usize>(), 1usize..8).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (
            prop_oneof![Just(8usize), Just(23), Just(57), Just(61), 21usize..61],
            prop_oneof![any::<u32>(), 0u32..4, Just(u32::MAX)]
        )
            .prop_map(|(at, value)| Mutation::Field { at, value }),
    ]
}

fn mutate(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len().max(1);
    match mutation {
        Mutation::Flip { at, mask } => {
            if !bytes.is_empty() {
                bytes[at % len] ^= mask;
            }
        }
        Mutation::Cut { at } => bytes.truncate(at % (bytes.len() + 1)),
        Mutation::Insert { at, bytes: new } => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, new.iter().copied());
        }
        Mutation::Remove { at, len: n } => {
            let at = at % len;
            let end = (at + n).min(bytes.len());
            if at < end {
                bytes.drain(at..end);
            }
        }
        Mutation::Field { at, value } => {
            if bytes.len() >= at + 4 && bytes.len() >= HEADER_LEN {
                bytes[*at..at + 4].copy_from_slice(&value.to_le_bytes());
                let end = (BatchHeader::read(bytes).map_or(0, |h| h.batch_len as usize))
                    .clamp(CRC_FROM, bytes.len());
                let crc = crc32c::crc32c(&bytes[CRC_FROM..end]);
                bytes[17..21].copy_from_slice(&crc.to_le_bytes());
            }
        }
    }
}

/// A header with a right CRC over `records`, which may be anything.
fn framed(records: &[u8], count: u32, base_timestamp: i64, max_timestamp: i64) -> Vec<u8> {
    let mut bytes = vec![0u8; HEADER_LEN];
    bytes.extend_from_slice(records);
    let header = BatchHeader {
        base_offset: 0,
        batch_len: bytes.len() as u32,
        leader_epoch: 0,
        magic: MAGIC,
        crc: 0,
        attributes: 0,
        last_offset_delta: count.saturating_sub(1),
        base_timestamp,
        max_timestamp,
        producer_id: -1,
        producer_epoch: -1,
        base_sequence: -1,
        record_count: count,
    };
    header.write(&mut bytes);
    let crc = crc32c::crc32c(&bytes[CRC_FROM..]);
    bytes[17..21].copy_from_slice(&crc.to_le_bytes());
    bytes
}

/// [`framed`] as a Kafka record batch v2: big-endian, its length not counting the first 12 bytes.
fn kafka_framed(records: &[u8], count: u32, base_timestamp: i64, max_timestamp: i64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + records.len());
    bytes.extend_from_slice(&0u64.to_be_bytes());
    bytes.extend_from_slice(&((HEADER_LEN + records.len() - 12) as u32).to_be_bytes());
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.push(KAFKA_MAGIC);
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&0u16.to_be_bytes());
    bytes.extend_from_slice(&count.saturating_sub(1).to_be_bytes());
    bytes.extend_from_slice(&base_timestamp.to_be_bytes());
    bytes.extend_from_slice(&max_timestamp.to_be_bytes());
    bytes.extend_from_slice(&(-1i64).to_be_bytes());
    bytes.extend_from_slice(&(-1i16).to_be_bytes());
    bytes.extend_from_slice(&(-1i32).to_be_bytes());
    bytes.extend_from_slice(&count.to_be_bytes());
    bytes.extend_from_slice(records);
    let crc = crc32c::crc32c(&bytes[CRC_FROM..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn kafka_batches_with_random_records_under_a_right_crc_never_panic(
        records in proptest::collection::vec(any::<u8>(), 0..200),
        count in prop_oneof![0u32..4, any::<u32>()],
        base_timestamp in any::<i64>(),
        max_timestamp in any::<i64>(),
        mutations in proptest::collection::vec(mutation(), 0..3),
    ) {
        let mut body = kafka_framed(&records, count, base_timestamp, max_timestamp);
        read_everything(&body)?;
        for mutation in &mutations {
            mutate(&mut body, mutation);
        }
        read_everything(&body)?;
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        read_everything(&bytes)?;
    }

    #[test]
    fn valid_batches_round_trip(
        batches in proptest::collection::vec(proptest::collection::vec(record(), 1..6), 1..4),
        base in any::<u64>(),
    ) {
        let mut body = Vec::new();
        let mut next = base;
        for records in &batches {
            let mut bytes = build(records);
            patch_leader_fields(&mut bytes, next, 7);
            next = next.wrapping_add(records.len() as u64);
            body.extend_from_slice(&bytes);
        }
        let decoded: Vec<_> = BatchIter::new(&body).collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(decoded.len(), batches.len());
        for (batch, records) in decoded.iter().zip(&batches) {
            prop_assert!(batch.validate().is_ok());
            let got: Vec<OwnedRecord> =
                decode_all(batch).unwrap().into_iter().map(|(_, r)| r).collect();
            prop_assert_eq!(&got, records);
            check_consistent(batch)?;
        }
    }

    #[test]
    fn mutated_batches_are_refused_or_consistent(
        records in proptest::collection::vec(record(), 1..6),
        second in proptest::collection::vec(record(), 0..3),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let mut body = build(&records);
        if !second.is_empty() {
            body.extend_from_slice(&build(&second));
        }
        for mutation in &mutations {
            mutate(&mut body, mutation);
        }
        read_everything(&body)?;
    }

    #[test]
    fn random_records_under_a_right_crc_never_panic(
        records in proptest::collection::vec(any::<u8>(), 0..200),
        count in prop_oneof![0u32..4, any::<u32>()],
        base_timestamp in any::<i64>(),
        max_timestamp in any::<i64>(),
    ) {
        read_everything(&framed(&records, count, base_timestamp, max_timestamp))?;
    }
}
