//! The Kafka listener driven by a real Kafka client (librdkafka, through the `rdkafka` crate):
//! metadata, topic creation, an idempotent `acks=all` producer and a consumer reading back
//! exactly what was sent, headers and large values, compressed batches, and records crossing
//! between Kafka clients and the HTTP API.

use mq_e2e::{eventually, Mqd};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;
use std::collections::HashMap;
use std::time::Duration;

const KAFKA_CONFIG: &str = "[kafka]\nlisten = \"127.0.0.1:0\"\n";
const DEADLINE: Duration = Duration::from_secs(60);

fn start() -> (Mqd, String) {
    start_with("")
}

fn start_with(more_config: &str) -> (Mqd, String) {
    let mqd = Mqd::start_with_config(&format!("{KAFKA_CONFIG}{more_config}"));
    let address = mqd.kafka_address();
    (mqd, address)
}

/// No request of the test was refused by closing its connection (an API or version the client
/// used that the listener does not serve, a frame it could not read).
fn assert_every_request_answered(mqd: &Mqd) {
    let log = mqd.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("kafka connection closed"))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
    let mut config = client_config(bootstrap);
    config
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("message.timeout.ms", "30000");
    for (key, value) in extra {
        config.set(*key, *value);
    }
    config.create().expect("a producer")
}

/// Queues every record, then waits for each acknowledgement (librdkafka batches them meanwhile).
fn send_all<'a, K, P>(
    producer: &FutureProducer,
    records: impl IntoIterator<Item = FutureRecord<'a, K, P>>,
) where
    K: rdkafka::message::ToBytes + ?Sized + 'a,
    P: rdkafka::message::ToBytes + ?Sized + 'a,
{
    runtime().block_on(async {
        let deliveries: Vec<_> = records
            .into_iter()
            .map(|record| {
                producer
                    .send_result(record)
                    .map_err(|(e, _)| e)
                    .expect("queued")
            })
            .collect();
        for delivery in deliveries {
            delivery
                .await
                .expect("delivered")
                .map_err(|(e, _)| e)
                .expect("acknowledged");
        }
    });
}

fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_replicated_topic(bootstrap, name, partitions, 1)
}

fn create_replicated_topic(bootstrap: &str, name: &str, partitions: i32, replicas: i32) {
    let admin: AdminClient<DefaultClientContext> =
        client_config(bootstrap).create().expect("an admin client");
    let created = runtime()
        .block_on(admin.create_topics(
            &[NewTopic::new(
                name,
                partitions,
                TopicReplication::Fixed(replicas),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        ))
        .expect("CreateTopics answered");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
}

/// Every record of every partition from the start, read with `assign` (no group) until `count`
/// came back.
fn read_all(bootstrap: &str, topic: &str, partitions: i32, count: usize) -> Vec<Owned> {
    read_all_from(bootstrap, topic, partitions, count, false)
}

/// [`read_all`], which may be told to read past the errors librdkafka reports while a broker
/// it knows is dead (they are transient: it finds each partition's new leader).
fn read_all_from(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    count: usize,
    a_broker_is_dead: bool,
) -> Vec<Owned> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", "readers")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    for partition in 0..partitions {
        assignment
            .add_partition_offset(topic, partition, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&assignment).expect("assign");
    let mut got = Vec::with_capacity(count);
    let started = std::time::Instant::now();
    while got.len() < count {
        assert!(
            started.elapsed() < DEADLINE,
            "read {} of {count} records",
            got.len()
        );
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = match message {
                Err(_) if a_broker_is_dead => continue,
                message => message.expect("a record, not an error"),
            };
            got.push(Owned {
                partition: message.partition(),
                offset: message.offset(),
                key: message.key().map(<[u8]>::to_vec),
                value: message.payload().map(<[u8]>::to_vec),
                headers: message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
                            .collect()
                    })
                    .unwrap_or_default(),
                timestamp: message.timestamp().to_millis(),
            });
        }
    }
    got
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Owned {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
    timestamp: Option<i64>,
}

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
                    .timestamp(1_700_000_000_123),
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
    assert_eq!(got[0].timestamp, Some(1_700_000_000_123));
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

