//! The data path over HTTP: produce in batches, fetch back identical and in order, keys keep their
//! order, bytes survive the JSON API, long polls wake on data, offsets by time, dedup by id.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use mq_e2e::{eventually, fetch_all, now_ms, Mqd};
use mq_wire::api::{ProduceResponse, RecordPosition};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn a_hundred_thousand_records_come_back_identical_and_in_key_order() {
    let mqd = Mqd::start();
    mqd.create_topic("events", 6);
    const TOTAL: usize = 100_000;
    const BATCH: usize = 2_000;
    let key_of = |i: usize| format!("user-{}", i % 997);
    let value_of = |i: usize| {
        format!(
            "{{\"seq\":{i},\"key\":\"{}\",\"pad\":\"{}\"}}",
            key_of(i),
            "p".repeat(i % 50)
        )
    };
    let mut produced_at: HashMap<(u32, u64), usize> = HashMap::new();
    for start in (0..TOTAL).step_by(BATCH) {
        let records: Vec<_> = (start..start + BATCH)
            .map(|i| json!({"key": key_of(i), "value": value_of(i), "headers": [{"key": "seq", "value": i.to_string()}]}))
            .collect();
        let answer = mqd.post("/v1/topics/events/records", &json!({ "records": records }));
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        let response: ProduceResponse = serde_json::from_value(answer.body).unwrap();
        assert_eq!(response.offsets.len(), BATCH);
        for (
            i,
            RecordPosition {
                partition,
                offset,
                duplicate,
            },
        ) in (start..).zip(response.offsets)
        {
            assert!(!duplicate);
            assert!(
                produced_at.insert((partition, offset), i).is_none(),
                "two records at {partition}/{offset}"
            );
        }
    }

    let mut fetched = 0;
    let mut partition_of_key: HashMap<String, u32> = HashMap::new();
    for partition in 0..6u32 {
        let records = fetch_all(&mqd, "events", partition, 0);
        let mut last_seq_of_key: HashMap<String, usize> = HashMap::new();
        for (expected_offset, record) in (0u64..).zip(&records) {
            assert_eq!(record.offset, expected_offset, "offsets are dense from 0");
            let i = produced_at[&(partition, record.offset)];
            let key = key_of(i);
            assert_eq!(record.key.as_deref(), Some(key.as_str()));
            assert_eq!(record.value.as_deref(), Some(value_of(i).as_str()));
            assert_eq!(
                record.headers[0].value.as_deref(),
                Some(i.to_string().as_str())
            );
            if let Some(previous) = last_seq_of_key.insert(key.clone(), i) {
                assert!(previous < i, "key {key}: seq {i} after {previous}");
            }
            assert_eq!(
                *partition_of_key.entry(key).or_insert(partition),
                partition,
                "a key in two partitions"
            );
        }
        fetched += records.len();
    }
    assert_eq!(fetched, TOTAL);
    let described = mqd.get("/v1/topics/events");
    let ends: u64 = described.body["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["log_end"].as_u64().unwrap())
        .sum();
    assert_eq!(ends, TOTAL as u64);
}

/// Deterministic pseudo-random bytes, all 256 values likely.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 56) as u8
        })
        .collect()
}

#[test]
fn binary_keys_values_and_headers_round_trip() {
    let mqd = Mqd::start();
    mqd.create_topic("bin", 1);
    let samples: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = (0..200)
        .map(|i| {
            (
                noise(i, 1 + i as usize % 16),
                noise(i + 1000, i as usize * 7),
                noise(i + 2000, 5),
            )
        })
        .collect();
    let records: Vec<_> = samples
        .iter()
        .map(|(key, value, header)| {
            json!({
                "key_b64": STANDARD.encode(key),
                "value_b64": STANDARD.encode(value),
                "headers": [{"key": "h", "value_b64": STANDARD.encode(header)}],
            })
        })
        .collect();
    let answer = mqd.post("/v1/topics/bin/records", &json!({ "records": records }));
    assert_eq!(answer.status, 200, "{:?}", answer.body);

    for encoding in ["", "&encoding=base64"] {
        let page = mqd.get(&format!(
            "/v1/topics/bin/partitions/0/records?offset=0&max_records=1000{encoding}"
        ));
        let page: mq_wire::api::FetchResponse = serde_json::from_value(page.body).unwrap();
        assert_eq!(page.records.len(), samples.len());
        for (record, (key, value, header)) in page.records.iter().zip(&samples) {
            assert_eq!(record.key_bytes().as_ref(), Some(key));
            assert_eq!(&record.value_bytes(), value);
            let h = &record.headers[0];
            assert_eq!(
                mq_wire::bytes_field::bytes_of(h.value.as_deref(), h.value_b64.as_deref()).as_ref(),
                Some(header)
            );
            if !encoding.is_empty() {
                assert!(record.value.is_none() && record.value_b64.is_some());
            }
        }
    }
}

