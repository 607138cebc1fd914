//! Fuzz target for the binary produce path, run as a property test: bodies of valid record batches,
//! mutated (flipped bytes, cuts, splices) or not, posted as `application/vnd.mq.batch` through the
//! whole router. The answer is never a 5xx: either 200, and then a fetch returns exactly the
//! records the body's batches hold, or a 4xx with nothing appended.

use super::router;
use super::testing::{call, state};
use axum::http::StatusCode;
use mq_wire::api::{CreateTopicRequest, FetchResponse};
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput};
use proptest::prelude::*;
use uuid::Uuid;

const PRODUCE: &str = "/v1/topics/t/partitions/0/records";

type Record = (Option<Vec<u8>>, Vec<u8>, i64);

fn batch(records: &[Record], producer: Option<(i64, i32)>) -> Vec<u8> {
    let mut builder = BatchBuilder::default();
    if let Some((id, sequence)) = producer {
        builder.set_producer(id, 0, sequence);
    }
    for (i, (key, value, timestamp)) in records.iter().enumerate() {
        builder.push(&RecordInput {
            id: Uuid::from_u128(i as u128 + 1),
            timestamp: *timestamp,
            key: key.as_deref(),
            value: Some(value),
            headers: &[("h", b"v")],
        });
    }
    builder.finish()
}

/// The (key, value, timestamp) of every record a body appends, if every batch of it decodes: an
/// idempotent producer's batch repeated in the same body is acknowledged, not appended again.
fn records_of(body: &[u8]) -> Option<Vec<Record>> {
    let mut records = Vec::new();
    let mut seen = Vec::new();
    for batch in BatchIter::new(body) {
        let batch = batch.ok()?;
        let header = batch.header;
        let identity = (
            header.producer_id,
            header.producer_epoch,
            header.base_sequence,
        );
        if header.producer_id >= 0 {
            if seen.contains(&identity) {
                continue;
            }
            seen.push(identity);
        }
        for record in batch.records() {
            let record = record.ok()?;
            records.push((
                record.key.map(<[u8]>::to_vec),
                record.value.to_vec(),
                record.timestamp,
            ));
        }
    }
    Some(records)
}

fn record() -> impl Strategy<Value = Record> {
    (
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..8)),
        proptest::collection::vec(any::<u8>(), 0..32),
        prop_oneof![any::<i64>(), 0i64..2_000_000_000_000],
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn binary_produce_answers_4xx_or_appends_exactly_the_body(
        batches in proptest::collection::vec(
            (proptest::collection::vec(record(), 1..4), proptest::option::of((0i64..3, 0i32..3))),
            1..3,
        ),
        flips in proptest::collection::vec((any::<usize>(), 0u8..=255), 0..3),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let mut body: Vec<u8> = batches.iter().flat_map(|(records, producer)| batch(records, *producer)).collect();
        for (at, mask) in flips {
            let at = at % body.len();
            body[at] ^= mask;
        }
        if let Some(cut) = cut {
            body.truncate(cut % (body.len() + 1));
        }
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let state = state();
        state.broker.create_topic(&CreateTopicRequest { name: "t".to_owned(), ..Default::default() }).unwrap();
        let router = router(state);
        let (status, answer) = runtime.block_on(call(&router, "post", PRODUCE, mq_wire::binary::BATCH_CONTENT_TYPE, body.clone()));
        prop_assert!(!status.is_server_error(), "{} {}", status, String::from_utf8_lossy(&answer));
        let (_, fetched) = runtime.block_on(call(&router, "get", PRODUCE, "application/json", Vec::new()));
        let fetched: FetchResponse = serde_json::from_slice(&fetched).unwrap();
        let stored: Vec<Record> = fetched.records.iter().map(|r| (r.key_bytes(), r.value_bytes(), r.timestamp)).collect();
        if status == StatusCode::OK {
            prop_assert_eq!(&stored, &records_of(&body).expect("an accepted body decodes"));
        } else {
            prop_assert!(status.is_client_error());
            prop_assert!(stored.is_empty(), "a refused body appended {} records", stored.len());
        }
    }
}
