//! Produce placement, dedup, limits and long-poll fetch, on the broker without HTTP.

use super::*;
use crate::config::ByteSize;
use mq_wire::api::Acks;
use mq_wire::batch::BatchIter;
use std::borrow::Cow;
use uuid::Uuid;

fn broker_with(memory: u64) -> Broker {
    let mut config = Config::default();
    config.limits.memory = crate::config::MemoryLimit::Fixed(ByteSize(memory));
    config.log.segment_bytes = ByteSize::kib(4);
    Broker::new(Arc::new(config))
}

fn create(broker: &Broker, name: &str, partitions: u32) -> Arc<Topic> {
    broker
        .create_topic(&CreateTopicRequest {
            name: name.into(),
            partitions: Some(partitions),
            ..Default::default()
        })
        .unwrap()
}

fn record<'a>(key: Option<&'a str>, value: &'a str) -> NewRecord<'a> {
    NewRecord {
        key: key.map(|k| Cow::Borrowed(k.as_bytes())),
        value: Cow::Borrowed(value.as_bytes()),
        ..Default::default()
    }
}

/// Values of every record of a partition, in offset order.
fn values(partition: &Partition) -> Vec<String> {
    let read = partition.read(partition.log_start(), usize::MAX).unwrap();
    let mut out = Vec::new();
    for batch in BatchIter::new(&read.batches.bytes) {
        for record in batch.unwrap().records() {
            out.push(String::from_utf8(record.unwrap().value.to_vec()).unwrap());
        }
    }
    out
}

#[test]
fn keyed_records_keep_their_order_in_one_partition() {
    let broker = broker_with(1 << 30);
    let topic = create(&broker, "orders", 4);
    let values_for_key: Vec<String> = (0..50).map(|i| format!("v{i}")).collect();
    for chunk in values_for_key.chunks(7) {
        let records: Vec<NewRecord> = chunk
            .iter()
            .map(|v| record(Some("customer-42"), v))
            .collect();
        let positions = topic
            .produce(&records, 1 << 20, Acks::All, 1)
            .unwrap()
            .positions;
        assert!(positions
            .windows(2)
            .all(|w| w[0].partition == w[1].partition && w[1].offset == w[0].offset + 1));
    }
    let partition = partition_for_key_of(&topic, "customer-42");
    assert_eq!(
        values(&topic.partitions()[partition as usize]),
        values_for_key
    );
}

fn partition_for_key_of(topic: &Topic, key: &str) -> u32 {
    mq_wire::partitioner::partition_for_key(key.as_bytes(), topic.partition_count())
}

#[test]
fn keyless_records_spread_evenly() {
    let broker = broker_with(1 << 30);
    let topic = create(&broker, "spread", 3);
    let records: Vec<NewRecord> = (0..300).map(|_| record(None, "x")).collect();
    topic.produce(&records, 1 << 20, Acks::All, 1).unwrap();
    for partition in topic.partitions() {
        assert_eq!(partition.info().log_end, 100);
    }
}

#[test]
fn a_repeated_id_is_acknowledged_with_its_first_offset_and_not_appended() {
    let broker = broker_with(1 << 30);
    let topic = create(&broker, "dedup", 2);
    let id = Uuid::new_v4();
    let with_id = |value| NewRecord {
        id: RecordId::Producer(id),
        ..record(None, value)
    };
    let first = topic
        .produce(
            &[with_id("a"), record(None, "b"), with_id("c")],
            1 << 20,
            Acks::All,
            1,
        )
        .unwrap()
        .positions;
    assert!(!first[0].duplicate && first[2].duplicate);
    assert_eq!(
        (first[2].partition, first[2].offset),
        (first[0].partition, first[0].offset)
    );
    let again = topic
        .produce(&[with_id("d")], 1 << 20, Acks::All, 2)
        .unwrap()
        .positions;
    assert!(again[0].duplicate);
    assert_eq!(
        (again[0].partition, again[0].offset),
        (first[0].partition, first[0].offset)
    );
    let stored: usize = topic.partitions().iter().map(|p| values(p).len()).sum();
    assert_eq!(stored, 2);
}