/// Partition 0 of `topic` from offset 0 through `mqctl consume` (the HTTP binary path), one
/// line per record in `format`.
fn mqctl_consume(mqd: &Mqd, topic: &str, max: usize, format: &str) -> Vec<String> {
    let max = max.to_string();
    let consumed = std::process::Command::new(mq_e2e::binary("mqctl"))
        .args(["--server", &mqd.base, "consume", topic, "--partition", "0"])
        .args(["--offset", "0", "--max-messages", &max, "--format", format])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run mqctl");
    assert!(consumed.status.success(), "{consumed:?}");
    String::from_utf8(consumed.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
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

/// A Kafka group member that records what it read and what it committed.
struct Member {
    consumer: BaseConsumer,
    read: Vec<(i32, i64)>,
}

impl Member {
    fn new(bootstrap: &str, group: &str, topic: &str) -> Member {
        Member::with(bootstrap, group, topic, &[("session.timeout.ms", "6000")])
    }

    fn with(bootstrap: &str, group: &str, topic: &str, extra: &[(&str, &str)]) -> Member {
        let mut config = client_config(bootstrap);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("heartbeat.interval.ms", "100")
            .set("fetch.wait.max.ms", "50");
        for (key, value) in extra {
            config.set(*key, *value);
        }
        let consumer: BaseConsumer = config.create().expect("a consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        Member {
            consumer,
            read: Vec::new(),
        }
    }

    /// Polls once; a record read is committed at once (its offset + 1), and recorded in
    /// `committed` when the commit was accepted. A record read again after its commit was
    /// accepted is a violation.
    fn poll(&mut self, committed: &mut std::collections::HashSet<(i32, i64)>) {
        let Some(message) = self.consumer.poll(Duration::from_millis(2)) else {
            return;
        };
        let message = message.expect("a record, not an error");
        let at = (message.partition(), message.offset());
        assert!(
            !committed.contains(&at),
            "partition {} offset {} was read again after its commit was accepted",
            at.0,
            at.1
        );
        self.read.push(at);
        if self
            .consumer
            .commit_message(&message, rdkafka::consumer::CommitMode::Sync)
            .is_ok()
        {
            committed.insert(at);
        }
    }

    fn assigned(&self) -> usize {
        self.consumer.assignment().map_or(0, |a| a.count())
    }
}

/// Keyed by the value, so that they spread over the partitions.
fn produce_values(bootstrap: &str, topic: &str, values: impl Iterator<Item = String>) {
    let producer = producer(bootstrap, &[]);
    let values: Vec<String> = values.collect();
    send_all(
        &producer,
        values
            .iter()
            .map(|v| FutureRecord::to(topic).key(v).payload(v)),
    );
}

#[test]
fn a_kafka_group_splits_partitions_hands_them_over_and_resumes_from_its_commits() {
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "work", 4);
    produce_values(&bootstrap, "work", (0..400).map(|i| format!("first {i}")));
    let mut committed = std::collections::HashSet::new();
    let mut a = Member::new(&bootstrap, "workers", "work");
    let mut b = Member::new(&bootstrap, "workers", "work");
    // Both members share the partitions at some point while they read the first 400.
    let mut both_assigned = false;
    let started = std::time::Instant::now();
    while a.read.len() + b.read.len() < 400 || !both_assigned {
        assert!(
            started.elapsed() < DEADLINE,
            "read {} + {}, assigned {} + {}",
            a.read.len(),
            b.read.len(),
            a.assigned(),
            b.assigned()
        );
        a.poll(&mut committed);
        b.poll(&mut committed);
        both_assigned |= a.assigned() == 2 && b.assigned() == 2;
    }
    assert!(
        !a.read.is_empty() && !b.read.is_empty(),
        "both members read"
    );
    // B leaves; A takes every partition over and reads what comes next.
    b.consumer.unsubscribe();
    drop(b);
    produce_values(&bootstrap, "work", (0..200).map(|i| format!("second {i}")));
    let before = a.read.len();
    let started = std::time::Instant::now();
    while committed.len() < 600 {
        assert!(
            started.elapsed() < DEADLINE,
            "committed {}",
            committed.len()
        );
        a.poll(&mut committed);
    }
    assert!(a.read.len() > before);
    assert_eq!(a.assigned(), 4);
    // Every record was committed exactly once; the group's lag over HTTP is 0.
    let described = mqd.get("/v1/groups/workers");
    assert_eq!(described.status, 200, "{:?}", described.body);
    let lag: u64 = described.body["offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["lag"].as_u64().unwrap())
        .sum();
    assert_eq!(lag, 0, "{:?}", described.body);
    a.consumer.unsubscribe();
    drop(a);
    // A new member resumes from the commits: it reads only what was produced after.
    produce_values(&bootstrap, "work", (0..50).map(|i| format!("third {i}")));
    let mut c = Member::new(&bootstrap, "workers", "work");
    let started = std::time::Instant::now();
    while c.read.len() < 50 {
        assert!(started.elapsed() < DEADLINE, "read {}", c.read.len());
        c.poll(&mut committed);
    }
    assert_eq!(committed.len(), 650);
    assert_every_request_answered(&mqd);
}

#[test]
fn the_kafka_bench_produces_and_consumes_and_checks_what_it_counts() {
    let (_mqd, bootstrap) = start();
    for mode in ["produce", "consume", "consume-batch"] {
        let out = std::process::Command::new(mq_e2e::binary("kafka_bench"))
            .args([&bootstrap, mode, "benched", "2000", "100"])
            .output()
            .expect("run kafka_bench");
        assert!(
            out.status.success(),
            "{mode}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let figures: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(figures["records"], 2000, "{figures}");
        assert!(figures["records_per_sec"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn a_kafka_client_sees_the_cluster_and_reaches_each_partitions_leader() {
    let mut cluster =
        mq_e2e::cluster::Cluster::start_with_kafka(3, mq_e2e::cluster::DEFAULT_TIMINGS);
    let bootstrap = cluster.kafka_bootstrap();
    // librdkafka's admin client sends CreateTopics to the controller Metadata names.
    create_replicated_topic(&bootstrap, "spread", 3, 3);
    let consumer: BaseConsumer = client_config(&bootstrap).create().unwrap();
    let leaders = eventually(
        DEADLINE,
        "every partition led with 3 replicas in sync",
        || {
            let metadata = consumer
                .fetch_metadata(Some("spread"), Duration::from_secs(10))
                .ok()?;
            assert_eq!(metadata.brokers().len(), 3);
            let topic = metadata.topics().first()?;
            let partitions = topic.partitions();
            (partitions.len() == 3
                && partitions
                    .iter()
                    .all(|p| p.leader() > 0 && p.isr().len() == 3))
            .then(|| {
                partitions
                    .iter()
                    .map(|p| p.leader())
                    .collect::<std::collections::BTreeSet<_>>()
            })
        },
    );
    assert_eq!(
        leaders.len(),
        3,
        "the three partitions are led by three nodes"
    );
    // Each partition's produce and fetch go to its leader.
    let producer = producer(&bootstrap, &[]);
    let sent: Vec<String> = (0..3000).map(|i| format!("record {i}")).collect();
    send_all(
        &producer,
        sent.iter()
            .map(|v| FutureRecord::to("spread").key(v).payload(v)),
    );
    let got = read_all(&bootstrap, "spread", 3, sent.len());
    let mut values: Vec<String> = got
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
        .collect();
    values.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(values, expected);
    // A group member finds its coordinator and commits there.
    let mut committed = std::collections::HashSet::new();
    let mut member = Member::new(&bootstrap, "cluster-readers", "spread");
    let started = std::time::Instant::now();
    while committed.len() < sent.len() {
        assert!(
            started.elapsed() < DEADLINE,
            "committed {}",
            committed.len()
        );
        member.poll(&mut committed);
    }
    drop(member);
    // The followers hold the Kafka batches as stored by their leaders: with a leader killed,
    // the new one serves every record.
    let controller = cluster.wait_for_controller();
    let victim = (1..=3).find(|&n| n != controller).unwrap();
    cluster.kill(victim);
    let again = read_all_from(&bootstrap, "spread", 3, sent.len(), true);
    let mut values: Vec<String> = again
        .into_iter()
        .map(|r| String::from_utf8(r.value.unwrap()).unwrap())
        .collect();
    values.sort();
    assert_eq!(values, expected, "every record after node {victim} died");
}

#[test]
fn a_request_claiming_two_billion_topics_closes_its_connection_and_nothing_else() {
    use std::io::Read;
    let (mqd, bootstrap) = start();
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    // Metadata v1 whose topic array claims 2^31 - 1 entries, none sent.
    send_request(&mut socket, 3, 1, &i32::MAX.to_be_bytes());
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "no answer to a malformed frame: {answer:?}"
    );
    // The node lives on, for HTTP and Kafka clients alike.
    assert_eq!(mqd.get("/health").status, 200);
    let consumer: BaseConsumer = client_config(&bootstrap).create().unwrap();
    consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("Metadata still answered");
    assert!(
        mqd.log().contains("malformed Metadata v1 request"),
        "{}",
        mqd.log()
    );
}

/// Sends one request frame: header v1 (key, version, correlation id 9, no client id), `body`.
fn send_request(socket: &mut std::net::TcpStream, key: i16, version: i16, body: &[u8]) {
    use std::io::Write;
    let mut frame = Vec::new();
    frame.extend_from_slice(&key.to_be_bytes());
    frame.extend_from_slice(&version.to_be_bytes());
    frame.extend_from_slice(&9i32.to_be_bytes());
    frame.extend_from_slice(&(-1i16).to_be_bytes());
    frame.extend_from_slice(body);
    socket
        .write_all(&(frame.len() as i32).to_be_bytes())
        .unwrap();
    socket.write_all(&frame).unwrap();
}

/// [`send_request`], then reads the answer's frame (checking its correlation id).
fn exchange(socket: &mut std::net::TcpStream, key: i16, version: i16, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    send_request(socket, key, version, body);
    let mut size = [0u8; 4];
    socket
        .read_exact(&mut size)
        .expect("an answer, not a closed connection");
    let mut answer = vec![0u8; i32::from_be_bytes(size) as usize];
    socket.read_exact(&mut answer).unwrap();
    assert_eq!(answer[..4], 9i32.to_be_bytes(), "the correlation id");
    answer
}

#[test]
fn an_api_the_listener_does_not_serve_is_answered_and_the_connection_stays_open() {
    let (mqd, bootstrap) = start();
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    // SaslHandshake v1 asking for PLAIN: UNSUPPORTED_SASL_MECHANISM (33).
    let answer = exchange(&mut socket, 17, 1, b"\x00\x05PLAIN");
    assert_eq!(i16::from_be_bytes([answer[4], answer[5]]), 33, "{answer:?}");
    // DescribeAcls v1, any ACL: SECURITY_DISABLED (54), as a broker without an authorizer.
    let mut body = vec![1u8]; // resource type: any
    body.extend_from_slice(&(-1i16).to_be_bytes()); // resource name: null
    body.push(1); // pattern type: any
    body.extend_from_slice(&(-1i16).to_be_bytes()); // principal: null
    body.extend_from_slice(&(-1i16).to_be_bytes()); // host: null
    body.extend_from_slice(&[1, 1]); // operation, permission: any
    let answer = exchange(&mut socket, 29, 1, &body);
    // correlation id, throttle, error code
    assert_eq!(i16::from_be_bytes([answer[8], answer[9]]), 54, "{answer:?}");
    // The same connection still answers what is served: ApiVersions v0.
    let answer = exchange(&mut socket, 18, 0, &[]);
    assert_eq!(i16::from_be_bytes([answer[4], answer[5]]), 0);
    drop(socket);
    assert_every_request_answered(&mqd);
}

/// `kafka-configs --alter` and admin clients change a topic's configs: AlterConfigs through
/// librdkafka's admin client (the whole config: what it leaves out goes back to its default),
/// IncrementalAlterConfigs v0 in a raw frame (SET one, DELETE another). The change is the topic's
/// own, so the HTTP API shows it too; a config mq does not alter is refused with INVALID_CONFIG.
#[test]
fn topic_configs_are_altered_through_kafka() {
    use rdkafka::admin::{AlterConfig, ResourceSpecifier};
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "tuned", 1);
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let default_retention = mqd.get("/v1/topics/tuned").body["config"]["retention_ms"].clone();

    let alter = AlterConfig::new(ResourceSpecifier::Topic("tuned"))
        .set("retention.ms", "60000")
        .set("retention.bytes", "1048576");
    let altered = runtime()
        .block_on(admin.alter_configs(&[alter], &AdminOptions::new()))
        .expect("AlterConfigs answered");
    assert!(altered[0].is_ok(), "{altered:?}");
    let config = &mqd.get("/v1/topics/tuned").body["config"];
    assert_eq!(
        (
            config["retention_ms"].as_u64(),
            config["retention_bytes"].as_u64()
        ),
        (Some(60_000), Some(1 << 20))
    );
    let described = runtime()
        .block_on(
            admin.describe_configs(&[ResourceSpecifier::Topic("tuned")], &AdminOptions::new()),
        )
        .expect("DescribeConfigs answered");
    let described = described[0].as_ref().expect("the topic's configs");
    let retention = described.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("60000"));
    assert!(!retention.is_read_only, "alterable: {retention:?}");
    assert_eq!(
        retention.source,
        rdkafka::admin::ConfigSource::DynamicTopic,
        "set for the topic"
    );
    let segment = described.get("segment.bytes").expect("segment.bytes");
    assert!(segment.is_read_only, "{segment:?}");

    // A config mq does not alter, in a raw AlterConfigs v0 (the rdkafka crate drops the
    // per-resource error): INVALID_CONFIG (40) with a message naming it.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // one resource
    body.push(2); // a topic
    body.extend_from_slice(b"\x00\x05tuned");
    body.extend_from_slice(&1i32.to_be_bytes()); // one config
    body.extend_from_slice(b"\x00\x0dsegment.bytes");
    body.extend_from_slice(b"\x00\x041024");
    body.push(0); // validate_only
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let answer = exchange(&mut socket, 33, 0, &body);
    // Correlation id, throttle, one resource: error code, message.
    assert_eq!(answer[8..12], 1i32.to_be_bytes(), "{answer:?}");
    assert_eq!(
        i16::from_be_bytes([answer[12], answer[13]]),
        40,
        "{answer:?}"
    );
    assert!(
        String::from_utf8_lossy(&answer).contains("segment.bytes=1024"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        mqd.get("/v1/topics/tuned").body["config"]["retention_ms"],
        60_000,
        "a refused alter changes nothing"
    );

    // IncrementalAlterConfigs v0: topic "tuned", SET retention.bytes=-1 (unlimited), DELETE
    // retention.ms (back to the node's default), validate_only false.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // one resource
    body.push(2); // a topic
    body.extend_from_slice(b"\x00\x05tuned");
    body.extend_from_slice(&2i32.to_be_bytes()); // two configs
    body.extend_from_slice(b"\x00\x0fretention.bytes");
    body.push(0); // SET
    body.extend_from_slice(b"\x00\x02-1");
    body.extend_from_slice(b"\x00\x0cretention.ms");
    body.push(1); // DELETE
    body.extend_from_slice(&(-1i16).to_be_bytes()); // null value
    body.push(0); // validate_only
    let answer = exchange(&mut socket, 44, 0, &body);
    // Correlation id, throttle, one resource: error code 0.
    assert_eq!(answer[8..12], 1i32.to_be_bytes(), "{answer:?}");
    assert_eq!(
        i16::from_be_bytes([answer[12], answer[13]]),
        0,
        "{answer:?}"
    );
    let config = &mqd.get("/v1/topics/tuned").body["config"];
    assert_eq!(config["retention_bytes"], 0, "unlimited");
    assert_eq!(config["retention_ms"], default_retention);
}

/// DeleteRecords through librdkafka's admin client (`kafka-delete-records`): the low watermark it
/// answers is the partition's new log start, over HTTP too; `Offset::End` deletes up to the high
/// watermark.
#[test]
fn records_are_deleted_through_kafka() {
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "purged", 2);
    for partition in 0..2 {
        let records: Vec<_> = (0..10).map(|i| json!({"value": format!("v{i}")})).collect();
        let produced = mqd.post(
            &format!("/v1/topics/purged/partitions/{partition}/records"),
            &json!({ "records": records }),
        );
        assert_eq!(produced.status, 200, "{:?}", produced.body);
    }
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("purged", 0, Offset::Offset(4))
        .unwrap();
    offsets
        .add_partition_offset("purged", 1, Offset::End)
        .unwrap();
    let deleted = runtime()
        .block_on(admin.delete_records(&offsets, &AdminOptions::new()))
        .expect("DeleteRecords answered");
    let low: Vec<(i32, Offset)> = deleted
        .elements()
        .iter()
        .map(|e| {
            assert!(e.error().is_ok(), "{e:?}");
            (e.partition(), e.offset())
        })
        .collect();
    assert_eq!(low, [(0, Offset::Offset(4)), (1, Offset::Offset(10))]);
    let described = mqd.get("/v1/topics/purged").body;
    assert_eq!(described["partitions"][0]["log_start"], 4);
    assert_eq!(described["partitions"][1]["log_start"], 10);

    let mut past = TopicPartitionList::new();
    past.add_partition_offset("purged", 0, Offset::Offset(11))
        .unwrap();
    let refused = runtime()
        .block_on(admin.delete_records(&past, &AdminOptions::new()))
        .expect("DeleteRecords answered");
    assert_eq!(
        refused.elements()[0].error(),
        Err(rdkafka::error::KafkaError::OffsetFetch(
            rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange
        )),
        "past the high watermark: {refused:?}"
    );
    assert_eq!(
        mqd.get("/v1/topics/purged").body["partitions"][0]["log_start"],
        4
    );
}

/// Static membership (KIP-345): a consumer with a `group.instance.id` that restarts takes its own
/// place back, partitions and generation, without a rebalance, and does not wait for its previous
/// session (30 s here) to expire; the group never shows two members for one name.
#[test]
fn a_static_member_restarts_into_its_own_place() {
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "steady", 2);
    produce_values(&bootstrap, "steady", (0..100).map(|i| format!("first {i}")));
    let static_member = [
        ("session.timeout.ms", "30000"),
        ("group.instance.id", "worker-1"),
    ];
    let mut committed = std::collections::HashSet::new();
    let mut first = Member::with(&bootstrap, "statics", "steady", &static_member);
    let started = std::time::Instant::now();
    while committed.len() < 100 {
        assert!(
            started.elapsed() < DEADLINE,
            "committed {}",
            committed.len()
        );
        first.poll(&mut committed);
    }
    let before = mqd.get("/v1/groups/statics").body;
    assert_eq!(before["members"].as_array().unwrap().len(), 1, "{before}");
    assert_eq!(before["members"][0]["instance_id"], "worker-1", "{before}");
    // The process goes away without leaving (a static member does not send LeaveGroup).
    drop(first);

    produce_values(&bootstrap, "steady", (0..50).map(|i| format!("second {i}")));
    let mut second = Member::with(&bootstrap, "statics", "steady", &static_member);
    let started = std::time::Instant::now();
    while committed.len() < 150 {
        assert!(
            started.elapsed() < DEADLINE,
            "committed {}",
            committed.len()
        );
        second.poll(&mut committed);
    }
    let after = mqd.get("/v1/groups/statics").body;
    let members = after["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "one member for one name: {after}");
    assert_eq!(members[0]["instance_id"], "worker-1");
    assert_ne!(
        members[0]["member_id"], before["members"][0]["member_id"],
        "a new member id"
    );
    assert_eq!(
        after["generation"], before["generation"],
        "no rebalance: {after}"
    );
    assert_every_request_answered(&mqd);
}
