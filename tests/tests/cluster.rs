//! Three real `mqd` processes forming one cluster: a controller is elected, topics spread over the
//! nodes, records produced through one node are read through another, the controller fails over,
//! a dead leader's partitions fail fast while the rest keeps working, and a restarted node never
//! reuses an offset.

use mq_e2e::cluster::{json_lines, Cluster, Node};
use mq_e2e::{binary, Answer};
use mq_wire::api::TopicDescription;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The ceiling on a controller failover, from the kill to an accepted topic create.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(15);
/// The most a request to a partition whose leader is dead may take to be refused.
const FAST_REFUSAL: Duration = Duration::from_secs(5);
/// Enough for `cluster.node_session_timeout` (3 s) plus a few heartbeats.
const DOWN_DEADLINE: Duration = Duration::from_secs(20);

fn mqctl(node: &Node, args: &[&str], stdin: Stdio) -> Output {
    Command::new(binary("mqctl"))
        .args(["--server", &node.base])
        .args(args)
        .stdin(stdin)
        .output()
        .expect("run mqctl")
}

fn leaders(description: &TopicDescription) -> Vec<u64> {
    description.partitions.iter().map(|p| p.leader).collect()
}

fn produce_path(topic: &str, partition: u32) -> String {
    format!("/v1/topics/{topic}/partitions/{partition}/records")
}

/// Every record of a partition from `from` up to the log end, in pages, through `node`.
fn is_unavailable(answer: &Answer) -> bool {
    answer.status == 503 && answer.error_code() == "partition_unavailable"
}

fn message(answer: &Answer) -> &str {
    answer.body["error"]["message"].as_str().unwrap_or("")
}

#[test]
fn a_controller_is_elected_and_a_topic_spreads_over_the_nodes() {
    let cluster = Cluster::start(3);
    let controller = cluster.wait_for_controller();
    println!("controller: node {controller}");

    for id in cluster.ids() {
        let status = cluster.node(id).status().expect("GET /v1/cluster");
        assert_eq!(status.node_id, id as u64);
        assert_eq!(status.controller, Some(controller as u64), "{status:?}");
        let states: Vec<(u64, &str)> = status
            .nodes
            .iter()
            .map(|n| (n.id, n.state.as_str()))
            .collect();
        assert_eq!(
            states,
            [(1, "alive"), (2, "alive"), (3, "alive")],
            "node {id}'s view"
        );
    }

    let listed = json_lines(
        "mqctl",
        &mqctl(
            cluster.node(1),
            &["cluster", "status", "-o", "json"],
            Stdio::null(),
        ),
    );
    assert_eq!(listed.len(), 3, "{listed:?}");
    let mut ids: Vec<u64> = listed.iter().map(|n| n["id"].as_u64().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);
    assert!(listed.iter().all(|n| n["state"] == "alive"), "{listed:?}");
    let controllers: Vec<u64> = listed
        .iter()
        .filter(|n| n["role"] == "controller")
        .map(|n| n["id"].as_u64().unwrap())
        .collect();
    assert_eq!(controllers, [controller as u64], "{listed:?}");

    let created = cluster
        .node(2)
        .post("/v1/topics", &json!({"name": "spread", "partitions": 9}));
    assert_eq!(
        created.status, 201,
        "create through node 2: {:?}",
        created.body
    );
    let created: TopicDescription = serde_json::from_value(created.body).unwrap();
    assert_eq!(created.partitions.len(), 9);
    let mut per_node: BTreeMap<u64, usize> = BTreeMap::new();
    for leader in leaders(&created) {
        *per_node.entry(leader).or_default() += 1;
    }
    assert_eq!(
        per_node,
        BTreeMap::from([(1, 3), (2, 3), (3, 3)]),
        "leaders {:?}",
        leaders(&created)
    );
    for id in [1, 3] {
        let described = cluster.node(id).describe_topic("spread");
        assert_eq!(
            leaders(&described),
            leaders(&created),
            "describe through node {id}"
        );
        for partition in &described.partitions {
            assert_eq!(partition.isr, [partition.leader], "{partition:?}");
            assert_eq!((partition.log_start, partition.log_end), (0, 0));
        }
    }
    cluster.eventually(
        Duration::from_secs(5),
        "every node to count 3 partitions led per node",
        || {
            cluster
                .statuses()?
                .iter()
                .all(|s| s.nodes.iter().all(|n| n.partitions_led == 3))
                .then_some(())
        },
    );

    let deleted = cluster.node(3).delete("/v1/topics/spread");
    assert_eq!(
        (deleted.status, deleted.body["deleted"].as_bool()),
        (200, Some(true)),
        "delete through node 3: {:?}",
        deleted.body
    );
    cluster.eventually(
        Duration::from_secs(5),
        "the topic to be unknown on every node",
        || {
            cluster
                .ids()
                .iter()
                .all(|&id| {
                    let answer = cluster.node(id).get("/v1/topics/spread");
                    answer.status == 404 && answer.error_code() == "unknown_topic"
                })
                .then_some(())
        },
    );
}

