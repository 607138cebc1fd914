//! The binary batch path over HTTP: produce bodies that are record batches, idempotent resends,
//! corrupt batches refused, fetch answering stored batches with the bounds in headers.

use mq_e2e::Mqd;
use mq_wire::api::BatchProduceResponse;
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput};
use mq_wire::binary::{BATCH_CONTENT_TYPE, HEADER_HIGH_WATERMARK, HEADER_NEXT_OFFSET};
use uuid::Uuid;

fn batch(first: u64, count: u64, producer: Option<(i64, i32)>) -> Vec<u8> {
    let mut builder = BatchBuilder::default();
    if let Some((id, sequence)) = producer {
        builder.set_producer(id, 0, sequence);
    }
    for i in first..first + count {
        let value = format!("value-{i}");
        builder.push(&RecordInput {
            id: Uuid::from_u128(u128::from(i)),
            timestamp: mq_e2e::now_ms(),
            key: None,
            value: Some(value.as_bytes()),
            headers: &[],
        });
    }
    builder.finish()
}

fn produce(mqd: &Mqd, body: Vec<u8>) -> (u16, serde_json::Value) {
    let answer = mqd.post_raw(
        "/v1/topics/bin/partitions/0/records",
        BATCH_CONTENT_TYPE,
        body,
    );
    (answer.status, answer.body)
}

#[test]
fn batches_are_appended_once_and_fetched_as_stored() {
    let mqd = Mqd::start();
    mqd.create_topic("bin", 1);
    let mut two = batch(0, 10, Some((42, 0)));
    two.extend(batch(10, 5, Some((42, 10))));
    let (status, body) = produce(&mqd, two.clone());
    assert_eq!(status, 200, "{body}");
    let answer: BatchProduceResponse = serde_json::from_value(body).unwrap();
    assert_eq!(
        answer
            .batches
            .iter()
            .map(|b| (b.base_offset, b.record_count, b.duplicate))
            .collect::<Vec<_>>(),
        [(0, 10, false), (10, 5, false)]
    );
    // The same batches again (a retry after a lost answer): acknowledged, not appended.
    // A body carrying the same producer batch twice appends it once.
    let mut twice = batch(15, 2, Some((43, 0)));
    twice.extend(batch(15, 2, Some((43, 0))));
    let (_, doubled) = produce(&mqd, twice);
    let doubled: BatchProduceResponse = serde_json::from_value(doubled).unwrap();
    assert_eq!(
        doubled
            .batches
            .iter()
            .map(|b| (b.base_offset, b.duplicate))
            .collect::<Vec<_>>(),
        [(15, false), (15, true)]
    );
    let (_, again) = produce(&mqd, two);
    let again: BatchProduceResponse = serde_json::from_value(again).unwrap();
    assert!(again.batches.iter().all(|b| b.duplicate));
    assert_eq!(again.batches[1].base_offset, 10);
    assert_eq!(
        mqd.get("/v1/topics/bin").body["partitions"][0]["log_end"],
        17
    );

    let response = mqd
        .http()
        .get(mqd.url("/v1/topics/bin/partitions/0/records?offset=12"))
        .header("accept", BATCH_CONTENT_TYPE)
        .send()
        .unwrap();
    assert_eq!(response.headers()["content-type"], BATCH_CONTENT_TYPE);
    assert_eq!(response.headers()[HEADER_HIGH_WATERMARK], "17");
    assert_eq!(response.headers()[HEADER_NEXT_OFFSET], "17");
    let bytes = response.bytes().unwrap();
    let offsets: Vec<u64> = BatchIter::new(&bytes)
        .flat_map(|b| {
            b.unwrap()
                .records()
                .map(|r| r.unwrap().offset)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        offsets,
        (10..17).collect::<Vec<_>>(),
        "the whole batch holding offset 12, and the one after it"
    );
    // The same records through JSON.
    let json = mqd.get("/v1/topics/bin/partitions/0/records?offset=12");
    assert_eq!(json.body["records"][0]["value"], "value-12");
}

#[test]
fn corrupt_or_oversized_batches_are_refused_whole() {
    let mqd = Mqd::start_with_config("[limits]\nmax_batch_records = 20\n");
    mqd.create_topic("bin", 1);
    let mut corrupt = batch(0, 3, None);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 1;
    let mut body = batch(0, 2, None);
    body.extend(corrupt);
    let (status, answer) = produce(&mqd, body);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_batch")),
        "{answer}"
    );
    let (status, answer) = produce(&mqd, b"not a batch at all".to_vec());
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (400, Some("invalid_batch"))
    );
    let (status, answer) = produce(&mqd, batch(0, 21, None));
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (413, Some("too_many_records"))
    );
    assert_eq!(
        mqd.get("/v1/topics/bin").body["partitions"][0]["log_end"],
        0,
        "nothing of a refused body is kept"
    );
    let wrong_type = mqd.post_raw(
        "/v1/topics/bin/partitions/0/records",
        "text/plain",
        b"x".to_vec(),
    );
    assert_eq!(wrong_type.status, 415);
}
