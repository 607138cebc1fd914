//! Kafka consumer groups on mq's coordinator: partitions split and handed over with nothing
//! committed read twice, a consumer resuming from its commits, and static membership.

use crate::client::*;
use rdkafka::consumer::Consumer;

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
