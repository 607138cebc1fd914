//! What every Kafka test shares: a node with a Kafka listener, librdkafka clients configured
//! for tests (producer, consumer, admin), reading a whole topic back, and `mqctl consume` for the
//! HTTP side.

use mq_e2e::Mqd;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::{ClientConfig, RDKafkaLogLevel};
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use std::time::Duration;

pub(crate) const KAFKA_CONFIG: &str = "[kafka]\nlisten = \"127.0.0.1:0\"\n";
pub(crate) const DEADLINE: Duration = Duration::from_secs(60);

pub(crate) fn start() -> (Mqd, String) {
    start_with("")
}

pub(crate) fn start_with(more_config: &str) -> (Mqd, String) {
    let mqd = Mqd::start_with_config(&format!("{KAFKA_CONFIG}{more_config}"));
    let address = mqd.kafka_address();
    (mqd, address)
}

/// No request of the test was refused by closing its connection (an API or version the client
/// used that the listener does not serve, a frame it could not read).
pub(crate) fn assert_every_request_answered(mqd: &Mqd) {
    let log = mqd.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("kafka connection closed"))
        .collect();
    assert!(refused.is_empty(), "{refused:#?}");
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

pub(crate) fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", bootstrap)
        .set("broker.address.family", "v4")
        .set("log_level", "4");
    config
}

pub(crate) fn producer(bootstrap: &str, extra: &[(&str, &str)]) -> FutureProducer {
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
pub(crate) fn send_all<'a, K, P>(
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

pub(crate) fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    create_replicated_topic(bootstrap, name, partitions, 1)
}

pub(crate) fn create_replicated_topic(bootstrap: &str, name: &str, partitions: i32, replicas: i32) {
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
pub(crate) fn read_all(bootstrap: &str, topic: &str, partitions: i32, count: usize) -> Vec<Owned> {
    read_all_from(bootstrap, topic, partitions, count, false)
}

/// [`read_all`], which may be told to read past the errors librdkafka reports while a broker
/// it knows is dead (they are transient: it finds each partition's new leader).
pub(crate) fn read_all_from(
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
pub(crate) struct Owned {
    pub(crate) partition: i32,
    pub(crate) offset: i64,
    pub(crate) key: Option<Vec<u8>>,
    pub(crate) value: Option<Vec<u8>>,
    pub(crate) headers: Vec<(String, Option<Vec<u8>>)>,
    pub(crate) timestamp: Option<i64>,
}

/// Partition 0 of `topic` from offset 0 through `mqctl consume` (the HTTP binary path), one
/// line per record in `format`.
pub(crate) fn mqctl_consume(mqd: &Mqd, topic: &str, max: usize, format: &str) -> Vec<String> {
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

/// A Kafka group member that records what it read and what it committed.
pub(crate) struct Member {
    pub(crate) consumer: BaseConsumer<ClientLog>,
    pub(crate) read: Vec<(i32, i64)>,
}

/// librdkafka's own account of a member (`debug=cgrp,topic,fetch`: its group protocol, offset
/// queries and fetches), its last lines kept to be printed when the member reads a committed
/// record again: whether the broker or the client moved the position back is in there.
#[derive(Default)]
pub(crate) struct ClientLog(std::sync::Mutex<std::collections::VecDeque<String>>);

/// Lines of a member's client log kept (the newest).
const CLIENT_LOG_LINES: usize = 3000;

impl ClientContext for ClientLog {
    fn log(&self, level: RDKafkaLogLevel, facility: &str, message: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() == CLIENT_LOG_LINES {
            lines.pop_front();
        }
        lines.push_back(format!("{level:?} {facility} {message}"));
    }
}

impl ConsumerContext for ClientLog {}

impl ClientLog {
    fn dump(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        lines
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Member {
    pub(crate) fn new(bootstrap: &str, group: &str, topic: &str) -> Member {
        Member::with(bootstrap, group, topic, &[("session.timeout.ms", "6000")])
    }

    pub(crate) fn with(
        bootstrap: &str,
        group: &str,
        topic: &str,
        extra: &[(&str, &str)],
    ) -> Member {
        let mut config = client_config(bootstrap);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("heartbeat.interval.ms", "100")
            .set("fetch.wait.max.ms", "50")
            .set("debug", "cgrp,topic,fetch")
            // rust-rdkafka sets librdkafka's level from the `log` crate's, off in tests.
            .set_log_level(RDKafkaLogLevel::Debug);
        for (key, value) in extra {
            config.set(*key, *value);
        }
        let consumer: BaseConsumer<ClientLog> = config
            .create_with_context(ClientLog::default())
            .expect("a consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        Member {
            consumer,
            read: Vec::new(),
        }
    }

    /// Polls once; a record read is committed at once (its offset + 1), and recorded in
    /// `committed` when the commit was accepted. A record read again after its commit was
    /// accepted is a violation.
    pub(crate) fn poll(&mut self, committed: &mut std::collections::HashSet<(i32, i64)>) {
        let Some(message) = self.consumer.poll(Duration::from_millis(2)) else {
            return;
        };
        let message = message.expect("a record, not an error");
        let at = (message.partition(), message.offset());
        assert!(
            !committed.contains(&at),
            "partition {} offset {} was read again after its commit was accepted; this \
             member's librdkafka log, newest last:\n{}",
            at.0,
            at.1,
            self.consumer.context().dump()
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

    pub(crate) fn assigned(&self) -> usize {
        self.consumer.assignment().map_or(0, |a| a.count())
    }
}

/// Keyed by the value, so that they spread over the partitions.
pub(crate) fn produce_values(bootstrap: &str, topic: &str, values: impl Iterator<Item = String>) {
    let producer = producer(bootstrap, &[]);
    let values: Vec<String> = values.collect();
    send_all(
        &producer,
        values
            .iter()
            .map(|v| FutureRecord::to(topic).key(v).payload(v)),
    );
}

/// Sends one request frame: header v1 (key, version, correlation id 9, no client id), `body`.
pub(crate) fn send_request(socket: &mut std::net::TcpStream, key: i16, version: i16, body: &[u8]) {
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
pub(crate) fn exchange(
    socket: &mut std::net::TcpStream,
    key: i16,
    version: i16,
    body: &[u8],
) -> Vec<u8> {
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
