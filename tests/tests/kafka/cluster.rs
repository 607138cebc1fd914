//! A Kafka client against a 3-node cluster: it sees every node, reaches each partition's
//! leader, and reads every record again through the survivors when a node dies.

use crate::client::*;
use mq_e2e::eventually;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use std::time::Duration;

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
