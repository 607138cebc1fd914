//! Running mqd as a daemon: systemd readiness, SIGTERM under load, /metrics, limits, SIGHUP
//! reload, JSON logs, and the unit file.

use mq_e2e::{binary, eventually, Mqd};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn readiness_and_stopping_are_sent_to_systemd() {
    let socket_path = std::env::temp_dir().join(format!("mq-notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&socket_path);
    let socket = UnixDatagram::bind(&socket_path).expect("bind a notify socket");
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut mqd = Mqd::start_with("", &[], &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())]);
    let mut buffer = [0u8; 4096];
    let n = socket.recv(&mut buffer).expect("a notification");
    let ready = String::from_utf8_lossy(&buffer[..n]).to_string();
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready}");
    // READY=1 means serving: the API answers.
    assert_eq!(mqd.get("/health").status, 200);
    assert!(mqd.terminate(Duration::from_secs(15)).unwrap().success());
    let n = socket.recv(&mut buffer).expect("a notification at stop");
    assert!(String::from_utf8_lossy(&buffer[..n])
        .lines()
        .any(|l| l == "STOPPING=1"));
    std::fs::remove_file(socket_path).unwrap();
}

#[test]
fn sigterm_under_produce_load_exits_zero_without_losing_an_acknowledged_record() {
    let mut mqd = Mqd::start_with_config("[node]\nshutdown_timeout = \"10s\"\n");
    mqd.create_topic("load", 3);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(u32, u64)>>> = Arc::default();
    let producers: Vec<_> = (0..3)
        .map(|p| {
            let (url, http) = (
                mqd.url(&format!("/v1/topics/load/partitions/{p}/records")),
                mqd.http().clone(),
            );
            let (stop, acknowledged) = (Arc::clone(&stop), Arc::clone(&acknowledged));
            std::thread::spawn(move || {
                let records: Vec<_> = (0..200)
                    .map(|i| json!({"value": format!("v{i}")}))
                    .collect();
                let body = json!({ "records": records });
                while !stop.load(Ordering::Relaxed) {
                    match http.post(&url).json(&body).send() {
                        Ok(response) => {
                            // Every answer during shutdown is a whole one: success or a JSON error.
                            let status = response.status().as_u16();
                            let answer: serde_json::Value =
                                response.json().expect("a whole JSON answer");
                            assert_eq!(status, 200, "{answer}");
                            let mut acked = acknowledged.lock().unwrap();
                            for position in answer["offsets"].as_array().unwrap() {
                                acked.push((p, position["offset"].as_u64().unwrap()));
                            }
                        }
                        // After SIGTERM new connections are refused: nothing was acknowledged.
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    eventually(Duration::from_secs(30), "load to build up", || {
        (acknowledged.lock().unwrap().len() >= 20_000).then_some(())
    });
    let status = mqd
        .terminate(Duration::from_secs(20))
        .expect("mqd exits within the deadline");
    stop.store(true, Ordering::Relaxed);
    for producer in producers {
        producer.join().expect("a producer saw a broken answer");
    }
    assert!(status.success(), "exit status {status:?}");
    assert!(mqd.log().contains("mqd stopped"));
    // What was acknowledged is exactly a gap-free prefix of each partition: no acknowledged append
    // was dropped or reordered while the node stopped.
    let mut by_partition: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for (partition, offset) in acknowledged.lock().unwrap().iter() {
        by_partition.entry(*partition).or_default().push(*offset);
    }
    for (partition, mut offsets) in by_partition {
        offsets.sort_unstable();
        let expected: Vec<u64> = (0..offsets.len() as u64).collect();
        assert_eq!(offsets, expected, "partition {partition}");
    }
}

/// `name{labels} value` lines of a Prometheus/OpenMetrics text, by series.
fn parse_metrics(text: &str) -> HashMap<String, f64> {
    assert!(
        text.trim_end().ends_with("# EOF"),
        "OpenMetrics text ends with # EOF"
    );
    let mut series = HashMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let kind = rest.split_whitespace().nth(1).expect("a type");
                assert!(
                    ["counter", "gauge", "histogram", "info", "unknown"].contains(&kind),
                    "{line}"
                );
            }
            continue;
        }
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("not a number: {line}"));
        let name_ok = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
        assert!(
            name_ok && (!name.contains('{') || name.ends_with('}')),
            "{line}"
        );
        series.insert(name.to_owned(), value);
    }
    series
}

#[test]
fn metrics_parse_and_count_what_was_produced() {
    let mqd = Mqd::start();
    mqd.create_topic("counted", 2);
    let id = "0190a0b0-0000-7000-8000-0000000000cc";
    let records: Vec<_> = (0..1000)
        .map(|i| json!({"value": format!("{i:04}")}))
        .collect();
    for _ in 0..3 {
        assert_eq!(
            mqd.post("/v1/topics/counted/records", &json!({ "records": records }))
                .status,
            200
        );
    }
    // A duplicate is acknowledged but not counted again.
    for _ in 0..2 {
        mqd.post(
            "/v1/topics/counted/records",
            &json!({"records": [{"id": id, "value": "dup"}]}),
        );
    }
    mqd.get("/v1/topics/counted/partitions/0/records?offset=0&max_records=100");
    mqd.get("/v1/topics/nope");

    let response = mqd.http().get(mqd.url("/metrics")).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let metrics = parse_metrics(&response.text().unwrap());
    assert_eq!(metrics[r#"mq_records_in_total{topic="counted"}"#], 3001.0);
    assert_eq!(
        metrics[r#"mq_bytes_in_total{topic="counted"}"#],
        3000.0 * 4.0 + 3.0
    );
    assert_eq!(metrics[r#"mq_records_out_total{topic="counted"}"#], 100.0);
    let ends = metrics[r#"mq_partition_log_end_offset{topic="counted",partition="0"}"#]
        + metrics[r#"mq_partition_log_end_offset{topic="counted",partition="1"}"#];
    assert_eq!(ends, 3001.0);
    assert_eq!(
        metrics[r#"mq_http_requests_total{endpoint="/v1/topics/{topic}/records",method="POST",status="200"}"#],
        5.0
    );
    assert_eq!(
        metrics[r#"mq_http_requests_total{endpoint="/v1/topics/{topic}",method="GET",status="404"}"#],
        1.0
    );
    assert!(metrics["process_resident_memory_bytes"] > 1_000_000.0);
    assert!(metrics["mq_memory_used_bytes"] > 3000.0 * 4.0);
    // limits.memory = "auto": 75 % of physical memory, or less under a cgroup limit.
    let physical_kib: f64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap();
    let limit = metrics["mq_memory_limit_bytes"];
    assert!(
        limit > 0.0 && limit <= physical_kib * 1024.0 * 0.75 + 1.0,
        "{limit}"
    );
    assert!(
        mqd.log().contains("limits.memory = \"auto\""),
        "{}",
        mqd.log()
    );
    assert_eq!(metrics[r#"mq_cluster_role{role="standalone"}"#], 1.0);
    assert_eq!(metrics["mq_under_replicated_partitions"], 0.0);

    // A deleted topic's series go with it.
    assert_eq!(mqd.delete("/v1/topics/counted").status, 200);
    let text = mqd
        .http()
        .get(mqd.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(!text.contains(r#"topic="counted""#), "{text}");
}

#[test]
fn node_limits_answer_with_their_documented_errors() {
    let mqd = Mqd::start_with_config("[limits]\nmax_topics = 2\nmax_partitions = 8\nmax_partitions_per_topic = 8\nmax_connections = 4\nheader_read_timeout = \"5m\"\n");
    mqd.create_topic("a", 6);
    let too_many_partitions = mqd.post("/v1/topics", &json!({"name": "b", "partitions": 3}));
    assert_eq!(
        (too_many_partitions.status, too_many_partitions.error_code()),
        (507, "limit_exceeded")
    );
    mqd.create_topic("b", 2);
    let too_many_topics = mqd.post("/v1/topics", &json!({"name": "c", "partitions": 1}));
    assert_eq!(
        (too_many_topics.status, too_many_topics.error_code()),
        (507, "limit_exceeded")
    );
    assert!(too_many_topics.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limits.max_topics"));

    // Fill every free slot with a silent connection (the long header timeout above keeps them;
    // the client's pooled connections may hold some slots, or give them back, meanwhile) until
    // one is answered 503 and closed.
    use std::io::Read;
    let address = mqd.base.trim_start_matches("http://").to_owned();
    let mut held: Vec<std::net::TcpStream> = Vec::new();
    let refused_text = eventually(Duration::from_secs(20), "a refused connection", || {
        let mut extra = std::net::TcpStream::connect(&address).ok()?;
        extra
            .set_read_timeout(Some(Duration::from_millis(300)))
            .ok()?;
        let mut text = String::new();
        match extra.read_to_string(&mut text) {
            Ok(_) if text.starts_with("HTTP/1.1 503") => Some(text),
            // Accepted and silent: it now holds a slot.
            _ => {
                held.push(extra);
                None
            }
        }
    });
    assert!(
        refused_text.contains("too_many_connections"),
        "{refused_text}"
    );
    drop(held);
    eventually(
        Duration::from_secs(20),
        "connections to be accepted again",
        || {
            let response = reqwest::blocking::Client::new()
                .get(mqd.url("/health"))
                .send()
                .ok()?;
            (response.status().as_u16() == 200).then_some(())
        },
    );
}

#[test]
fn sighup_applies_new_limits_without_a_restart() {
    let mqd = Mqd::start_with_config("[limits]\nmax_batch_records = 100\n");
    mqd.create_topic("t", 1);
    let five: Vec<_> = (0..5).map(|_| json!({"value": "x"})).collect();
    assert_eq!(
        mqd.post("/v1/topics/t/records", &json!({ "records": five }))
            .status,
        200
    );
    std::fs::write(mqd.config_path(), "[limits]\nmax_batch_records = 4\n").unwrap();
    mqd.signal("HUP");
    eventually(
        Duration::from_secs(20),
        "the reloaded limit to apply",
        || {
            let answer = mqd.post("/v1/topics/t/records", &json!({ "records": five }));
            (answer.status == 413 && answer.error_code() == "too_many_records").then_some(())
        },
    );
    // The limit applies before the line is logged and read: wait for the line too.
    eventually(Duration::from_secs(20), "the reload to be logged", || {
        mqd.log()
            .contains("SIGHUP: configuration reloaded")
            .then_some(())
    });
    // A broken file is refused and the node keeps its configuration.
    std::fs::write(
        mqd.config_path(),
        "[limits]\nmax_batch_records = \"many\"\n",
    )
    .unwrap();
    mqd.signal("HUP");
    eventually(Duration::from_secs(20), "the refusal to be logged", || {
        mqd.log()
            .contains("SIGHUP: the config was refused")
            .then_some(())
    });
    let four: Vec<_> = (0..4).map(|_| json!({"value": "x"})).collect();
    assert_eq!(
        mqd.post("/v1/topics/t/records", &json!({ "records": four }))
            .status,
        200
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mqd = Mqd::start_with("", &["--log-format", "json"], &[]);
    mqd.create_topic("logged", 1);
    let log = eventually(
        Duration::from_secs(20),
        "the topic creation to be logged",
        || {
            let log = mqd.log();
            log.contains("topic created").then_some(log)
        },
    );
    for line in log.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(
            object["level"].is_string() && object["fields"]["message"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/mqd.service"
    ))
    .unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("ProtectSystem=strict"));
    // verify checks that ExecStart exists: point it at the binary under test.
    let unit = unit.replace("/usr/local/bin/mqd", binary("mqd").to_str().unwrap());
    let dir = std::env::temp_dir().join(format!("mq-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("mqd.service");
    std::fs::write(&path, unit).unwrap();
    let output = std::process::Command::new("systemd-analyze")
        .args(["verify", path.to_str().unwrap()])
        .output()
        .expect("systemd-analyze (from Debian's systemd package) must be installed; .ci/run installs it");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        !stderr.contains("mqd.service:"),
        "warnings about the unit: {stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