#[test]
fn records_produced_through_one_node_are_read_through_another() {
    const LINES: usize = 90_000;
    const KEYS: usize = 100;
    let cluster = Cluster::start(3);
    let created = cluster
        .node(1)
        .post("/v1/topics", &json!({"name": "lines", "partitions": 9}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let created = cluster.node(3).describe_topic("lines");
    assert_eq!(created.partitions.len(), 9, "{created:?}");

    let file = cluster.root().join("lines.txt");
    let mut text = String::with_capacity(LINES * 24);
    for i in 0..LINES {
        text.push_str(&format!("key-{}\tvalue-{i}\n", i % KEYS));
    }
    std::fs::write(&file, text).unwrap();
    let started = Instant::now();
    let produced = mqctl(
        cluster.node(3),
        &["produce", "lines", "--key-separator", "\t"],
        Stdio::from(std::fs::File::open(&file).unwrap()),
    );
    let summary = &json_lines("mqctl", &produced)[0];
    println!(
        "mqctl produced {LINES} lines through node 3 in {:?}: {summary}",
        started.elapsed()
    );
    assert_eq!(summary["records"], LINES as u64, "{summary}");
    assert_eq!(
        summary["failed_lines"].as_array().map(Vec::len),
        Some(0),
        "{summary}"
    );

    let started = Instant::now();
    let described = cluster.node(1).describe_topic("lines");
    let mut seen = vec![false; LINES];
    let mut partition_of_key: HashMap<String, u32> = HashMap::new();
    let mut total = 0;
    for partition in &described.partitions {
        let p = partition.partition;
        assert_eq!(partition.log_start, 0, "{partition:?}");
        let records = cluster.node(1).fetch_all("lines", p, 0);
        assert_eq!(
            records.len() as u64,
            partition.log_end,
            "partition {p} (led by node {}): records read vs log_end",
            partition.leader
        );
        for (expected, record) in records.iter().enumerate() {
            assert_eq!(
                record.offset, expected as u64,
                "partition {p}: offsets dense from 0"
            );
            let key = record.key.clone().expect("a key");
            let value = record.value.as_deref().expect("a value");
            let i: usize = value
                .strip_prefix("value-")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("unexpected value {value}"));
            assert_eq!(
                key,
                format!("key-{}", i % KEYS),
                "key and value travel together"
            );
            assert!(!seen[i], "line {i} read twice");
            seen[i] = true;
            let first = *partition_of_key.entry(key.clone()).or_insert(p);
            assert_eq!(first, p, "{key} in partitions {first} and {p}");
        }
        total += records.len();
    }
    println!(
        "read {total} records through node 1 in {:?}; per partition {:?}",
        started.elapsed(),
        described
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader, p.log_end))
            .collect::<Vec<_>>()
    );
    assert_eq!(total, LINES);
    assert!(seen.iter().all(|&s| s), "every line read");
}

