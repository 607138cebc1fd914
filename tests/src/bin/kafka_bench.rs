//! Produce and consume through librdkafka (the `rdkafka` crate) against a Kafka listener, to put
//! a Kafka client's figures beside `mqctl bench` in docs/BENCHMARKS.md.
//!
//! `kafka_bench BOOTSTRAP produce|produce-batch|consume|consume-batch TOPIC RECORDS SIZE`
//!
//! - `produce` creates TOPIC (one partition), sends RECORDS values of SIZE bytes with
//!   `acks=all`, `enable.idempotence=true`, `linger.ms=5`, `batch.size=1000000`, no
//!   compression, waits for every acknowledgement, and checks the partition's high watermark
//!   is RECORDS (unless `KAFKA_BENCH_NO_WATERMARK_CHECK` is set). The first record goes alone
//!   and is not timed: the clock starts once it is acknowledged, because an idempotent
//!   librdkafka producer sends nothing until it has its producer id, about 0.45 s after it
//!   starts against any broker here, and that is the client's start, not the produce;
//! - `produce-batch` does the same handing librdkafka 10,000 records per call
//!   (`rd_kafka_produce_batch`, its public batch API, which takes the clock and the topic's lock
//!   once per call instead of once per record), as `consume-batch` does on the read side;
//! - `consume` reads RECORDS from offset 0 of TOPIC's partition 0 and checks each offset is the
//!   one after the last, one `poll` per record; the clock starts when the first records are
//!   handed over, and those are not counted (the client's start, about 0.45 s against any
//!   broker, is not the read);
//! - `consume-batch` does the same taking up to 10,000 records per call from librdkafka's
//!   consumer queue (`rd_kafka_consume_batch_queue`, what confluent-kafka's
//!   `Consumer.consume(num_messages)` calls), so the client's per-call cost is not paid per record.
//!
//! Prints one JSON line: mode, records, timed_records (those the clock ran for), seconds,
//! records_per_sec, mb_per_sec.

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::{bindings, Message, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, bootstrap, mode, topic, records, size] = args.as_slice() else {
        eprintln!("usage: kafka_bench BOOTSTRAP produce|produce-batch|consume|consume-batch TOPIC RECORDS SIZE");
        std::process::exit(2);
    };
    let records: u64 = records.parse().expect("RECORDS is a number");
    let size: usize = size.parse().expect("SIZE is a number");
    let measured = match mode.as_str() {
        "produce" => produce(bootstrap, topic, records, size, false),
        "produce-batch" => produce(bootstrap, topic, records, size, true),
        "consume" => consume(bootstrap, topic, records, false),
        "consume-batch" => consume(bootstrap, topic, records, true),
        other => {
            eprintln!("unknown mode {other}");
            std::process::exit(2);
        }
    };
    let Measured {
        seconds,
        records: timed,
    } = measured;
    let rate = timed as f64 / seconds;
    println!(
        "{{\"mode\":\"{mode}\",\"records\":{records},\"timed_records\":{timed},\"size\":{size},\"seconds\":{seconds:.3},\"records_per_sec\":{rate:.0},\"mb_per_sec\":{:.1}}}",
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

fn produce(bootstrap: &str, topic: &str, records: u64, size: usize, batched: bool) -> Measured {
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
    let producer: Bench = with_overrides(&mut producer)
        .create_with_context(CountFailures::default())
        .expect("producer");
    let value = vec![b'x'; size];
    // The first record alone, untimed: once it is acknowledged the producer has its id, the
    // partition's leader and a connection to it.
    let untimed = records.min(1);
    send_one_by_one(&producer, topic, untimed, &value);
    wait_for_acknowledgements(&producer);
    let started = Instant::now();
    if batched {
        produce_batches(&producer, topic, records - untimed, &value);
    } else {
        send_one_by_one(&producer, topic, records - untimed, &value);
    }
    wait_for_acknowledgements(&producer);
    let timed = Measured {
        seconds: started.elapsed().as_secs_f64(),
        records: records - untimed,
    };
    let failed = producer.context().failed.load(Ordering::Relaxed);
    assert_eq!(failed, 0, "records whose delivery failed");
    // Every record was acknowledged; a broker may report its high watermark a moment later, so
    // it is polled, not read once. `KAFKA_BENCH_NO_WATERMARK_CHECK=1` skips the check, for a
    // peer whose ListOffsets does not count what it stores (the consume run reads every offset).
    if std::env::var_os("KAFKA_BENCH_NO_WATERMARK_CHECK").is_some() {
        return timed;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, high) = producer
            .client()
            .fetch_watermarks(topic, 0, Duration::from_secs(10))
            .expect("watermarks");
        if high as u64 == records || Instant::now() >= deadline {
            assert_eq!(high as u64, records, "every record acknowledged and stored");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    timed
}

/// Hands librdkafka `records` copies of `value`, one `send` per record.
fn send_one_by_one(producer: &Bench, topic: &str, records: u64, value: &[u8]) {
    for _ in 0..records {
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(value);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    record = back;
                    serve_delivery_reports(producer);
                }
                Err((error, _)) => panic!("send: {error}"),
            }
        }
    }
}