#[test]
fn the_memory_limit_refuses_a_whole_request_and_appends_nothing() {
    let broker = broker_with(64 * 1024);
    let topic = create(&broker, "full", 2);
    let value = "v".repeat(1000);
    let batch: Vec<NewRecord> = (0..20).map(|_| record(None, &value)).collect();
    let mut accepted = 0;
    let error = loop {
        match topic
            .produce(&batch, 1 << 20, Acks::All, 1)
            .map(|p| p.positions)
        {
            Ok(_) => accepted += 1,
            Err(error) => break error,
        }
    };
    assert!(matches!(error, BrokerError::MemoryLimit(_)), "{error}");
    let stored: usize = topic.partitions().iter().map(|p| values(p).len()).sum();
    assert_eq!(stored, accepted * 20);
    assert!(broker.memory_budget().used() <= 64 * 1024);
    broker.delete_topic("full").unwrap();
    drop(topic);
    assert_eq!(broker.memory_budget().used(), 0);
}

#[test]
fn bad_requests_are_refused_before_anything_is_appended() {
    let broker = broker_with(1 << 30);
    let topic = create(&broker, "t", 2);
    let big = "b".repeat(2000);
    let error = topic
        .produce(
            &[record(None, "ok"), record(None, &big)],
            1000,
            Acks::All,
            1,
        )
        .unwrap_err();
    assert!(
        matches!(error, BrokerError::RecordTooLarge { index: 1, .. }),
        "{error}"
    );
    let error = topic
        .produce(
            &[NewRecord {
                partition: Some(2),
                ..record(None, "x")
            }],
            1000,
            Acks::All,
            1,
        )
        .unwrap_err();
    assert!(matches!(
        error,
        BrokerError::UnknownPartition {
            partition: 2,
            count: 2,
            ..
        }
    ));
    assert_eq!(topic.summary().records, 0);
}

#[test]
fn topic_names_follow_kafkas_rule() {
    let broker = broker_with(1 << 30);
    for bad in ["", ".", "..", "has space", "slash/", &"x".repeat(250)] {
        let error = broker
            .create_topic(&CreateTopicRequest {
                name: bad.into(),
                ..Default::default()
            })
            .err()
            .unwrap();
        assert!(
            matches!(error, BrokerError::InvalidTopicName { .. }),
            "{bad}: {error}"
        );
    }
    create(&broker, "ok.name_1-x", 1);
    let again = broker.create_topic(&CreateTopicRequest {
        name: "ok.name_1-x".into(),
        ..Default::default()
    });
    assert!(matches!(again.err().unwrap(), BrokerError::TopicExists(_)));
}