#[test]
fn the_controller_killed_another_takes_over_and_topics_can_be_created() {
    let mut cluster = Cluster::start(3);
    let old = cluster.wait_for_controller();
    cluster.kill(old);
    let killed = Instant::now();
    let survivors = cluster.running();

    let new = cluster.eventually(
        FAILOVER_DEADLINE,
        "the survivors to agree on a new controller",
        || cluster.agreed_controller().filter(|&c| c != old),
    );
    let elected_after = killed.elapsed();
    println!("controller {old} killed; node {new} is controller after {elected_after:?}");
    assert!(survivors.contains(&new));

    let via = survivors[0];
    let mut attempts = Vec::new();
    let created = cluster.eventually(
        FAILOVER_DEADLINE.saturating_sub(killed.elapsed()),
        "a topic create through a survivor to be accepted",
        || {
            let sent = Instant::now();
            let answer = cluster
                .node(via)
                .post("/v1/topics", &json!({"name": "after", "partitions": 3}));
            attempts.push((
                answer.status,
                answer.error_code().to_owned(),
                sent.elapsed(),
            ));
            match answer.status {
                201 => Some(answer),
                503 => None,
                _ => panic!("create through node {via}: {answer:?}"),
            }
        },
    );
    let created_after = killed.elapsed();
    let created: TopicDescription = serde_json::from_value(created.body).unwrap();
    println!(
        "create through node {via} accepted {created_after:?} after the kill (attempts: {attempts:?}); \
         leaders {:?}",
        leaders(&created)
    );
    assert!(created_after < FAILOVER_DEADLINE);
    assert!(
        !leaders(&created).contains(&(old as u64)),
        "a node that died a moment ago got a partition: {:?}",
        leaders(&created)
    );
    let other = survivors[1];
    let described = cluster.node(other).describe_topic("after");
    assert_eq!(
        leaders(&described),
        leaders(&created),
        "describe through node {other}"
    );
    println!(
        "described through node {other}: (partition, leader, isr) {:?}",
        described
            .partitions
            .iter()
            .map(|p| (p.partition, p.leader, p.isr.clone()))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_dead_leaders_partitions_answer_503_and_the_rest_keeps_working() {
    let mut cluster = Cluster::start(3);
    let controller = cluster.wait_for_controller();
    let created = cluster
        .node(controller)
        .post("/v1/topics", &json!({"name": "three", "partitions": 3}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let created: TopicDescription = serde_json::from_value(created.body).unwrap();
    let mut led = leaders(&created);
    led.sort_unstable();
    assert_eq!(led, [1, 2, 3], "one partition per node: {created:?}");

    let victim = cluster
        .ids()
        .into_iter()
        .find(|&id| id != controller)
        .unwrap();
    let partition_of = |node: usize| {
        created
            .partitions
            .iter()
            .find(|p| p.leader == node as u64)
            .unwrap()
            .partition
    };
    let dead = partition_of(victim);
    let survivors: Vec<usize> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != victim)
        .collect();
    for &via in &survivors {
        for p in 0..3 {
            cluster
                .node(via)
                .produce_values("three", p, &[format!("before-{via}-{p}")]);
        }
    }

    cluster.kill(victim);
    let killed = Instant::now();
    let body = json!({"records": [{"value": "while-dead"}]});
    for &via in &survivors {
        let refused = cluster.eventually(
            Duration::from_secs(10),
            &format!("node {via} to refuse a produce to {dead} with partition_unavailable"),
            || {
                let sent = Instant::now();
                let answer = cluster.node(via).post(&produce_path("three", dead), &body);
                let took = sent.elapsed();
                assert!(
                    took < FAST_REFUSAL,
                    "produce to {dead} through node {via} took {took:?}: {answer:?}"
                );
                assert_ne!(
                    answer.status, 200,
                    "a produce to a partition of the killed node {victim} succeeded: {answer:?}"
                );
                is_unavailable(&answer).then_some((answer, took))
            },
        );
        println!(
            "{:?} after the kill, node {via} refused a produce to partition {dead} in {:?}: {}",
            killed.elapsed(),
            refused.1,
            message(&refused.0)
        );
        assert!(
            message(&refused.0).contains(&format!("node {victim}")),
            "{:?}",
            refused.0
        );
    }

    cluster.wait_for_state(victim, "down", DOWN_DEADLINE);
    println!("node {victim} down {:?} after the kill", killed.elapsed());
    for &via in &survivors {
        let sent = Instant::now();
        let answer = cluster.node(via).post(&produce_path("three", dead), &body);
        let took = sent.elapsed();
        println!("node {via}, leader down: {took:?}: {}", message(&answer));
        assert!(is_unavailable(&answer), "{answer:?}");
        assert!(took < FAST_REFUSAL, "{took:?}");
        assert!(
            message(&answer).contains(&format!("node {victim}"))
                && message(&answer).contains("down"),
            "{answer:?}"
        );
        for p in (0..3).filter(|&p| p != dead) {
            cluster
                .node(via)
                .produce_values("three", p, &[format!("after-{via}-{p}")]);
        }
    }
    for &via in &survivors {
        let described = cluster.node(via).describe_topic("three");
        for partition in &described.partitions {
            if partition.partition == dead {
                assert_eq!(partition.leader, victim as u64);
                assert!(partition.isr.is_empty(), "{partition:?}");
            } else {
                assert_eq!(partition.isr, [partition.leader], "{partition:?}");
                assert_eq!(partition.log_end, 4, "two before, two after: {partition:?}");
            }
        }
    }
}

/// Creates a 3-partition topic through the controller; the controller, a node that is not the
/// controller (the victim), and a partition the victim leads.
fn partition_led_by_a_non_controller(cluster: &Cluster, topic: &str) -> (usize, usize, u32) {
    let controller = cluster.wait_for_controller();
    let created = cluster
        .node(controller)
        .post("/v1/topics", &json!({"name": topic, "partitions": 3}));
    assert_eq!(created.status, 201, "{:?}", created.body);
    let created: TopicDescription = serde_json::from_value(created.body).unwrap();
    let victim = cluster
        .ids()
        .into_iter()
        .find(|&id| id != controller)
        .unwrap();
    let partition = created
        .partitions
        .iter()
        .find(|p| p.leader == victim as u64)
        .expect("a partition led by the victim")
        .partition;
    (controller, victim, partition)
}

#[test]
fn a_restarted_node_rejoins_and_never_reuses_an_offset() {
    let mut cluster = Cluster::start(3);
    let (controller, victim, partition) = partition_led_by_a_non_controller(&cluster, "durable");
    let via = cluster.node(controller);

    let values: Vec<String> = (0..10).map(|i| format!("before-{i}")).collect();
    let offsets = via.produce_values("durable", partition, &values);
    assert_eq!(offsets, (0..10).collect::<Vec<u64>>());
    let before = via.describe_topic("durable").partitions[partition as usize].clone();
    let log_end = before.log_end;
    assert_eq!(log_end, 10, "{before:?}");
    let metric = "mq_partitions_restarted_empty_total";
    assert_eq!(cluster.node(victim).metric(metric), Some(0.0));

    cluster.kill(victim);
    let killed = Instant::now();
    cluster.wait_for_state(victim, "down", DOWN_DEADLINE);
    println!("node {victim} down {:?} after the kill", killed.elapsed());
    cluster.restart(victim);
    let controller_after = cluster.wait_for_controller();
    println!(
        "node {victim} restarted and alive again {:?} after the kill (controller {controller_after})",
        killed.elapsed()
    );

    let via = cluster.node(controller_after);
    // Until the restarted node has applied its own return it answers 503 partition_unavailable
    // ("rejoining"); a client retries.
    let after = cluster.eventually(DOWN_DEADLINE, "a produce to the restarted leader", || {
        let answer = via
            .try_post(
                &format!("/v1/topics/durable/partitions/{partition}/records"),
                &json!({"records": [{"value": "after"}]}),
            )
            .ok()?;
        if answer.status == 503 {
            assert_eq!(
                answer.error_code(),
                "partition_unavailable",
                "{:?}",
                answer.body
            );
            return None;
        }
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        answer.body["offsets"][0]["offset"].as_u64()
    });
    println!(
        "before the kill log_end {log_end}; the first offset after the restart {after} (+{})",
        after - log_end
    );
    assert!(
        after >= log_end,
        "offset {after} reused (log_end was {log_end})"
    );
    assert!(
        after > log_end,
        "offset {after}: the log resumed at its old end"
    );
    let described = via.describe_topic("durable").partitions[partition as usize].clone();
    println!("after the restart: {described:?}");
    assert_eq!(
        described.leader_epoch,
        before.leader_epoch + 1,
        "leader epoch before {before:?}, after {described:?}"
    );
    assert_eq!(described.leader, victim as u64);
    assert_eq!(described.isr, [victim as u64]);
    assert_eq!(
        (described.log_start, described.log_end),
        (after, after + 1),
        "the partition came back empty and holds only the new record"
    );
    let records = via.fetch_all("durable", partition, after);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].value.as_deref(), Some("after"));

    let restarted = cluster.node(victim).metric(metric);
    assert!(
        restarted >= Some(1.0),
        "{metric} on node {victim}: {restarted:?}"
    );
    let log = cluster.node(victim).log();
    let warned = log
        .lines()
        .any(|l| l.contains("WARN") && l.contains("came back empty"));
    assert!(
        warned,
        "no WARN about the empty partition in node {victim}'s log"
    );
}

/// A node that restarted and has not yet re-applied the cluster's metadata does not know the
/// topics: a request for a partition it leads must be answered as retriable (503
/// partition_unavailable, "rejoining"), never as a topic that does not exist (404), or a client
/// gives up on a topic that is there. How much a restarted node re-applies at once depends on its
/// saved committed id, a hint that may be older than the log (`raft/committed.json`); removing it
/// makes the node start knowing nothing, and pausing the two other nodes keeps it so while it is
/// asked.
#[test]
fn a_restarted_node_that_has_not_caught_up_answers_retriable_not_unknown_topic() {
    let mut cluster = Cluster::start(3);
    let (_controller, victim, partition) = partition_led_by_a_non_controller(&cluster, "known");
    let others: Vec<usize> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != victim)
        .collect();

    cluster.kill(victim);
    let hint = cluster.node(victim).data_dir().join("raft/committed.json");
    std::fs::remove_file(&hint).unwrap_or_else(|e| panic!("remove {}: {e}", hint.display()));
    for &id in &others {
        cluster.pause(id);
    }
    cluster.restart(victim);
    let node = cluster.node(victim);
    let produced = node.try_post(
        &produce_path("known", partition),
        &json!({"records": [{"value": "x"}]}),
    );
    let fetched = node.try_get(&format!("{}?offset=0", produce_path("known", partition)));
    let unknown = node.try_get(&format!("{}?offset=0", produce_path("never-created", 0)));
    let described = node.try_get("/v1/topics/known");
    let spread = node.try_post(
        "/v1/topics/known/records",
        &json!({"records": [{"value": "x"}]}),
    );
    for &id in &others {
        cluster.resume(id);
    }
    for (what, answer) in [("describe", described), ("topic-wide produce", spread)] {
        let answer = answer.unwrap_or_else(|e| panic!("{what} to the restarted node: {e}"));
        assert!(
            is_unavailable(&answer) && message(&answer).contains("rejoining"),
            "{what} to a restarted node that has not caught up: {} {:?}",
            answer.status,
            answer.body
        );
    }
    for (what, answer) in [("produce", produced), ("fetch", fetched)] {
        let answer = answer.unwrap_or_else(|e| panic!("{what} to the restarted node: {e}"));
        assert!(
            is_unavailable(&answer),
            "{what} to a restarted node that has not caught up: {} {:?}",
            answer.status,
            answer.body
        );
        assert!(message(&answer).contains("rejoining"), "{:?}", answer.body);
    }
    // It cannot tell a topic it has not heard of yet from one that does not exist: both are
    // retriable until it has caught up.
    let unknown = unknown.expect("fetch of a topic never created");
    assert!(
        is_unavailable(&unknown),
        "{} {:?}",
        unknown.status,
        unknown.body
    );

    // Once it has caught up, it serves the partition again, and a topic never created is 404.
    cluster.eventually(
        DOWN_DEADLINE,
        "a produce through the restarted node",
        || {
            let answer = cluster
                .node(victim)
                .try_post(
                    &produce_path("known", partition),
                    &json!({"records": [{"value": "y"}]}),
                )
                .ok()?;
            (answer.status == 200).then_some(())
        },
    );
    let unknown = cluster
        .node(victim)
        .get(&format!("{}?offset=0", produce_path("never-created", 0)));
    assert_eq!(unknown.status, 404, "{:?}", unknown.body);
    assert_eq!(unknown.error_code(), "unknown_topic");
}

