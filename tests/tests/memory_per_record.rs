//! Bytes stored per record: 200,000 records of 560 bytes produced over HTTP are held in the log at
//! no more than the payload plus 32 bytes each (length, offset and timestamp deltas, the 16-byte id,
//! and the batch header shared by the batch). That is a property of the encoding, so it holds on
//! any host and allocator; the process's resident memory per record depends on both, and is the
//! benchmark's to measure (`mqctl bench fill`, docs/BENCHMARKS.md), not an assertion here.

use mq_e2e::Mqd;

const RECORDS: usize = 200_000;
const VALUE_BYTES: usize = 560;
const PER_REQUEST: usize = 5_000;
const MAX_OVERHEAD_PER_RECORD: f64 = 32.0;

#[test]
fn a_560_byte_record_is_stored_in_at_most_592_bytes() {
    let mqd = Mqd::start_with_config("[limits]\nmemory = \"1GiB\"\n");
    mqd.create_topic("density", 1);
    // One request body, sent again and again: the broker gives every record its own id and offset.
    let value = "v".repeat(VALUE_BYTES);
    let record = format!("{{\"value\":\"{value}\"}}");
    let body = format!("{{\"records\":[{}]}}", vec![record; PER_REQUEST].join(",")).into_bytes();
    let before = mqd.rss_bytes();
    for _ in 0..RECORDS / PER_REQUEST {
        let answer = mqd.post_raw(
            "/v1/topics/density/records",
            "application/json",
            body.clone(),
        );
        assert_eq!(answer.status, 200, "{:?}", answer.body["error"]);
    }
    let described = mqd.get("/v1/topics/density");
    assert_eq!(described.body["partitions"][0]["log_end"], RECORDS as u64);
    let stored_bytes = described.body["partitions"][0]["bytes"].as_u64().unwrap();
    let stored_per_record = stored_bytes as f64 / RECORDS as f64;
    let after = mqd.rss_bytes();
    println!(
        "stored per record: {stored_per_record:.1} B for {VALUE_BYTES} B of payload; \
         (for information only: RSS {before} -> {after} bytes)"
    );
    assert!(
        stored_per_record <= VALUE_BYTES as f64 + MAX_OVERHEAD_PER_RECORD,
        "{stored_per_record:.1} B stored per record of {VALUE_BYTES} B"
    );
}