#[tokio::test]
async fn a_long_poll_returns_when_a_record_arrives() {
    let broker = Arc::new(broker_with(1 << 30));
    let topic = create(&broker, "poll", 1);
    let partition = Arc::clone(&topic.partitions()[0]);
    let waiter = {
        let broker = Arc::clone(&broker);
        let partition = Arc::clone(&partition);
        tokio::spawn(async move {
            broker
                .fetch(
                    &partition,
                    Some(0),
                    1 << 20,
                    Duration::from_secs(30),
                    std::future::pending(),
                )
                .await
        })
    };
    tokio::task::yield_now().await;
    topic
        .produce(&[record(None, "hello")], 1 << 20, Acks::All, 1)
        .unwrap();
    let (from, read) = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(from, 0);
    assert!(read.has_records_from(0));
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_read_ends_at_its_deadline_empty() {
    let broker = broker_with(1 << 30);
    let topic = create(&broker, "quiet", 1);
    let (_, read) = broker
        .fetch(
            &topic.partitions()[0],
            None,
            1024,
            Duration::from_millis(20),
            std::future::pending(),
        )
        .await
        .unwrap();
    assert!(!read.has_records_from(0));
}

/// A partition led by node 1 with replicas 1, 2, 3 and the given ISR, for replication tests.
fn replicated_partition(
    isr: Vec<u64>,
    min_insync: u32,
) -> (Partition, Arc<crate::log::MemoryBudget>) {
    let budget = crate::log::MemoryBudget::new(1 << 30);
    let settings = LogSettings {
        segment_bytes: 1 << 20,
        index_interval_bytes: 4096,
    };
    let set = ReplicaSet {
        leader: 1,
        leader_epoch: 0,
        replicas: vec![1, 2, 3],
        isr,
        partition_epoch: 0,
        deleted_before: 0,
        deleted_at_epoch: 0,
    };
    let partition = Partition::new(
        Arc::from("t"),
        0,
        1,
        set,
        min_insync,
        Box::new(MemoryLog::new(settings, Arc::clone(&budget))),
        None,
        Arc::new(tokio::sync::watch::Sender::new(0)),
    );
    (partition, budget)
}

fn append_records(partition: &Partition, budget: &Arc<crate::log::MemoryBudget>, count: u32) {
    let mut builder = mq_wire::batch::BatchBuilder::default();
    for i in 0..count {
        builder.push(&mq_wire::batch::RecordInput {
            id: Uuid::from_u128(u128::from(i)),
            timestamp: 1,
            key: None,
            value: Some(b"v"),
            headers: &[],
        });
    }
    let mut bytes = builder.finish();
    let mut reservation = budget.try_reserve(bytes.len() as u64).unwrap();
    partition.append(&mut bytes, &mut reservation).unwrap();
}

#[test]
fn a_look_up_by_time_finds_nothing_past_the_high_watermark() {
    let (partition, budget) = replicated_partition(vec![1, 2], 2);
    append_records(&partition, &budget, 10);
    assert_eq!(partition.high_watermark(), 0, "follower 2 has not fetched");
    assert_eq!(
        partition.offset_for_timestamp(0).unwrap(),
        None,
        "records not yet on every in-sync replica are not found"
    );
    partition.serve_follower(2, (0, 10), 1 << 20).unwrap();
    assert_eq!(partition.offset_for_timestamp(0).unwrap(), Some((0, 1)));
}

/// Node 1 holding 10 records of epoch 0 and following node 2 at epoch 1 with `isr`, its leader
/// having said 4 are committed; with its memory budget and the replica set it follows by.
fn following_node_2(isr: Vec<u64>) -> (Partition, Arc<crate::log::MemoryBudget>, ReplicaSet) {
    let (partition, budget) = replicated_partition(vec![1, 2], 1);
    append_records(&partition, &budget, 10);
    let as_follower = ReplicaSet {
        leader: 2,
        leader_epoch: 1,
        replicas: vec![1, 2, 3],
        isr,
        partition_epoch: 1,
        deleted_before: 0,
        deleted_at_epoch: 0,
    };
    partition.apply_placement(&as_follower);
    partition.set_replica_high_watermark(4);
    (partition, budget, as_follower)
}

#[test]
fn a_new_leader_whose_high_watermark_lags_its_election_answers_offset_not_available() {
    // Node 1 follows node 2 and holds 10 records, of which the old leader said 4 are committed.
    let (partition, _, as_follower) = following_node_2(vec![1, 2]);
    // Node 1 is elected: its epoch starts at its log end, 10; its high watermark is 4.
    let elected = ReplicaSet {
        leader: 1,
        leader_epoch: 2,
        partition_epoch: 2,
        ..as_follower
    };
    partition.apply_placement(&elected);
    assert_eq!(partition.high_watermark(), 4);
    let refused = partition.latest().unwrap_err();
    assert_eq!(
        refused.code(),
        mq_wire::ErrorCode::OffsetNotAvailable,
        "{refused}"
    );
    assert!(
        matches!(partition.offset_for_timestamp(0), Ok(Some((0, 1)))),
        "a match below the high watermark is answered"
    );
    // Node 2 catches up to 10: the high watermark reaches the election's offset.
    partition.serve_follower(2, (0, 10), 1 << 20).unwrap();
    assert_eq!(partition.latest().unwrap(), 10);
}

#[test]
fn a_replica_elected_with_records_its_leader_deleted_deletes_them_before_it_leads() {
    // Node 1 holds 10 records of epoch 0 and follows node 2 (epoch 1); it stopped copying
    // before node 2 deleted those below 6 (an eligible leader replica), so only the metadata
    // tells it.
    let (partition, budget, as_follower) = following_node_2(vec![2]);
    let elected = ReplicaSet {
        leader: 1,
        leader_epoch: 2,
        isr: vec![1, 3],
        partition_epoch: 2,
        deleted_before: 6,
        deleted_at_epoch: 1,
        ..as_follower
    };
    partition.apply_placement(&elected);
    assert_eq!(partition.role(), Role::Leader);
    let refused = partition.read(3, 1 << 20).unwrap_err();
    assert!(
        matches!(refused, BrokerError::OffsetOutOfRange { log_start: 6, .. }),
        "{refused}"
    );
    assert!(partition.read(6, 1 << 20).is_ok());
    assert_eq!(
        partition.high_watermark(),
        6,
        "the high watermark (4 when elected, node 3 not heard from) comes up to the log start"
    );

    // The old leader had deleted past what this one holds: all of it goes…
    let further = ReplicaSet {
        isr: vec![1],
        partition_epoch: 3,
        deleted_before: 25,
        ..elected.clone()
    };
    partition.apply_placement(&further);
    assert_eq!(partition.log_start(), 10);
    // …but not what this leader writes there afterwards (epoch 2), however often the metadata
    // is applied again.
    append_records(&partition, &budget, 5);
    partition.apply_placement(&further);
    partition.apply_placement(&ReplicaSet {
        partition_epoch: 4,
        ..further.clone()
    });
    assert_eq!(partition.log_start(), 10);
    let kept = partition.read(10, 1 << 20).unwrap();
    assert!(kept.has_records_from(10), "{kept:?}");
    assert_eq!(partition.log_end(), 15);
    // Its own delete, at its epoch, reaches into its records.
    partition.apply_placement(&ReplicaSet {
        partition_epoch: 5,
        deleted_before: 12,
        deleted_at_epoch: 2,
        ..further
    });
    assert_eq!(partition.log_start(), 12);
}

#[test]
fn a_follower_joining_the_isr_holds_back_the_high_watermark_while_it_is_proposed() {
    let (partition, budget) = replicated_partition(vec![1, 2], 2);
    append_records(&partition, &budget, 10);
    assert_eq!(
        partition.high_watermark(),
        0,
        "follower 2 has not fetched yet"
    );
    partition.serve_follower(2, (0, 10), 1 << 20).unwrap();
    assert_eq!(partition.high_watermark(), 10);
    append_records(&partition, &budget, 10);
    partition.serve_follower(3, (0, 10), 1 << 20).unwrap();
    // Node 3 holds everything below the high watermark (10): it may join.
    let change = partition
        .isr_change(std::time::Duration::from_secs(60))
        .expect("node 3 caught up");
    assert_eq!(change.isr, vec![1, 2, 3]);
    partition.serve_follower(3, (0, 15), 1 << 20).unwrap();
    partition.serve_follower(2, (0, 20), 1 << 20).unwrap();
    assert_eq!(
        partition.high_watermark(),
        15,
        "node 3 may lead once the expansion applies: nothing it lacks may count as committed"
    );
    partition.settle_isr();
    assert_eq!(
        partition.high_watermark(),
        20,
        "refused: back to the ISR alone"
    );
}

#[test]
fn the_leader_never_shrinks_the_isr_below_min_insync_replicas() {
    let (strict, _) = replicated_partition(vec![1, 2], 2);
    assert_eq!(
        strict.isr_change(std::time::Duration::ZERO),
        None,
        "dropping the lagging follower would leave one copy"
    );
    let (lenient, _) = replicated_partition(vec![1, 2], 1);
    assert_eq!(
        lenient.isr_change(std::time::Duration::ZERO).map(|c| c.isr),
        Some(vec![1])
    );
}

/// An idempotent batch of `count` records from producer 7 at `sequence`.
fn producer_batch(sequence: i32, count: u32) -> Vec<u8> {
    let mut builder = mq_wire::batch::BatchBuilder::default();
    builder.set_producer(7, 0, sequence);
    for i in 0..count {
        builder.push(&mq_wire::batch::RecordInput {
            id: Uuid::from_u128(u128::from(i) + ((sequence as u128) << 32)),
            timestamp: 1,
            key: None,
            value: Some(b"v"),
            headers: &[],
        });
    }
    builder.finish()
}

/// Partition 0 of `topic`, led by `me`, follows node `me + 1` at the next epoch, truncates where
/// that leader's log ended (`leader_end`, under the epoch `me` led in), then leads again. Returns
/// the log end after the truncation.
fn follow_truncate_and_lead_again(topic: &Topic, me: u64, leader_end: u64) -> u64 {
    let partition = &topic.partitions()[0];
    let led_in = partition.leader_epoch();
    let follow = ReplicaSet {
        leader: me + 1,
        leader_epoch: led_in + 1,
        replicas: vec![me, me + 1],
        isr: vec![me + 1, me],
        partition_epoch: 1,
        deleted_before: 0,
        deleted_at_epoch: 0,
    };
    partition.apply_placement(&follow);
    let end = topic
        .truncate_diverged(0, follow.leader_epoch, Some((led_in, leader_end)))
        .unwrap();
    partition.apply_placement(&ReplicaSet {
        leader: me,
        leader_epoch: follow.leader_epoch + 1,
        partition_epoch: 2,
        ..follow
    });
    end
}

#[test]
fn a_batch_a_follower_truncated_is_appended_again_when_it_leads() {
    // Found by the fault harness: a leader appended a batch, lost leadership before it was
    // committed, truncated it as a follower, then led again; the producer's resend was answered
    // as a duplicate with offsets that by then held other records, and the batch was lost.
    let broker = broker_with(64 << 20);
    let topic = create(&broker, "t", 1);
    let me = broker.node_id();
    let limits = BatchLimits {
        max_record_bytes: 1 << 20,
        max_batch_records: 1000,
        max_inflated_bytes: 1 << 20,
    };
    let produce = |sequence: i32| {
        let mut body = producer_batch(sequence, 5);
        topic
            .append_batches(0, &mut body, &limits, Acks::Leader, 1)
            .unwrap()
            .positions[0]
    };
    assert_eq!(produce(0).base_offset, 0);
    assert_eq!(produce(5).base_offset, 5);
    let partition = Arc::clone(&topic.partitions()[0]);
    // The new leader's log ended at 5 under the epoch the second batch was appended in.
    assert_eq!(follow_truncate_and_lead_again(&topic, me, 5), 5);
    let resent = produce(5);
    assert!(!resent.duplicate, "the truncated batch is new again");
    assert_eq!(resent.base_offset, 5);
    let again = produce(0);
    assert!(again.duplicate, "the batch below the cut is still known");
    assert_eq!(again.base_offset, 0);
    assert_eq!(partition.log_end(), 10);
}

#[test]
fn a_record_id_a_follower_truncated_is_stored_again_when_it_leads() {
    // The producer-window bug's twin for JSON record ids: a retry of a truncated record must be
    // appended, not answered with the offset it had.
    let broker = broker_with(64 << 20);
    let topic = create(&broker, "t", 1);
    let me = broker.node_id();
    let produce = |id: u128| {
        let record = NewRecord {
            id: RecordId::Producer(Uuid::from_u128(id)),
            value: Cow::Borrowed(b"v"),
            ..Default::default()
        };
        topic
            .produce(&[record], 1 << 20, Acks::Leader, 1)
            .unwrap()
            .positions[0]
    };
    assert_eq!(produce(1).offset, 0);
    assert_eq!(produce(2).offset, 1);
    assert_eq!(follow_truncate_and_lead_again(&topic, me, 1), 1);
    let again = produce(2);
    assert!(!again.duplicate, "the truncated record is new again");
    assert_eq!(again.offset, 1);
    assert!(
        produce(1).duplicate,
        "the record below the cut is still known"
    );
}

#[test]
fn a_follower_remembers_the_record_ids_it_copies_and_knows_them_when_it_leads() {
    let leader_broker = broker_with(64 << 20);
    let leader_topic = create(&leader_broker, "t", 1);
    let chosen = |id: u128| NewRecord {
        id: RecordId::Producer(Uuid::from_u128(id)),
        value: Cow::Borrowed(b"v"),
        ..Default::default()
    };
    let plain = NewRecord {
        value: Cow::Borrowed(b"w"),
        ..Default::default()
    };
    leader_topic
        .produce(&[plain.clone(), chosen(7)], 1 << 20, Acks::Leader, 1)
        .unwrap();
    let copied = leader_topic.partitions()[0]
        .read(0, usize::MAX)
        .unwrap()
        .batches
        .bytes;

    let broker = broker_with(64 << 20);
    let topic = create(&broker, "t", 1);
    let me = broker.node_id();
    let partition = Arc::clone(&topic.partitions()[0]);
    let follow = ReplicaSet {
        leader: me + 1,
        leader_epoch: partition.leader_epoch() + 1,
        replicas: vec![me + 1, me],
        isr: vec![me + 1, me],
        partition_epoch: 1,
        deleted_before: 0,
        deleted_at_epoch: 0,
    };
    partition.apply_placement(&follow);
    topic
        .truncate_diverged(0, follow.leader_epoch, None)
        .unwrap();
    topic
        .append_replicated(0, &copied, follow.leader_epoch, (0, 2), 1)
        .unwrap();
    assert_eq!(partition.log_end(), 2);
    partition.apply_placement(&ReplicaSet {
        leader: me,
        leader_epoch: follow.leader_epoch + 1,
        partition_epoch: 2,
        ..follow
    });
    let retried = topic
        .produce(&[chosen(7)], 1 << 20, Acks::Leader, 2)
        .unwrap()
        .positions[0];
    assert!(
        retried.duplicate,
        "the retry after the failover is not stored twice"
    );
    assert_eq!(retried.offset, 1);
    assert_eq!(partition.log_end(), 2);
}

#[tokio::test]
async fn a_delete_of_records_waits_for_every_in_sync_follower_to_start_there() {
    let (partition, budget) = replicated_partition(vec![1, 2, 3], 1);
    append_records(&partition, &budget, 20);
    partition.serve_follower(2, (0, 20), 1 << 20).unwrap();
    partition.serve_follower(3, (0, 20), 1 << 20).unwrap();
    assert_eq!(partition.high_watermark(), 20);
    assert!(matches!(
        partition.delete_records_before(21),
        Err(BrokerError::OffsetOutOfRange { requested: 21, .. })
    ));
    assert_eq!(partition.delete_records_before(12).unwrap(), (12, 0));
    assert_eq!(partition.log_start(), 12);
    let short = std::time::Duration::from_millis(30);
    assert!(
        matches!(
            partition.wait_followers_log_start(12, short).await,
            Err(BrokerError::DeleteNotReplicated { log_start: 12, .. })
        ),
        "followers 2 and 3 still start at 0"
    );
    // A follower still starting at 0 is told where the leader starts now.
    let read = partition.serve_follower(2, (0, 20), 1 << 20).unwrap();
    assert_eq!(read.batches.log_start, 12);
    partition.serve_follower(2, (12, 20), 1 << 20).unwrap();
    let waiting = partition.wait_followers_log_start(12, std::time::Duration::from_secs(10));
    let answering = async {
        tokio::task::yield_now().await;
        partition.serve_follower(3, (12, 20), 1 << 20).unwrap();
    };
    let (waited, ()) = tokio::join!(waiting, answering);
    waited.expect("both followers start at 12: the wait wakes on the fetch");
}

#[test]
fn a_compressed_kafka_batch_is_checked_inflated_and_stored_as_it_came() {
    use kafka_protocol::records::Compression;
    let broker = broker_with(64 << 20);
    let topic = create(&broker, "t", 1);
    let limits = |max_inflated_bytes| BatchLimits {
        max_record_bytes: 1 << 20,
        max_batch_records: 1000,
        max_inflated_bytes,
    };
    let values: Vec<String> = (0..50).map(|i| format!("{i:0>1000}")).collect();
    let sent = crate::log::decompress::kafka_batch(
        Compression::Zstd,
        &values.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert!(sent.len() < 50_000 / 4, "zeros compress");

    // Past the budget once inflated: refused, nothing stored.
    let mut body = sent.clone();
    let refused = topic
        .append_batches(0, &mut body, &limits(40_000), Acks::Leader, 1)
        .unwrap_err();
    assert!(
        matches!(
            refused,
            BrokerError::InflatesTooLarge { at: 0, max: 40_000 }
        ),
        "{refused}"
    );
    assert_eq!(topic.partitions()[0].log_end(), 0);

    // A record of the batch damaged inside the compressed bytes: its CRC says so.
    let mut damaged = sent.clone();
    let last = damaged.len() - 2;
    damaged[last] ^= 0x55;
    let refused = topic
        .append_batches(0, &mut damaged, &limits(1 << 20), Acks::Leader, 1)
        .unwrap_err();
    assert!(
        matches!(refused, BrokerError::InvalidBatch { .. }),
        "{refused}"
    );

    // Within it: appended as it came, counted by its inflated records.
    let mut body = sent.clone();
    let produced = topic
        .append_batches(0, &mut body, &limits(1 << 20), Acks::Leader, 1)
        .unwrap();
    assert_eq!(produced.appended_records, 50);
    assert_eq!(produced.appended_payload_bytes, 50_000);
    let read = topic.partitions()[0].read(0, 1 << 20).unwrap();
    let stored = read.batches.bytes.clone();
    assert_eq!(stored.len(), sent.len(), "stored compressed");
    assert_eq!(stored[61..], sent[61..]);
    // Readers that need records get them inflated.
    let inflated = crate::log::inflate_stored(stored, usize::MAX).unwrap();
    let values_read: Vec<String> = BatchIter::new(&inflated)
        .flat_map(|b| b.unwrap().records().collect::<Vec<_>>())
        .map(|r| String::from_utf8(r.unwrap().value.to_vec()).unwrap())
        .collect();
    assert_eq!(values_read, values);
}