/// A controller cut off from the majority cannot commit: a change sent to it is refused with a
/// clear error in bounded time (never a hang), and one sent to it again once the others are back
/// goes through.
#[test]
fn a_controller_without_a_majority_refuses_changes_instead_of_hanging() {
    let mut cluster = Cluster::start(3);
    let controller = cluster.wait_for_controller();
    let others: Vec<usize> = cluster
        .ids()
        .into_iter()
        .filter(|&id| id != controller)
        .collect();
    for &id in &others {
        cluster.kill(id);
    }
    let alone = cluster.node(controller);
    let sent = Instant::now();
    let answer = alone.post("/v1/topics", &json!({"name": "lonely", "partitions": 1}));
    let took = sent.elapsed();
    println!(
        "create on a controller without a majority: {} {} after {took:?}",
        answer.status,
        answer.error_code()
    );
    assert_eq!(answer.status, 503, "{answer:?}");
    assert_eq!(answer.error_code(), "controller_unavailable", "{answer:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");

    for &id in &others {
        cluster.restart(id);
    }
    cluster.wait_for_controller();
    let via = cluster.node(others[0]);
    let created = cluster.eventually(
        Duration::from_secs(15),
        "a create once the majority is back",
        || {
            let answer = via.post("/v1/topics", &json!({"name": "together", "partitions": 3}));
            (answer.status == 201).then_some(answer)
        },
    );
    assert_eq!(created.status, 201);
}
