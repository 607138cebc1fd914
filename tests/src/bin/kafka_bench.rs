//! Produce and consume through librdkafka (the `rdkafka` crate) against a Kafka listener, to put
//! a Kafka client's figures beside `mqctl bench` in docs/BENCHMARKS.md.
//!
//! `kafka_bench BOOTSTRAP produce|consume TOPIC RECORDS SIZE`
//!
//! - `produce` creates TOPIC (one partition), sends RECORDS values of SIZE bytes with
//!   `acks=all`, `enable.idempotence=true`, `linger.ms=5`, `batch.size=1000000`, no
//!   compression, waits for every acknowledgement, and checks the partition's high watermark
//!   is RECORDS;
//! - `consume` reads RECORDS from offset 0 of TOPIC's partition 0 and checks each offset is the
//!   one after the last.
//!
//! Prints one JSON line: mode, records, seconds, records_per_sec, mb_per_sec.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Message, Offset, TopicPartitionList};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, mode, topic, records, size] = args.as_slice() else {
        eprintln!("usage: kafka_bench BOOTSTRAP produce|consume TOPIC RECORDS SIZE");
        std::process::exit(2);
    };
    let records: u64 = records.parse().expect("RECORDS is a number");
    let size: usize = size.parse().expect("SIZE is a number");
    let seconds = match mode.as_str() {
        "produce" => produce(bootstrap, topic, records, size),
        "consume" => consume(bootstrap, topic, records),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    let rate = records as f64 / seconds;
    println!(
        "{{\"mode\":\"{mode}\",\"records\":{records},\"size\":{size},\"seconds\":{seconds:.3},\"records_per_sec\":{rate:.0},\"mb_per_sec\":{:.1}}}",
        rate * size as f64 / 1e6
    );
}

/// The client's config: `bootstrap.servers`, then any `key=value,…` in `KAFKA_BENCH_CONFIG`
/// (applied last, over the settings each mode sets).
fn config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

fn with_overrides(config: &mut ClientConfig) -> &mut ClientConfig {
    if let Ok(extra) = std::env::var("KAFKA_BENCH_CONFIG") {
        for pair in extra.split(',').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .expect("KAFKA_BENCH_CONFIG: key=value,…");
            config.set(key, value);
        }
    }
    config
}

fn produce(bootstrap: &str, topic: &str, records: u64, size: usize) -> f64 {
    let admin: AdminClient<DefaultClientContext> = config(bootstrap).create().expect("admin");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let created = runtime
        .block_on(admin.create_topics(
            &[NewTopic::new(topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        ))
        .expect("CreateTopics");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let mut producer = config(bootstrap);
    producer
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "2000000")
        .set("queue.buffering.max.kbytes", "1048576");
    let producer: BaseProducer = with_overrides(&mut producer).create().expect("producer");
    // Metadata first, so the clock measures records, not the client's start.
    producer
        .client()
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .expect("metadata");
    let value = vec![b'x'; size];
    let started = Instant::now();
    for _ in 0..records {
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(&value[..]);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(1));
                }
                Err((error, _)) => panic!("send: {error}"),
            }
        }
    }
    producer.flush(Duration::from_secs(120)).expect("flush");
    let seconds = started.elapsed().as_secs_f64();
    let (_, high) = producer
        .client()
        .fetch_watermarks(topic, 0, Duration::from_secs(10))
        .expect("watermarks");
    assert_eq!(high as u64, records, "every record acknowledged and stored");
    seconds
}

fn consume(bootstrap: &str, topic: &str, records: u64) -> f64 {
    let mut consumer = config(bootstrap);
    consumer
        .set("group.id", "kafka-bench")
        .set("enable.auto.commit", "false")
        .set("fetch.max.bytes", "52428800")
        .set("max.partition.fetch.bytes", "10485760")
        .set("queued.max.messages.kbytes", "1048576");
    let consumer: BaseConsumer = with_overrides(&mut consumer).create().expect("consumer");
    let mut assignment = TopicPartitionList::new();
    assignment
        .add_partition_offset(topic, 0, Offset::Beginning)
        .unwrap();
    consumer.assign(&assignment).expect("assign");
    let started = Instant::now();
    let mut next = 0i64;
    while (next as u64) < records {
        if let Some(message) = consumer.poll(Duration::from_millis(100)) {
            let message = message.expect("a record");
            assert_eq!(message.offset(), next, "offsets in order, none missing");
            next += 1;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "read {next} of {records}"
        );
    }
    started.elapsed().as_secs_f64()
}