/// Hands `records` copies of `value` to librdkafka for partition 0 of `topic`, 10,000 per
/// `rd_kafka_produce_batch` call (which the `rdkafka` crate does not wrap). Records the queue
/// had no room for are handed over again after serving delivery reports.
fn produce_batches(producer: &Bench, topic: &str, records: u64, value: &[u8]) {
    const PER_CALL: u64 = 10_000;
    let name = std::ffi::CString::new(topic).expect("a topic name without NUL");
    // SAFETY: the client outlives the handle (the borrow of `producer`); `TopicHandle` releases
    // it once, when this function returns or unwinds.
    let handle = TopicHandle(unsafe {
        bindings::rd_kafka_topic_new(
            producer.client().native_ptr(),
            name.as_ptr(),
            std::ptr::null_mut(),
        )
    });
    assert!(!handle.0.is_null(), "a topic handle");
    let blank = || {
        // SAFETY: an all-zero `rd_kafka_message_t` is a valid C struct: null pointers, zero
        // lengths, no error.
        let mut message: bindings::rd_kafka_message_t = unsafe { std::mem::zeroed() };
        message.payload = value.as_ptr() as *mut std::ffi::c_void;
        message.len = value.len();
        message
    };
    let mut sent = 0u64;
    let mut pending: Vec<bindings::rd_kafka_message_t> = Vec::new();
    while sent < records {
        let count = PER_CALL.min(records - sent) as usize;
        pending.clear();
        pending.resize_with(count, blank);
        loop {
            // SAFETY: `pending` holds `len` messages whose payloads point into `value`;
            // RD_KAFKA_MSG_F_COPY makes librdkafka copy them before the call returns.
            let taken = unsafe {
                bindings::rd_kafka_produce_batch(
                    handle.0,
                    0,
                    bindings::RD_KAFKA_MSG_F_COPY,
                    pending.as_mut_ptr(),
                    pending.len() as i32,
                )
            };
            assert!(taken >= 0, "rd_kafka_produce_batch failed");
            let refused = pending.len() - taken as usize;
            if refused == 0 {
                break;
            }
            // Those it could not take carry their error; only a full queue is waited out.
            pending.retain(|m| m.err != bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR);
            for message in &mut pending {
                assert_eq!(
                    message.err,
                    bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__QUEUE_FULL,
                    "produce_batch refused a record"
                );
                message.err = bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR;
            }
            serve_delivery_reports(producer);
        }
        sent += count as u64;
        drain_delivery_reports(producer);
    }
}

/// A topic handle of librdkafka's, released on drop. Records in flight hold their own reference
/// to the topic, so releasing it does not wait for them.
struct TopicHandle(*mut bindings::rd_kafka_topic_t);

impl Drop for TopicHandle {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: taken by `rd_kafka_topic_new`, released once.
            unsafe { bindings::rd_kafka_topic_destroy(self.0) };
        }
    }
}

/// Serves delivery reports until every record sent is acknowledged, looking every 200 µs.
/// (rust-rdkafka's `flush` looks only every 100 ms, a tenth of a 1-second run, so its figure
/// depends on where the last acknowledgement falls between two looks.) Without a flush the last
/// partial batch waits out `linger.ms` (5 ms, half a percent of a 1-second run), against any
/// broker alike.
fn wait_for_acknowledgements(producer: &Bench) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while producer.in_flight_count() > 0 {
        assert!(
            Instant::now() < deadline,
            "records unacknowledged after 120 s"
        );
        serve_delivery_reports(producer);
    }
}

/// Serves every delivery report that is in, then sleeps 200 µs. Not `poll(1 ms)`: the `rdkafka`
/// crate's `poll` keeps polling until its deadline and hands librdkafka the time left in whole
/// milliseconds, so under 1 ms it polls without waiting, and `poll(1 ms)` in a loop kept one of
/// the machine's two cores spinning beside the broker under test. `poll(0)` takes one event (one
/// produce answer's reports), so it is called until the count in flight stops falling.
fn serve_delivery_reports(producer: &Bench) {
    drain_delivery_reports(producer);
    std::thread::sleep(Duration::from_micros(200));
}

