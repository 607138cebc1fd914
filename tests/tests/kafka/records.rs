//! Records through a Kafka client: metadata, an idempotent `acks=all` producer read back
//! exactly, headers, null keys and values, large values, compressed batches, records crossing
//! between Kafka clients and the HTTP API, an unknown topic, and the `kafka_bench` tool.

use crate::client::*;
use mq_e2e::eventually;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureRecord, Producer};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn metadata_names_this_broker_and_a_created_topics_partitions() {
    let (_mqd, bootstrap) = start();
    create_topic(&bootstrap, "orders", 3);
    let consumer: BaseConsumer = client_config(&bootstrap).create().unwrap();
    let metadata = consumer
        .fetch_metadata(Some("orders"), Duration::from_secs(10))
        .expect("Metadata answered");
    let (host, port) = bootstrap.rsplit_once(':').unwrap();
    assert_eq!(metadata.brokers().len(), 1);
    assert_eq!(metadata.brokers()[0].host(), host);
    assert_eq!(metadata.brokers()[0].port().to_string(), port);
    let topic = &metadata.topics()[0];
    assert_eq!(topic.name(), "orders");
    assert!(topic.error().is_none(), "{:?}", topic.error());
    assert_eq!(topic.partitions().len(), 3);
    for partition in topic.partitions() {
        assert_eq!(partition.leader(), metadata.brokers()[0].id());
    }
    // A second create of the same name is Kafka's TOPIC_ALREADY_EXISTS.
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    // DescribeConfigs gives the topic's settings under Kafka's names.
    let described = runtime()
        .block_on(admin.describe_configs(
            &[rdkafka::admin::ResourceSpecifier::Topic("orders")],
            &AdminOptions::new(),
        ))
        .expect("DescribeConfigs answered");
    let config = described[0].as_ref().expect("the topic's configs");
    assert_eq!(
        config.get("retention.ms").and_then(|e| e.value.as_deref()),
        Some("604800000"),
        "{config:?}"
    );
    assert_eq!(
        config
            .get("cleanup.policy")
            .and_then(|e| e.value.as_deref()),
        Some("delete")
    );
    let again = runtime()
        .block_on(admin.create_topics(
            &[NewTopic::new("orders", 3, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .unwrap();
    assert!(
        matches!(
            &again[0],
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))
        ),
        "{again:?}"
    );
    // Partitions cannot grow: CreatePartitions says so for the topic.
    let grow = runtime()
        .block_on(admin.create_partitions(
            &[rdkafka::admin::NewPartitions::new("orders", 6)],
            &AdminOptions::new(),
        ))
        .unwrap();
    assert!(
        matches!(
            &grow[0],
            Err((_, rdkafka::types::RDKafkaErrorCode::InvalidPartitions))
        ),
        "{grow:?}"
    );
}

#[test]
fn ten_thousand_keyed_records_from_an_idempotent_producer_come_back_exactly() {
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "keyed", 3);
    let producer = producer(&bootstrap, &[]);
    let sent: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("key-{}", i % 37), format!("value-{i}")))
        .collect();
    send_all(
        &producer,
        sent.iter()
            .map(|(key, value)| FutureRecord::to("keyed").key(key).payload(value)),
    );
    let got = read_all(&bootstrap, "keyed", 3, sent.len());
    assert_eq!(got.len(), sent.len(), "nothing more, nothing less");
    // Offsets are dense from 0 in every partition.
    let mut by_partition: HashMap<i32, Vec<&Owned>> = HashMap::new();
    for record in &got {
        by_partition
            .entry(record.partition)
            .or_default()
            .push(record);
    }
    for (partition, records) in &by_partition {
        for (expected, record) in records.iter().enumerate() {
            assert_eq!(record.offset, expected as i64, "partition {partition}");
        }
    }
    // Each key stays in one partition, in the order it was sent.
    let mut partition_of: HashMap<&[u8], i32> = HashMap::new();
    let mut read_per_key: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    for record in &got {
        let key = record.key.as_deref().expect("a key");
        let first = *partition_of.entry(key).or_insert(record.partition);
        assert_eq!(
            first,
            record.partition,
            "key {:?}",
            String::from_utf8_lossy(key)
        );
        read_per_key
            .entry(key.to_vec())
            .or_default()
            .push(record.value.clone().expect("a value"));
    }
    let mut sent_per_key: HashMap<Vec<u8>, Vec<Vec<u8>>> = HashMap::new();
    for (key, value) in &sent {
        sent_per_key
            .entry(key.as_bytes().to_vec())
            .or_default()
            .push(value.as_bytes().to_vec());
    }
    assert_eq!(read_per_key, sent_per_key);
    assert_every_request_answered(&mqd);
}

