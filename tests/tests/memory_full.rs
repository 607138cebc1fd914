//! A full node, the way operators expect: `mqctl produce` and `mqctl bench` stop at the first
//! `memory_limit_exceeded` (instead of retrying every remaining batch for minutes) and say what
//! was acknowledged; a topic with `discard = "new"` refuses produce, one with `discard = "old"`
//! gives up its own oldest segments and keeps taking records.

use mq_e2e::{binary, Mqd};
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A bound on a hang (the old behaviour took minutes), not a speed target: the figure is printed.
const STOP_DEADLINE: Duration = Duration::from_secs(60);

/// A 2 MiB node whose segments are small enough for eviction to free room in steps.
fn small_node() -> Mqd {
    Mqd::start_with_config("[limits]\nmemory = \"2MiB\"\n[log]\nsegment_bytes = \"64KiB\"\n")
}

/// Waits for `child` with a deadline, killing it past the deadline.
fn finish(mut child: Child, what: &str) -> (Output, Duration) {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stdout = Vec::new();
            let mut stderr = Vec::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_end(&mut stdout)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_end(&mut stderr)
                .unwrap();
            return (
                Output {
                    status,
                    stdout,
                    stderr,
                },
                started.elapsed(),
            );
        }
        if started.elapsed() > STOP_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not stop within {STOP_DEADLINE:?} on a full node");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn log_end(mqd: &Mqd, topic: &str) -> u64 {
    mqd.get(&format!("/v1/topics/{topic}")).body["partitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["log_end"].as_u64().unwrap())
        .sum()
}

#[test]
fn mqctl_produce_stops_at_once_on_a_full_node_and_says_what_was_acknowledged() {
    let mqd = small_node();
    mqd.create_topic("full", 2);
    // 300,000 lines of 100 bytes: 30 MB into a 2 MiB node.
    let file = std::env::temp_dir().join(format!("mq-full-{}.txt", std::process::id()));
    let line = "x".repeat(100);
    std::fs::write(&file, format!("{line}\n").repeat(300_000)).unwrap();
    let child = Command::new(binary("mqctl"))
        .args(["--server", &mqd.base, "produce", "full"])
        .stdin(std::fs::File::open(&file).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (output, took) = finish(child, "mqctl produce");
    std::fs::remove_file(&file).unwrap();
    println!("mqctl produce stopped {took:?} after it started, on a full node");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("memory_limit_exceeded"), "{stderr}");
    assert!(stderr.contains("not acknowledged"), "{stderr}");
    assert!(stderr.contains("were not produced"), "{stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("the JSON summary");
    let acknowledged = summary["records"].as_u64().unwrap();
    assert!(acknowledged > 0 && acknowledged < 300_000, "{summary}");
    // Every line is accounted for: acknowledged, failed, or never read.
    let failed: u64 = summary["failed_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|range| range[1].as_u64().unwrap() - range[0].as_u64().unwrap() + 1)
        .sum();
    let unread = 300_000 + 1 - summary["unread_from"].as_u64().expect("unread_from");
    assert_eq!(acknowledged + failed + unread, 300_000, "{summary}");
    // What it says was acknowledged is exactly what the node holds.
    assert_eq!(log_end(&mqd, "full"), acknowledged);
}

#[test]
fn mqctl_bench_stops_at_once_on_a_full_node() {
    let mqd = small_node();
    let child = Command::new(binary("mqctl"))
        .args([
            "--server",
            &mqd.base,
            "bench",
            "produce",
            "--messages",
            "2000000",
            "--size",
            "100",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (output, took) = finish(child, "mqctl bench produce");
    println!("mqctl bench produce stopped {took:?} after it started, on a full node");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("memory_limit_exceeded"), "{stderr}");
}

#[test]
fn discard_new_refuses_and_discard_old_evicts_its_own_oldest_records() {
    let mqd = small_node();
    let created = mqd.post(
        "/v1/topics",
        &json!({"name": "capped", "partitions": 2, "discard": "old"}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    assert_eq!(created.body["config"]["discard"], "old");
    mqd.create_topic("strict", 1);
    assert_eq!(
        mqd.get("/v1/topics/strict").body["config"]["discard"],
        "new"
    );
    let bad = mqd.post("/v1/topics", &json!({"name": "bad", "discard": "oldest"}));
    assert_eq!((bad.status, bad.error_code()), (400, "invalid_request"));

    // 10 MB into the capped topic of a 2 MiB node: every produce is accepted.
    let value = "o".repeat(1000);
    let batch: Vec<_> = (0..100).map(|_| json!({ "value": value })).collect();
    for round in 0..100 {
        let answer = mqd.post("/v1/topics/capped/records", &json!({ "records": batch }));
        assert_eq!(answer.status, 200, "round {round}: {:?}", answer.body);
    }
    let described = mqd.get("/v1/topics/capped").body;
    let partitions = described["partitions"].as_array().unwrap();
    let (start, end): (u64, u64) = partitions.iter().fold((0, 0), |(s, e), p| {
        (
            s + p["log_start"].as_u64().unwrap(),
            e + p["log_end"].as_u64().unwrap(),
        )
    });
    assert_eq!(end, 10_000);
    assert!(start > 0, "nothing was evicted: {described}");
    let held: u64 = partitions
        .iter()
        .map(|p| p["bytes"].as_u64().unwrap())
        .sum();
    assert!(held <= 2 * 1024 * 1024, "{held} bytes held");

    // The capped topic holds the node's memory; the strict topic cannot take it from it.
    let refused = mqd.post("/v1/topics/strict/records", &json!({ "records": batch }));
    assert_eq!(
        (refused.status, refused.error_code()),
        (507, "memory_limit_exceeded")
    );
    assert_eq!(log_end(&mqd, "strict"), 0);
    // And the oldest records of the capped topic are gone, the newest are there.
    let newest = mqd.get("/v1/topics/capped/partitions/0/records?offset=0");
    assert_eq!(
        (newest.status, newest.error_code()),
        (416, "offset_out_of_range")
    );
}

#[test]
fn mqctl_topic_create_takes_and_describe_shows_the_discard_policy() {
    let mqd = small_node();
    let created = Command::new(binary("mqctl"))
        .args([
            "--server",
            &mqd.base,
            "topic",
            "create",
            "cap",
            "--discard",
            "old",
        ])
        .output()
        .unwrap();
    assert!(created.status.success(), "{:?}", created);
    let described = Command::new(binary("mqctl"))
        .args([
            "--server", &mqd.base, "-o", "table", "topic", "describe", "cap",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&described.stdout);
    assert!(text.contains("discard old"), "{text}");
}