/// Serves every delivery report that is in, without waiting for more.
fn drain_delivery_reports(producer: &Bench) {
    loop {
        let before = producer.in_flight_count();
        producer.poll(Duration::ZERO);
        if producer.in_flight_count() >= before {
            break;
        }
    }
}

/// The producer, counting the records whose delivery failed (the default context drops those
/// reports; a record acknowledged with an error must fail the run, not count as produced).
type Bench = BaseProducer<CountFailures>;

#[derive(Default)]
struct CountFailures {
    failed: AtomicU64,
}

impl ClientContext for CountFailures {}

impl ProducerContext for CountFailures {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((error, _)) = result {
            eprintln!("delivery failed: {error}");
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a run timed: `records` in `seconds`.
struct Measured {
    seconds: f64,
    records: u64,
}

fn consume(bootstrap: &str, topic: &str, records: u64, batched: bool) -> Measured {
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
    // The clock starts at the first record handed over, as produce's starts after the first
    // acknowledgement:
    // before it, librdkafka finds the coordinator and the log start on its own schedule (about
    // 0.45 s against any broker here), which is the client's start, not the read. The records
    // of that first hand-over are not counted.
    let first = std::cell::Cell::new(None::<(Instant, i64)>);
    let next = std::cell::Cell::new(0i64);
    let mut check = |offset: i64| {
        assert_eq!(offset, next.get(), "offsets in order, none missing");
        next.set(offset + 1);
    };
    // Called after each hand-over (one batch call, or one poll).
    let note_first_hand_over = || {
        if first.get().is_none() && next.get() > 0 {
            first.set(Some((Instant::now(), next.get())));
        }
    };
    if batched {
        let mut batch = BatchQueue::new(&consumer, 10_000);
        while (next.get() as u64) < records {
            batch.take(100, &mut check);
            note_first_hand_over();
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "read {} of {records}",
                next.get()
            );
        }
    } else {
        while (next.get() as u64) < records {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                check(message.expect("a record").offset());
                note_first_hand_over();
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "read {} of {records}",
                next.get()
            );
        }
    }
    // A read that came back mostly in its first hand-over (a small run) is timed from `assign`:
    // the few records left would be timed over microseconds.
    let (clock_start, uncounted) = match first.get() {
        Some((at, handed)) if (handed as u64) * 2 <= records => (at, handed),
        _ => (started, 0),
    };
    Measured {
        seconds: clock_start.elapsed().as_secs_f64(),
        records: records - uncounted as u64,
    }
}

/// librdkafka's consumer queue read in batches (`rd_kafka_consume_batch_queue`), which the
/// `rdkafka` crate does not wrap.
struct BatchQueue<'a> {
    _consumer: &'a BaseConsumer,
    queue: *mut bindings::rd_kafka_queue_t,
    slots: Vec<*mut bindings::rd_kafka_message_t>,
}

impl<'a> BatchQueue<'a> {
    fn new(consumer: &'a BaseConsumer, size: usize) -> Self {
        // SAFETY: the client outlives the queue (the borrow), which is destroyed in `drop`.
        let queue =
            unsafe { bindings::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        assert!(!queue.is_null(), "a consumer queue");
        BatchQueue {
            _consumer: consumer,
            queue,
            slots: vec![std::ptr::null_mut(); size],
        }
    }

    /// Waits up to `timeout_ms` for records; hands each one's offset to `visit`.
    fn take(&mut self, timeout_ms: i32, visit: &mut impl FnMut(i64)) {
        // SAFETY: librdkafka fills at most `slots.len()` pointers, each a message we own and
        // destroy once read.
        unsafe {
            let got = bindings::rd_kafka_consume_batch_queue(
                self.queue,
                timeout_ms,
                self.slots.as_mut_ptr(),
                self.slots.len(),
            );
            assert!(got >= 0, "rd_kafka_consume_batch_queue failed");
            // Every message is released before anything is checked: a panic with messages
            // still held would hang the consumer's close.
            let read: Vec<_> = self.slots[..got as usize]
                .iter()
                .map(|&message| {
                    let read = ((*message).err, (*message).offset);
                    bindings::rd_kafka_message_destroy(message);
                    read
                })
                .collect();
            for (error, offset) in read {
                assert_eq!(
                    error,
                    bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                );
                visit(offset);
            }
        }
    }
}

impl Drop for BatchQueue<'_> {
    fn drop(&mut self) {
        // SAFETY: the queue was taken in `new` and is released once.
        unsafe { bindings::rd_kafka_queue_destroy(self.queue) };
    }
}
