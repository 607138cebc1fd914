//! Retention evicts whole old segments, by age and by size, and the log start moves up; an
//! altered retention applies to a live topic.

use mq_e2e::{eventually, fetch_all, now_ms, Mqd};
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
    let now = now_ms();
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

/// Retention altered on a live topic applies at the next pass: a topic created to keep everything
/// holds its segments until `PATCH /v1/topics/{topic}/config` gives it a byte limit; the log start
/// then moves up, and the records past the limit stay readable.
#[test]
fn an_altered_retention_applies_to_a_live_topic() {
    let mqd = Mqd::start_with_config(SMALL_SEGMENTS);
    let created = mqd.post(
        "/v1/topics",
        &json!({"name": "kept", "partitions": 1, "retention_ms": 0, "retention_bytes": 0}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    for _ in 0..40 {
        let records: Vec<_> = (0..10).map(|_| json!({"value": "k".repeat(200)})).collect();
        let produced = mqd.post("/v1/topics/kept/records", &json!({ "records": records }));
        assert_eq!(produced.status, 200, "{:?}", produced.body);
    }
    let before = describe_partition(&mqd, "kept");
    assert_eq!(before["log_start"], 0);
    assert!(before["bytes"].as_u64().unwrap() > 3 * 16384, "{before}");

    let altered = mqd.patch("/v1/topics/kept/config", &json!({"retention_bytes": 16384}));
    assert_eq!(altered.status, 200, "{:?}", altered.body);
    assert_eq!(altered.body["config"]["retention_bytes"], 16384);
    assert_eq!(altered.body["config"]["retention_ms"], 0, "not named: kept");
    let partition = eventually(
        Duration::from_secs(10),
        "segments past the new byte limit to be evicted",
        || {
            let p = describe_partition(&mqd, "kept");
            (p["log_start"].as_u64().unwrap() > 0).then_some(p)
        },
    );
    assert!(
        partition["bytes"].as_u64().unwrap() <= 16384 + 4096,
        "{partition}"
    );
    assert_eq!(partition["log_end"], 400);
    let log_start = partition["log_start"].as_u64().unwrap();
    assert_eq!(
        fetch_all(&mqd, "kept", 0, log_start).len() as u64,
        400 - log_start
    );
    assert_eq!(
        mqd.get("/v1/topics/kept").body["config"]["retention_bytes"],
        16384
    );
}
