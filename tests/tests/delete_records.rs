//! Deleting a partition's records below an offset over HTTP and with `mqctl topic
//! delete-records`: the log start moves exactly there (inside a batch too), what is below is out of
//! range, what is above stays readable, a fetch from the start returns the first record left, and
//! whole segments below give their memory back.

use mq_e2e::{binary, fetch_all, Mqd};
use serde_json::json;
use std::process::Command;

const SMALL_SEGMENTS: &str = "[log]\nsegment_bytes = \"4KiB\"\n";

fn records_path(topic: &str, partition: u32) -> String {
    format!("/v1/topics/{topic}/partitions/{partition}/records")
}

/// Produces `batches` requests of 10 records of 200 B to partition 0.
fn fill(mqd: &Mqd, topic: &str, batches: usize) {
    for b in 0..batches {
        let records: Vec<_> = (0..10)
            .map(|i| json!({"value": format!("{:04}-{}", b * 10 + i, "d".repeat(195))}))
            .collect();
        let produced = mqd.post(&records_path(topic, 0), &json!({ "records": records }));
        assert_eq!(produced.status, 200, "{:?}", produced.body);
    }
}

#[test]
fn records_below_an_offset_are_deleted_and_the_rest_stay_readable() {
    let mqd = Mqd::start_with_config(SMALL_SEGMENTS);
    mqd.create_topic("purged", 1);
    fill(&mqd, "purged", 20);
    let before = mqd.get("/v1/topics/purged").body["partitions"][0].clone();
    let memory_before = mqd.metric("mq_memory_used_bytes").unwrap();

    // 125 is inside the batch of 120..130.
    let deleted = mqd.delete(&format!("{}?before=125", records_path("purged", 0)));
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(
        deleted.body,
        json!({"topic": "purged", "partition": 0, "log_start": 125})
    );
    let after = mqd.get("/v1/topics/purged").body["partitions"][0].clone();
    assert_eq!(
        (after["log_start"].as_u64(), after["log_end"].as_u64()),
        (Some(125), Some(200))
    );
    assert!(
        after["bytes"].as_u64() < before["bytes"].as_u64(),
        "whole segments below went: {before} -> {after}"
    );
    assert!(mqd.metric("mq_memory_used_bytes").unwrap() < memory_before);

    let below = mqd.get(&format!("{}?offset=124", records_path("purged", 0)));
    assert_eq!(
        (below.status, below.error_code()),
        (416, "offset_out_of_range")
    );
    let left = fetch_all(&mqd, "purged", 0, 125);
    assert_eq!(left.len(), 75);
    assert_eq!(left[0].offset, 125);
    assert!(left[0].value.as_deref().unwrap().starts_with("0125-"));
    // A fetch without an offset starts at the log start, not at the batch holding it.
    let first = mqd.get(&format!("{}?max_records=1", records_path("purged", 0)));
    assert_eq!(first.body["records"][0]["offset"], 125, "{:?}", first.body);
    let earliest = mqd.get("/v1/topics/purged/offsets?at=earliest");
    assert_eq!(
        earliest.body["partitions"][0]["offset"], 125,
        "{:?}",
        earliest.body
    );
    let by_time = mqd.get("/v1/topics/purged/offsets?at=0");
    assert_eq!(
        by_time.body["partitions"][0]["offset"], 125,
        "{:?}",
        by_time.body
    );

    // Errors: past the high watermark, below the start (no change), unknown partition, no offset.
    let past = mqd.delete(&format!("{}?before=201", records_path("purged", 0)));
    assert_eq!(
        (past.status, past.error_code()),
        (416, "offset_out_of_range")
    );
    let again = mqd.delete(&format!("{}?before=3", records_path("purged", 0)));
    assert_eq!(again.body["log_start"], 125, "{:?}", again.body);
    let unknown = mqd.delete(&format!("{}?before=1", records_path("purged", 7)));
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "unknown_partition")
    );
    let missing = mqd.delete(&records_path("purged", 0));
    assert_eq!(
        (missing.status, missing.error_code()),
        (400, "invalid_request")
    );

    // mqctl: up to the end; the partition is empty and offsets go on.
    let output = Command::new(binary("mqctl"))
        .args(["--server", &mqd.base, "topic", "delete-records", "purged"])
        .args(["--partition", "0", "--before", "200", "-o", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(printed["log_start"], 200);
    let produced = mqd.post(
        &records_path("purged", 0),
        &json!({"records": [{"value": "after"}]}),
    );
    assert_eq!(
        produced.body["offsets"][0]["offset"], 200,
        "{:?}",
        produced.body
    );
}
