//! The real `mqctl` binary against a real `mqd`: topics, produce from a file, consume with a group,
//! describe lag, reset offsets, errors, and both output modes of produce (pipe and terminal).

use mq_e2e::{binary, Mqd};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Output, Stdio};

fn mqctl(mqd: &Mqd, args: &[&str]) -> Output {
    Command::new(binary("mqctl"))
        .args(["--server", &mqd.base])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run mqctl")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "mqctl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

const LINES: usize = 200_000;

fn write_keyed_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mqctl-e2e-{}.txt", std::process::id()));
    let mut text = String::with_capacity(LINES * 24);
    for i in 0..LINES {
        text.push_str(&format!("key-{}\tvalue-{i}\n", i % 101));
    }
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn produce_a_file_consume_it_with_a_group_and_reset() {
    let mqd = Mqd::start();
    let created = json_lines(&mqctl(
        &mqd,
        &["topic", "create", "lines", "--partitions", "6"],
    ));
    assert_eq!(created[0]["config"]["partitions"], 6);

    let file = write_keyed_file();
    let produced = mqctl(
        &mqd,
        &[
            "produce",
            "lines",
            "--key-separator",
            "\t",
            file.to_str().unwrap(),
        ],
    );
    let summary = &json_lines(&produced)[0];
    assert_eq!(summary["records"], LINES as u64, "{summary}");
    assert!(summary["records_per_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["failed_lines"].as_array().unwrap().len(), 0);

    let consume = |group: &str| {
        let output = mqctl(
            &mqd,
            &[
                "-o",
                "json",
                "consume",
                "lines",
                "--group",
                group,
                "--from-beginning",
                "--max-messages",
                &LINES.to_string(),
                "--commit",
                "after",
            ],
        );
        json_lines(&output)
    };
    let records = consume("readers");
    assert_eq!(records.len(), LINES);
    let mut next_seq_of_key: HashMap<String, usize> = HashMap::new();
    let mut seen = vec![false; LINES];
    for record in &records {
        let key = record["key"].as_str().unwrap().to_owned();
        let seq: usize = record["value"]
            .as_str()
            .unwrap()
            .trim_start_matches("value-")
            .parse()
            .unwrap();
        assert_eq!(
            format!("key-{}", seq % 101),
            key,
            "key and value travel together"
        );
        assert!(!seen[seq], "line {seq} consumed twice");
        seen[seq] = true;
        let expected_at_least = next_seq_of_key.get(&key).copied().unwrap_or(0);
        assert!(
            seq >= expected_at_least,
            "key {key}: {seq} after {}",
            expected_at_least - 101
        );
        next_seq_of_key.insert(key, seq + 1);
    }
    assert!(seen.iter().all(|&s| s), "every line consumed");

    let described = &json_lines(&mqctl(
        &mqd,
        &["-o", "json", "group", "describe", "readers"],
    ))[0];
    let offsets = described["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 6);
    assert!(offsets.iter().all(|o| o["lag"] == 0), "{described}");

    let dry = &json_lines(&mqctl(
        &mqd,
        &[
            "group",
            "reset-offsets",
            "readers",
            "--topic",
            "lines",
            "--to-earliest",
        ],
    ))[0];
    assert_eq!(dry["executed"], false);
    let lag_unchanged = &json_lines(&mqctl(&mqd, &["group", "describe", "readers"]))[0];
    assert!(lag_unchanged["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .all(|o| o["lag"] == 0));
    let done = &json_lines(&mqctl(
        &mqd,
        &[
            "group",
            "reset-offsets",
            "readers",
            "--topic",
            "lines",
            "--to-earliest",
            "--execute",
        ],
    ))[0];
    assert_eq!(done["executed"], true);
    assert_eq!(
        consume("readers").len(),
        LINES,
        "after the reset the group reads everything again"
    );

    let groups = json_lines(&mqctl(&mqd, &["group", "list"]));
    assert_eq!(groups[0]["group"], "readers");
    let status = json_lines(&mqctl(&mqd, &["cluster", "status"]));
    assert_eq!(
        (status.len(), &status[0]["role"]),
        (1, &Value::from("standalone"))
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn standalone_consume_reads_a_partition_from_an_offset_and_formats_lines() {
    let mqd = Mqd::start();
    stdout(&mqctl(&mqd, &["topic", "create", "t"]));
    let mut producer = Command::new(binary("mqctl"))
        .args([
            "--server",
            &mqd.base,
            "produce",
            "t",
            "--header",
            "source=test",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    producer
        .stdin
        .take()
        .unwrap()
        .write_all(b"a\nb\nc\nd\n")
        .unwrap();
    assert!(producer.wait_with_output().unwrap().status.success());
    let lines = stdout(&mqctl(
        &mqd,
        &[
            "consume",
            "t",
            "--partition",
            "0",
            "--offset",
            "1",
            "--max-messages",
            "2",
            "--format",
            "%p:%o %v %h",
        ],
    ));
    assert_eq!(lines, "0:1 b source:test\n0:2 c source:test\n");
    let plain = stdout(&mqctl(
        &mqd,
        &["consume", "t", "--from-beginning", "--max-messages", "4"],
    ));
    assert_eq!(
        plain, "a\nb\nc\nd\n",
        "values one per line by default, even into a pipe"
    );
    let idle = mqctl(&mqd, &["consume", "t", "--idle-exit-ms", "300"]);
    assert_eq!(
        stdout(&idle),
        "",
        "from the latest offset nothing arrives; it exits when idle"
    );
}

#[test]
fn errors_are_one_line_with_an_exit_code() {
    let mqd = Mqd::start();
    let unknown = mqctl(&mqd, &["topic", "describe", "ghost"]);
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(
        stderr.trim(),
        "mqctl: topic describe ghost: unknown topic `ghost` (unknown_topic)"
    );
    let produce = mqctl(&mqd, &["produce", "ghost", "/dev/null"]);
    assert_eq!(produce.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&produce.stderr).contains("unknown_topic"));
    let bad_flag = mqctl(&mqd, &["topic", "create", "x", "--partitions", "many"]);
    assert_eq!(bad_flag.status.code(), Some(2));
    let dead = Command::new(binary("mqctl"))
        .args(["--server", "http://127.0.0.1:1", "topic", "list"])
        .output()
        .unwrap();
    assert_eq!(dead.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dead.stderr).contains("cannot reach http://127.0.0.1:1"));
    let group_busy = mqctl(&mqd, &["group", "delete", "nobody"]);
    assert!(String::from_utf8_lossy(&group_busy.stderr).contains("unknown_group"));
    let group_typo = mqctl(
        &mqd,
        &["consume", "ghost", "--group", "g", "--max-messages", "1"],
    );
    assert_eq!(group_typo.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&group_typo.stderr).contains("unknown topic `ghost`"));
}

#[test]
fn a_line_without_the_key_separator_stops_produce_after_delivering_what_came_before() {
    let mqd = Mqd::start();
    stdout(&mqctl(&mqd, &["topic", "create", "keyed"]));
    let file = std::env::temp_dir().join(format!("mqctl-sep-{}.txt", std::process::id()));
    let mut text: String = (0..3000).map(|i| format!("k{i}\tv{i}\n")).collect();
    text.push_str("no separator here\nk\tafter\n");
    std::fs::write(&file, text).unwrap();
    let output = mqctl(
        &mqd,
        &[
            "produce",
            "keyed",
            "--key-separator",
            "\t",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(1));
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(
        summary["records"], 3000,
        "the lines before the bad one were delivered"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("line 3001 has no key separator")
            && stderr.contains("lines from 3001 on were not produced"),
        "{stderr}"
    );
    assert_eq!(
        json_lines(&mqctl(&mqd, &["topic", "list"]))[0]["records"],
        3000
    );
    std::fs::remove_file(file).unwrap();
}

#[test]
fn a_closed_pipe_ends_mqctl_quietly() {
    let mqd = Mqd::start();
    for i in 0..50 {
        stdout(&mqctl(&mqd, &["topic", "create", &format!("t{i}")]));
    }
    let command = format!(
        "{} --server {} -o table topic list | head -1",
        binary("mqctl").display(),
        mqd.base
    );
    let output = Command::new("sh").args(["-c", &command]).output().unwrap();
    assert!(output.status.success());
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn produce_on_a_terminal_prints_the_human_summary() {
    let mqd = Mqd::start();
    stdout(&mqctl(&mqd, &["topic", "create", "tty"]));
    let file = std::env::temp_dir().join(format!("mqctl-tty-{}.txt", std::process::id()));
    std::fs::write(
        &file,
        (0..5000).map(|i| format!("line {i}\n")).collect::<String>(),
    )
    .unwrap();
    // `script` runs mqctl in a pseudo-terminal: stdout and stderr are terminals there.
    let command = format!(
        "{} --server {} produce tty {}",
        binary("mqctl").display(),
        mqd.base,
        file.display()
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(text.contains("produced 5000 records"), "{text}");
    assert!(
        !text.contains("\"records\""),
        "a terminal gets the human line, not JSON: {text}"
    );
    let piped = json_lines(&mqctl(&mqd, &["produce", "tty", file.to_str().unwrap()]));
    assert_eq!(piped[0]["records"], 5000);
    std::fs::remove_file(file).unwrap();
}

/// A temporary file of lines `line 1` to `line {count}`, except that the lines numbered in
/// `oversized` are 3000 bytes (past a 2 KiB `max_record_bytes`).
fn lines_file(name: &str, count: u32, oversized: &[u32]) -> std::path::PathBuf {
    let file = std::env::temp_dir().join(format!("mqctl-{name}-{}.txt", std::process::id()));
    let mut text = String::new();
    for i in 1..=count {
        if oversized.contains(&i) {
            text.push_str(&"x".repeat(3000));
        } else {
            text.push_str(&format!("line {i}"));
        }
        text.push('\n');
    }
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn an_oversized_line_fails_alone_and_is_reported_by_number() {
    let mqd = Mqd::start_with_config("[limits]\nmax_record_bytes = \"2KiB\"\n");
    stdout(&mqctl(&mqd, &["topic", "create", "big"]));
    let file = lines_file("big", 9, &[5]);
    let output = mqctl(
        &mqd,
        &["produce", "big", "--retries", "0", file.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(1));
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(summary["records"], 8);
    assert_eq!(summary["failed_lines"], serde_json::json!([[5, 5]]));
    assert!(String::from_utf8_lossy(&output.stderr).contains("line 5 was not acknowledged"));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn pipelined_batches_keep_input_order_around_lines_that_fail_for_good() {
    // One record per batch, so a partition has several requests in flight: the two oversized
    // lines fail for good, the batches in flight behind them are refused as out of order, and
    // the producer resends them in order under a new producer epoch.
    let mqd = Mqd::start_with_config("[limits]\nmax_record_bytes = \"2KiB\"\n");
    stdout(&mqctl(
        &mqd,
        &["topic", "create", "order", "--partitions", "1"],
    ));
    let oversized = [7, 23];
    let file = lines_file("order", 60, &oversized);
    let output = mqctl(
        &mqd,
        &[
            "produce",
            "order",
            "--batch-size",
            "1",
            "--in-flight-per-partition",
            "5",
            "--retries",
            "0",
            file.to_str().unwrap(),
        ],
    );
    std::fs::remove_file(&file).unwrap();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary: Value =
        serde_json::from_str(String::from_utf8_lossy(&output.stdout).trim()).unwrap();
    assert_eq!(summary["records"], 58);
    assert_eq!(
        summary["failed_lines"],
        serde_json::json!([[7, 7], [23, 23]])
    );
    let stored = stdout(&mqctl(
        &mqd,
        &[
            "consume",
            "order",
            "--from-beginning",
            "--max-messages",
            "58",
        ],
    ));
    let expected: String = (1..=60)
        .filter(|i| !oversized.contains(i))
        .map(|i| format!("line {i}\n"))
        .collect();
    assert_eq!(stored, expected, "every other line once, in input order");
}

#[test]
fn consume_on_a_terminal_says_where_it_waits_and_how_to_read_from_the_start() {
    let mqd = Mqd::start();
    stdout(&mqctl(&mqd, &["topic", "create", "waiting"]));
    let produced = mqd.post(
        "/v1/topics/waiting/records",
        &serde_json::json!({"records": [{"value": "a"}, {"value": "b"}]}),
    );
    assert_eq!(produced.status, 200);
    // A terminal (`script` gives one) is told once; it then waits and exits when idle.
    let command = format!(
        "{} --server {} consume waiting --idle-exit-ms 300",
        binary("mqctl").display(),
        mqd.base
    );
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains("2 record(s) already there") && text.contains("--from-beginning"),
        "{text}"
    );
    // A pipe is not told: scripts read stdout and stderr as they are.
    let piped = mqctl(&mqd, &["consume", "waiting", "--idle-exit-ms", "300"]);
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("--from-beginning"),
        "{piped:?}"
    );
}

/// `mqctl topic alter` changes only what it names, prints the topic after, and refuses what cannot
/// change with the server's error and exit code 1.
#[test]
fn topic_alter_changes_the_named_settings() {
    let mqd = Mqd::start();
    mqd.create_topic("tuned", 2);
    let altered = json_lines(&mqctl(
        &mqd,
        &[
            "topic",
            "alter",
            "tuned",
            "--retention",
            "2h",
            "--retention-bytes",
            "1MiB",
            "--discard",
            "old",
            "-o",
            "json",
        ],
    ));
    assert_eq!(altered.len(), 1, "{altered:?}");
    let config = &altered[0]["config"];
    assert_eq!(config["retention_ms"], 7_200_000);
    assert_eq!(config["retention_bytes"], 1 << 20);
    assert_eq!(config["discard"], "old");
    assert_eq!(config["partitions"], 2);
    assert_eq!(config["unclean_leader_election"], false, "not named: kept");
    let described = mqd.get("/v1/topics/tuned");
    assert_eq!(described.body["config"], *config, "the server keeps it");

    let table = stdout(&mqctl(
        &mqd,
        &[
            "topic",
            "alter",
            "tuned",
            "--unclean-leader-election",
            "true",
            "-o",
            "table",
        ],
    ));
    assert!(table.contains("unclean elections"), "{table}");
    assert!(table.contains("retention 2h"), "{table}");

    let refused = mqctl(
        &mqd,
        &["topic", "alter", "tuned", "--min-insync-replicas", "2"],
    );
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains(
            "min_insync_replicas must be between 1 and the topic's replication_factor (1)"
        ) && stderr.contains("(invalid_request)"),
        "{stderr}"
    );
    let ghost = mqctl(&mqd, &["topic", "alter", "ghost", "--retention", "1h"]);
    assert_eq!(ghost.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&ghost.stderr).contains("unknown_topic"));
    let nothing = mqctl(&mqd, &["topic", "alter", "tuned"]);
    assert_eq!(nothing.status.code(), Some(2), "clap: nothing to change");
}