#[test]
fn a_long_poll_returns_as_soon_as_a_record_arrives() {
    let mqd = Mqd::start();
    mqd.create_topic("poll", 1);
    let url = mqd.url("/v1/topics/poll/partitions/0/records?offset=0&max_wait_ms=60000");
    // A poll that is not woken sleeps to its 60 s deadline: this client gives up at 30 s first.
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let waiter = std::thread::spawn(move || {
        http.get(url)
            .send()
            .unwrap()
            .json::<serde_json::Value>()
            .unwrap()
    });
    // The record must come after the fetch is parked, or this would not test the wake-up.
    eventually(Duration::from_secs(30), "the fetch to be parked", || {
        (mqd.metric("mq_fetches_waiting") == Some(1.0)).then_some(())
    });
    let produced = mqd.post(
        "/v1/topics/poll/records",
        &json!({"records": [{"value": "wake up"}]}),
    );
    assert_eq!(produced.status, 200);
    // Woken by the record, long before the client's 30 s timeout.
    let page = waiter.join().unwrap();
    assert_eq!(page["records"][0]["value"], "wake up");
    assert_eq!(mqd.metric("mq_fetches_waiting"), Some(0.0));

    let quiet = mqd.get("/v1/topics/poll/partitions/0/records?offset=1&max_wait_ms=100");
    assert_eq!(quiet.status, 200);
    assert_eq!(quiet.body["records"].as_array().unwrap().len(), 0);
    assert_eq!(quiet.body["next_offset"], 1);
}

#[test]
fn fetch_bounds_and_out_of_range() {
    let mqd = Mqd::start();
    mqd.create_topic("page", 1);
    let records: Vec<_> = (0..50).map(|i| json!({"value": format!("r{i}")})).collect();
    for _ in 0..4 {
        assert_eq!(
            mqd.post("/v1/topics/page/records", &json!({ "records": records }))
                .status,
            200
        );
    }
    let first = mqd.get("/v1/topics/page/partitions/0/records?offset=5&max_records=10");
    assert_eq!(first.body["records"].as_array().unwrap().len(), 10);
    assert_eq!(first.body["records"][0]["offset"], 5);
    assert_eq!(first.body["next_offset"], 15);
    // max_bytes smaller than a batch still returns the batch holding the offset.
    let tiny = mqd.get("/v1/topics/page/partitions/0/records?offset=60&max_bytes=1");
    let tiny_records = tiny.body["records"].as_array().unwrap();
    assert_eq!(tiny_records[0]["offset"], 60);
    assert_eq!(
        tiny_records.len(),
        40,
        "the rest of the 50-record batch holding offset 60"
    );
    let beyond = mqd.get("/v1/topics/page/partitions/0/records?offset=201");
    assert_eq!(
        (beyond.status, beyond.error_code()),
        (416, "offset_out_of_range")
    );
    let no_partition = mqd.get("/v1/topics/page/partitions/3/records");
    assert_eq!(
        (no_partition.status, no_partition.error_code()),
        (404, "unknown_partition")
    );
    let pinned = mqd.post(
        "/v1/topics/page/partitions/0/records",
        &json!({"records": [{"value": "p"}]}),
    );
    assert_eq!(pinned.body["offsets"][0]["offset"], 200);
}

#[test]
fn offsets_are_listed_earliest_latest_and_by_timestamp() {
    let mqd = Mqd::start();
    mqd.create_topic("times", 1);
    // Recent timestamps ([`now_ms`]): records from 1970 would be aged out.
    let base = now_ms() - 60_000;
    let records: Vec<_> = [base + 1_000, base + 2_000, base + 3_000]
        .iter()
        .map(|ts| json!({"value": "v", "timestamp": ts}))
        .collect();
    mqd.post("/v1/topics/times/records", &json!({ "records": records }));
    let at = |spec: &str| {
        mqd.get(&format!("/v1/topics/times/offsets?at={spec}")).body["partitions"][0].clone()
    };
    assert_eq!(at("earliest")["offset"], 0);
    assert_eq!(at("latest")["offset"], 3);
    let at_time = |ms: i64| at(&(base + ms).to_string());
    assert_eq!(at_time(2_500)["offset"], 2);
    assert_eq!(at_time(2_500)["timestamp"], base + 3_000);
    assert_eq!(at_time(9_999)["offset"], 3);
    let bad = mqd.get("/v1/topics/times/offsets?at=yesterday");
    assert_eq!((bad.status, bad.error_code()), (400, "invalid_request"));
}

#[test]
fn a_record_id_seen_before_is_acknowledged_not_appended() {
    let mqd = Mqd::start();
    mqd.create_topic("once", 3);
    let id = "0190a0b0-0000-7000-8000-000000000042";
    let first = mqd.post(
        "/v1/topics/once/records",
        &json!({"records": [{"id": id, "value": "a"}]}),
    );
    let again = mqd.post(
        "/v1/topics/once/records",
        &json!({"records": [{"id": id, "value": "a"}, {"value": "b"}]}),
    );
    let (first, again) = (&first.body["offsets"][0], &again.body["offsets"]);
    assert_eq!(again[0]["duplicate"], true);
    assert_eq!(
        (&again[0]["partition"], &again[0]["offset"]),
        (&first["partition"], &first["offset"])
    );
    let stored: u64 = (0..3)
        .map(|p| fetch_all(&mqd, "once", p, 0).len() as u64)
        .sum();
    assert_eq!(stored, 2);
    let fetched = fetch_all(&mqd, "once", first["partition"].as_u64().unwrap() as u32, 0);
    assert!(fetched
        .iter()
        .any(|r| r.id.is_some_and(|r| r.to_string() == id)));
}