#[test]
fn headers_a_null_key_a_null_value_timestamps_and_a_1_mib_value_round_trip() {
    // A 1 MiB value with its key and headers is over the default 1 MiB record limit, as it is
    // over Kafka's default `max.message.bytes`.
    let (_mqd, bootstrap) = start_with("[limits]\nmax_record_bytes = \"2MiB\"\n");
    create_topic(&bootstrap, "shapes", 1);
    let producer = producer(&bootstrap, &[("message.max.bytes", "2000000")]);
    let big = vec![0x5au8; 1 << 20];
    // A minute ago, not 2023: an old record is older than the default retention.
    let stamp = mq_e2e::now_ms() - 60_000;
    runtime().block_on(async {
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "trace",
                value: Some("abc"),
            })
            .insert(Header {
                key: "empty",
                value: Some(""),
            });
        producer
            .send(
                FutureRecord::<(), _>::to("shapes")
                    .payload("no key")
                    .headers(headers)
                    .timestamp(stamp),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the first record");
        producer
            .send(
                FutureRecord::to("shapes").key("big").payload(&big),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the 1 MiB record");
        producer
            .send(
                FutureRecord::<_, ()>::to("shapes").key("tombstone"),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the null value");
        producer
            .send(
                FutureRecord::to("shapes").key("empty").payload(""),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("the empty value");
    });
    let got = read_all(&bootstrap, "shapes", 1, 4);
    assert_eq!(got[2].key.as_deref(), Some(&b"tombstone"[..]));
    assert_eq!(got[2].value, None, "a null value stays null");
    assert_eq!(got[3].value, Some(Vec::new()), "an empty value stays empty");
    assert_eq!(got[0].key, None);
    assert_eq!(got[0].value.as_deref(), Some(&b"no key"[..]));
    assert_eq!(got[0].timestamp, Some(stamp));
    assert_eq!(
        got[0].headers,
        vec![
            ("trace".to_owned(), Some(b"abc".to_vec())),
            ("empty".to_owned(), Some(Vec::new())),
        ]
    );
    assert_eq!(got[1].key.as_deref(), Some(&b"big"[..]));
    assert_eq!(got[1].value.as_deref(), Some(&big[..]));
}

#[test]
fn lz4_and_zstd_batches_round_trip() {
    let (mqd, bootstrap) = start();
    for codec in ["lz4", "zstd", "gzip", "snappy"] {
        let topic = format!("packed-{codec}");
        create_topic(&bootstrap, &topic, 1);
        let producer = producer(&bootstrap, &[("compression.codec", codec)]);
        let values: Vec<String> = (0..500)
            .map(|i| format!("{codec} record {i} {}", "x".repeat(i % 50)))
            .collect();
        send_all(
            &producer,
            values
                .iter()
                .map(|v| FutureRecord::<(), _>::to(&topic).payload(v)),
        );
        let got = read_all(&bootstrap, &topic, 1, values.len());
        let got: Vec<String> = got
            .into_iter()
            .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
            .collect();
        assert_eq!(got, values, "{codec}");
        // Stored as the producer compressed it: fewer bytes than the values alone.
        let described = mqd.get(&format!("/v1/topics/{topic}"));
        let stored = described.body["partitions"][0]["bytes"].as_u64().unwrap();
        let payload: usize = values.iter().map(String::len).sum();
        assert!(
            (stored as usize) < payload / 2,
            "{codec}: {stored} bytes stored for {payload} of values"
        );
        // HTTP readers get the records inflated: JSON, and mqctl on the binary path.
        let answer = mqd.get(&format!(
            "/v1/topics/{topic}/partitions/0/records?offset=0&max_records=1000"
        ));
        let over_http: Vec<&str> = answer.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["value"].as_str().unwrap())
            .collect();
        assert_eq!(over_http, values, "{codec} over JSON");
        let lines = mqctl_consume(&mqd, &topic, 500, "%v");
        assert_eq!(lines, values, "{codec} through mqctl");
    }
}

#[test]
fn records_cross_between_kafka_clients_and_the_http_api() {
    let (mqd, bootstrap) = start();
    mqd.create_topic("bridge", 1);
    // HTTP in, Kafka out.
    let produced = mqd.post(
        "/v1/topics/bridge/records",
        &json!({"records": [
            {"key": "k1", "value": "from http", "headers": [{"key": "h", "value": "1"}]},
            {"value": "second"}
        ]}),
    );
    assert_eq!(produced.status, 200, "{:?}", produced.body);
    let got = read_all(&bootstrap, "bridge", 1, 2);
    assert_eq!(got[0].key.as_deref(), Some(&b"k1"[..]));
    assert_eq!(got[0].value.as_deref(), Some(&b"from http"[..]));
    assert_eq!(got[0].headers, vec![("h".to_owned(), Some(b"1".to_vec()))]);
    assert_eq!(got[1].key, None);
    // Kafka in, HTTP out.
    let producer = producer(&bootstrap, &[]);
    runtime().block_on(async {
        producer
            .send(
                FutureRecord::to("bridge").key("k2").payload("from kafka"),
                Duration::from_secs(30),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("acknowledged");
    });
    let fetched = eventually(DEADLINE, "the Kafka record over HTTP", || {
        let answer = mqd.get("/v1/topics/bridge/partitions/0/records?offset=2");
        let records = answer.body["records"].as_array()?.clone();
        (!records.is_empty()).then_some(records)
    });
    assert_eq!(fetched[0]["key"], "k2");
    assert_eq!(fetched[0]["value"], "from kafka");
    assert_eq!(fetched[0]["offset"], 2);
    // Stored as the Kafka producer sent it: no mq id, beside the HTTP records that have one.
    assert!(fetched[0].get("id").is_none(), "{:?}", fetched[0]);
    let http_records = mqd.get("/v1/topics/bridge/partitions/0/records?offset=0");
    assert!(http_records.body["records"][0]["id"].is_string());
    // mqctl reads the binary path, which serves both encodings as stored.
    let lines = mqctl_consume(&mqd, "bridge", 3, "%o %k %v %i");
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(lines[0].starts_with("0 k1 from http "), "{lines:?}");
    assert_eq!(lines[2], "2 k2 from kafka -");
    producer.flush(Duration::from_secs(5)).unwrap();
    assert_every_request_answered(&mqd);
}

#[test]
fn an_unknown_topic_is_kafkas_unknown_topic_or_partition() {
    let (_mqd, bootstrap) = start();
    let consumer: BaseConsumer = client_config(&bootstrap).create().unwrap();
    let metadata = consumer
        .fetch_metadata(Some("nowhere"), Duration::from_secs(10))
        .expect("Metadata answered");
    assert_eq!(
        metadata.topics()[0].error(),
        Some(rdkafka::types::RDKafkaRespErr::RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART),
    );
}

#[test]
fn the_kafka_bench_produces_and_consumes_and_checks_what_it_counts() {
    let (_mqd, bootstrap) = start();
    for (mode, topic) in [
        ("produce", "benched"),
        ("produce-batch", "batched"),
        ("consume", "benched"),
        ("consume-batch", "batched"),
    ] {
        let out = std::process::Command::new(mq_e2e::binary("kafka_bench"))
            .args([&bootstrap, mode, topic, "2000", "100"])
            .output()
            .expect("run kafka_bench");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(figures["records"], 2000, "{figures}");
        let timed = figures["timed_records"].as_u64().unwrap();
        assert!(timed > 0 && timed <= 2000, "{figures}");
        assert!(figures["records_per_sec"].as_f64().unwrap() > 0.0);
    }
}
