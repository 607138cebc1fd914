//! Retention evicts whole old segments, by age and by size, and the log start moves up.

use mq_e2e::{eventually, fetch_all, Mqd};
use serde_json::json;
use std::time::Duration;

const SMALL_SEGMENTS: &str =
    "[log]\nsegment_bytes = \"4KiB\"\nretention_check_interval = \"50ms\"\n";

fn describe_partition(mqd: &Mqd, topic: &str) -> serde_json::Value {
    mqd.get(&format!("/v1/topics/{topic}")).body["partitions"][0].clone()
}

#[test]
fn segments_older_than_the_retention_age_are_evicted() {
    let mqd = Mqd::start_with_config(SMALL_SEGMENTS);
    let created = mqd.post(
        "/v1/topics",
        &json!({"name": "aging", "partitions": 1, "retention_ms": 60_000}),
    );
    assert_eq!(created.status, 201);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // Old records (two hours ago) fill several segments; fresh ones follow.
    for _ in 0..10 {
        let records: Vec<_> = (0..20)
            .map(|_| json!({"value": "o".repeat(100), "timestamp": now - 7_200_000}))
            .collect();
        assert_eq!(
            mqd.post("/v1/topics/aging/records", &json!({ "records": records }))
                .status,
            200
        );
    }
    let fresh: Vec<_> = (0..5)
        .map(|i| json!({"value": format!("fresh-{i}")}))
        .collect();
    mqd.post("/v1/topics/aging/records", &json!({ "records": fresh }));

    // Each old batch (about 2.6 KB) fills a 4 KiB segment of its own; the last old batch shares its
    // segment with the fresh records, so that segment's newest record is fresh and it stays.
    let partition = eventually(
        Duration::from_secs(20),
        "old segments to be evicted",
        || {
            let p = describe_partition(&mqd, "aging");
            (p["log_start"].as_u64().unwrap() >= 180).then_some(p)
        },
    );
    assert_eq!(partition["log_end"], 205);
    let log_start = partition["log_start"].as_u64().unwrap();
    assert!(log_start <= 200, "a segment with fresh records was evicted");
    let kept = fetch_all(&mqd, "aging", 0, log_start);
    let fresh: Vec<_> = kept
        .iter()
        .filter_map(|r| r.value.as_deref())
        .filter(|v| v.starts_with("fresh-"))
        .collect();
    assert_eq!(fresh.len(), 5);
    let gone = mqd.get("/v1/topics/aging/partitions/0/records?offset=0");
    assert_eq!(
        (gone.status, gone.error_code()),
        (416, "offset_out_of_range")
    );
    assert!(mqd.log().contains("retention evicted segments"));
}

#[test]
fn the_oldest_segments_go_once_a_partition_passes_its_byte_limit() {
    let mqd = Mqd::start_with_config(SMALL_SEGMENTS);
    mqd.post(
        "/v1/topics",
        &json!({"name": "sized", "partitions": 1, "retention_bytes": 16384}),
    );
    for _ in 0..40 {
        let records: Vec<_> = (0..10).map(|_| json!({"value": "s".repeat(200)})).collect();
        mqd.post("/v1/topics/sized/records", &json!({ "records": records }));
    }
    let partition = eventually(
        Duration::from_secs(20),
        "the partition to shrink to its limit",
        || {
            let p = describe_partition(&mqd, "sized");
            (p["bytes"].as_u64().unwrap() < 16384 + 4096 + 4096).then_some(p)
        },
    );
    assert!(
        partition["bytes"].as_u64().unwrap() >= 16384,
        "retention keeps at least the limit"
    );
    assert!(partition["log_start"].as_u64().unwrap() > 0);
    assert_eq!(partition["log_end"], 400);
}
