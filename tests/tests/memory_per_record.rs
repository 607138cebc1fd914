//! Memory per stored record: 2,000,000 records of 560 bytes produced over HTTP must fit in well under
//! 1.3 GB of mqd's resident memory. Prints the growth per record (run with `--nocapture` to see it;
//! docs/BENCHMARKS.md records the figure).

use mq_e2e::Mqd;

const RECORDS: usize = 2_000_000;
const VALUE_BYTES: usize = 560;
const PER_REQUEST: usize = 5_000;
const RSS_CEILING: u64 = 1_300_000_000;

#[test]
fn two_million_560_byte_records_fit_well_under_1_3_gb() {
    let mqd = Mqd::start_with_config("[limits]\nmemory = \"2GiB\"\n");
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
    let after = mqd.rss_bytes();
    let per_record = (after.saturating_sub(before)) as f64 / RECORDS as f64;
    println!(
        "memory per record: {RECORDS} records of {VALUE_BYTES} B: RSS {before} -> {after} bytes, \
         {per_record:.1} B/record ({:.1} B over the payload); log bytes {stored_bytes} ({:.1} B/record)",
        per_record - VALUE_BYTES as f64,
        stored_bytes as f64 / RECORDS as f64
    );
    assert!(
        after < RSS_CEILING,
        "RSS {after} bytes is not under {RSS_CEILING}"
    );
}
