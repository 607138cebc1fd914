//! Replication end to end: three real nodes (five in one test), topics with three replicas,
//! `acks=all` produce, a leader killed with SIGKILL, its return as an empty follower,
//! `min_insync_replicas`, deleted records through elections; then the
//! fault harness ([`mq_e2e::faults`]): a short run of every kind of fault in `cargo test`, and the
//! long run behind `MQ_FAULT_ROUNDS` (`MQ_FAULT_ROUNDS=24 cargo test -p mq-e2e --test replication
//! long_run -- --nocapture`), whose printed result goes into docs/TESTING.md.

use mq_e2e::cluster::{json_lines, Cluster, Node};
use mq_e2e::faults::{Fault, FaultRun};
use mq_e2e::fetch_pages;
use mq_wire::api::{PartitionInfo, TopicDescription};
use serde_json::json;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Failover within this, from the kill to the next acknowledged `acks=all` produce.
const FAILOVER_DEADLINE: Duration = Duration::from_secs(10);
const HEAL_DEADLINE: Duration = Duration::from_secs(30);
/// A follower that stops fetching leaves the ISR after 1 s, so a follower that never started
/// fetching a new topic would be seen leaving it.
const TIMINGS: &str = "heartbeat_interval = \"250ms\"\nelection_timeout = \"1s\"\n\
    node_session_timeout = \"3s\"\nreplica_lag_max = \"1s\"\n";

fn create(node: &Node, name: &str, min_insync: u32) -> TopicDescription {
    let created = node.post(
        "/v1/topics",
        &json!({"name": name, "partitions": 3, "replication_factor": 3, "min_insync_replicas": min_insync}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    serde_json::from_value(created.body).unwrap()
}

/// Waits until every partition of `topic` has all three replicas in sync and its preferred
/// replica leading.
fn wait_in_sync(cluster: &Cluster, via: usize, topic: &str) -> TopicDescription {
    cluster.eventually(
        HEAL_DEADLINE,
        "every replica in sync, preferred leaders back",
        || {
            let answer = cluster
                .node(via)
                .try_get(&format!("/v1/topics/{topic}"))
                .ok()?;
            let described: TopicDescription = serde_json::from_value(answer.body).ok()?;
            described
                .partitions
                .iter()
                .all(|p| p.isr.len() == 3 && p.leader == p.replicas[0])
                .then_some(described)
        },
    )
}

/// Produces one JSON record with `acks=all` to a partition; `Err` with the status and code.
fn produce_one(
    node: &Node,
    topic: &str,
    partition: u32,
    value: &str,
    acks: &str,
) -> Result<u64, (u16, String)> {
    let answer = node
        .try_post(
            &format!("/v1/topics/{topic}/partitions/{partition}/records"),
            &json!({"records": [{"value": value}], "acks": acks}),
        )
        .map_err(|e| (0, e.to_string()))?;
    if answer.status == 200 {
        Ok(answer.body["offsets"][0]["offset"]
            .as_u64()
            .expect("offset"))
    } else {
        Err((answer.status, answer.error_code().to_owned()))
    }
}

/// Every record of every partition, read through `node`: value → (partition, offset), each
/// value once, offsets dense from each log start.
fn read_everything(node: &Node, topic: &str) -> BTreeMap<String, (u32, u64)> {
    let described = node.describe_topic(topic);
    let mut seen = BTreeMap::new();
    for p in &described.partitions {
        let records = node.fetch_all(topic, p.partition, p.log_start);
        for (i, record) in records.iter().enumerate() {
            let offset = record.offset;
            assert_eq!(
                offset,
                p.log_start + i as u64,
                "offsets dense in partition {}",
                p.partition
            );
            let value = record.value.clone().expect("a text value");
            let before = seen.insert(value.clone(), (p.partition, offset));
            assert!(
                before.is_none(),
                "`{value}` stored twice: {before:?} and {:?}",
                (p.partition, offset)
            );
        }
        assert_eq!(records.len() as u64, p.high_watermark - p.log_start);
    }
    seen
}

#[test]
fn a_killed_leader_loses_no_acknowledged_record_and_comes_back_as_a_follower() {
    let mut cluster = Cluster::start_with(3, TIMINGS);
    let controller = cluster.wait_for_controller();
    let created = create(cluster.node(controller), "replicated", 2);
    for p in &created.partitions {
        assert_eq!(p.replicas.len(), 3, "{p:?}");
        let mut distinct = p.replicas.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "replicas on distinct nodes: {p:?}");
    }

    // 30,000 keyed lines through node 1, acks=all: acknowledged only once three copies exist.
    let lines: String = (0..30_000)
        .map(|i| format!("key{}\tline-{i}\n", i % 97))
        .collect();
    let input = cluster.root().join("lines.txt");
    std::fs::write(&input, &lines).unwrap();
    let output = cluster.node(1).mqctl(
        &[
            "produce",
            "replicated",
            "--key-separator",
            "\t",
            "--acks",
            "all",
            "-o",
            "json",
        ],
        Stdio::from(std::fs::File::open(&input).unwrap()),
        Duration::from_secs(60),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary = &json_lines("produce", &output)[0];
    assert_eq!(summary["records"], 30_000, "{summary}");
    // Every follower holds everything once the load is over. A follower that stalled for more
    // than `replica_lag_max` on a loaded machine may have left the ISR for a moment and come
    // back: that is timing, not a fault, so the shrinks are printed, not asserted.
    let described = cluster.eventually(
        HEAL_DEADLINE,
        "every replica in sync and holding the whole log after the load",
        || {
            let described = cluster.node(2).describe_topic("replicated");
            described
                .partitions
                .iter()
                .all(|p| p.isr.len() == 3 && p.high_watermark == p.log_end)
                .then_some(described)
        },
    );
    for id in cluster.ids() {
        println!(
            "node {id}: mq_isr_shrinks_total {:?} under the load",
            cluster.node(id).metric("mq_isr_shrinks_total")
        );
    }
    // Followers copied over their replication streams, not one HTTP request per fetch.
    for id in cluster.ids() {
        let node = cluster.node(id);
        assert!(
            node.metric("mq_replica_fetches_total").unwrap_or(0.0) > 0.0,
            "node {id} leads partitions: it answered its followers' fetches"
        );
        assert_eq!(
            node.metric(
                r#"mq_http_requests_total{endpoint="/internal/v1/replica/fetch",method="POST",status="200"}"#
            ),
            None,
            "node {id}: its followers fetched over HTTP"
        );
    }

    // Kill the leader of a partition (not the controller: its failover also waits for a Raft
    // election) and time the next acknowledged acks=all produce there.
    let target = described
        .partitions
        .iter()
        .find(|p| p.leader != controller as u64)
        .expect("placement spreads leaders over the three nodes")
        .clone();
    let partition = target.partition;
    let victim = target.leader as usize;
    let survivor = cluster.ids().into_iter().find(|&id| id != victim).unwrap();
    let epoch_before = target.leader_epoch;
    cluster.kill(victim);
    let killed = Instant::now();
    let mut refusals = BTreeMap::<String, u32>::new();
    let offset = cluster.eventually(
        FAILOVER_DEADLINE,
        "an acks=all produce after the kill",
        || match produce_one(
            cluster.node(survivor),
            "replicated",
            partition,
            "after-the-kill",
            "all",
        ) {
            Ok(offset) => Some(offset),
            Err((_, code)) => {
                *refusals.entry(code).or_default() += 1;
                None
            }
        },
    );
    println!(
        "leader {victim} killed: next acks=all produce acknowledged at offset {offset} after {:?} (refused meanwhile: {refusals:?})",
        killed.elapsed()
    );
    let after = cluster.node(survivor).describe_topic("replicated");
    let moved = after
        .partitions
        .iter()
        .find(|p| p.partition == partition)
        .expect("the partition is described");
    assert_ne!(moved.leader, victim as u64, "{moved:?}");
    assert!(moved.leader_epoch > epoch_before, "{moved:?}");
    assert!(!moved.isr.contains(&(victim as u64)), "{moved:?}");
    assert_eq!(
        offset, target.log_end,
        "the new leader continues the same log"
    );

    // Everything acknowledged before the kill is there, once, at its offset.
    let stored = read_everything(cluster.node(survivor), "replicated");
    for i in 0..30_000 {
        assert!(stored.contains_key(&format!("line-{i}")), "line-{i} lost");
    }

    // The victim comes back empty, copies its partitions, rejoins every ISR, and leads its
    // preferred partitions again.
    cluster.restart(victim);
    let healed = wait_in_sync(&cluster, survivor, "replicated");
    println!(
        "node {victim} back in every ISR {:?} after the kill",
        killed.elapsed()
    );
    let again = read_everything(cluster.node(victim), "replicated");
    assert_eq!(
        again,
        stored_with(&stored, &healed),
        "the same records at the same offsets"
    );
    let expanded: f64 = cluster
        .ids()
        .into_iter()
        .filter_map(|id| cluster.node(id).metric("mq_isr_expands_total"))
        .sum();
    assert!(
        expanded >= 1.0,
        "the victim's return is counted as an ISR expansion"
    );
}

/// `stored` as it must read once healed (nothing moved, nothing added).
fn stored_with(
    stored: &BTreeMap<String, (u32, u64)>,
    healed: &TopicDescription,
) -> BTreeMap<String, (u32, u64)> {
    let total: u64 = healed
        .partitions
        .iter()
        .map(|p| p.high_watermark - p.log_start)
        .sum();
    assert_eq!(total as usize, stored.len());
    stored.clone()
}

#[test]
fn acks_all_is_refused_while_too_few_replicas_are_in_sync() {
    let mut cluster = Cluster::start_with(3, TIMINGS);
    let controller = cluster.wait_for_controller();
    create(cluster.node(controller), "strict", 3);
    // Accepted once all three hold it. A follower a loaded machine started late may leave the
    // ISR for a moment and refuse the first tries: asked again until then.
    cluster.eventually(
        HEAL_DEADLINE,
        "acks=all accepted with three in sync",
        || produce_one(cluster.node(controller), "strict", 0, "three copies", "all").ok(),
    );
    let described = cluster.node(controller).describe_topic("strict");
    let leader = described.partitions[0].leader as usize;
    let follower = described.partitions[0]
        .replicas
        .iter()
        .map(|&n| n as usize)
        .find(|&n| n != leader && n != controller)
        .or_else(|| {
            described.partitions[0]
                .replicas
                .iter()
                .map(|&n| n as usize)
                .find(|&n| n != leader)
        })
        .unwrap();
    cluster.kill(follower);
    let via = cluster.node(leader);
    let refused = cluster.eventually(
        FAILOVER_DEADLINE,
        "acks=all refused with two in sync",
        || match produce_one(via, "strict", 0, "needs three", "all") {
            Err((status, code)) if code == "not_enough_replicas" => Some(status),
            _ => None,
        },
    );
    assert_eq!(refused, 503);
    assert!(
        produce_one(via, "strict", 0, "one copy is enough", "1").is_ok(),
        "acks=1 still works"
    );
    cluster.restart(follower);
    let via = cluster.node(leader);
    cluster.eventually(HEAL_DEADLINE, "acks=all accepted again", || {
        produce_one(via, "strict", 0, "three again", "all").ok()
    });
}

/// `min_insync_replicas` altered through any node applies on every node: raised to 3 with a
/// replica down, `acks=all` is refused; lowered to 2 through another node, it is accepted again.
#[test]
fn an_altered_min_insync_replicas_applies_on_every_node() {
    let mut cluster = Cluster::start_with(3, TIMINGS);
    let controller = cluster.wait_for_controller();
    create(cluster.node(controller), "tuned", 2);
    let described = wait_in_sync(&cluster, controller, "tuned");
    let leader = described.partitions[0].leader as usize;
    let others: Vec<usize> = cluster.ids().into_iter().filter(|&n| n != leader).collect();
    let victim = others
        .iter()
        .copied()
        .find(|&n| n != controller)
        .unwrap_or(others[0]);
    cluster.kill(victim);
    cluster.wait_for_state(victim, "down", FAILOVER_DEADLINE);
    let via = cluster.node(leader);
    cluster.eventually(HEAL_DEADLINE, "acks=all with two of three in sync", || {
        produce_one(via, "tuned", 0, "two copies are enough", "all").ok()
    });

    let first = others.iter().copied().find(|&n| n != victim).unwrap();
    let raised = cluster.node(first).patch(
        "/v1/topics/tuned/config",
        &json!({"min_insync_replicas": 3}),
    );
    assert_eq!(raised.status, 200, "{:?}", raised.body);
    assert_eq!(raised.body["config"]["min_insync_replicas"], 3);
    for id in cluster.running() {
        cluster.eventually(
            FAILOVER_DEADLINE,
            "every node to show the new setting",
            || {
                let seen = cluster.node(id).get("/v1/topics/tuned");
                (seen.body["config"]["min_insync_replicas"] == 3).then_some(())
            },
        );
    }
    let refused = produce_one(via, "tuned", 0, "needs three now", "all");
    assert!(
        matches!(&refused, Err((503, code)) if code == "not_enough_replicas"),
        "{refused:?}"
    );

    let lowered = cluster.node(leader).patch(
        "/v1/topics/tuned/config",
        &json!({"min_insync_replicas": 2}),
    );
    assert_eq!(lowered.status, 200, "{:?}", lowered.body);
    assert_eq!(
        produce_one(via, "tuned", 0, "two again", "all").map(|_| ()),
        Ok(())
    );
    let too_many = cluster.node(first).patch(
        "/v1/topics/tuned/config",
        &json!({"min_insync_replicas": 4}),
    );
    assert_eq!(
        (too_many.status, too_many.error_code()),
        (400, "invalid_request"),
        "{:?}",
        too_many.body
    );
}

/// Records deleted through any node stay deleted after the leader dies: the delete is answered
/// only once every in-sync follower starts where the leader does, so the follower elected next
/// serves nothing below it.
#[test]
fn deleted_records_stay_deleted_after_a_failover() {
    let mut cluster = Cluster::start_with(3, TIMINGS);
    let controller = cluster.wait_for_controller();
    create(cluster.node(controller), "purged", 2);
    let described = wait_in_sync(&cluster, controller, "purged");
    let leader = described.partitions[0].leader as usize;
    let via = cluster.ids().into_iter().find(|&n| n != leader).unwrap();
    let values: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    let offsets = cluster.node(via).produce_values("purged", 0, &values);
    assert_eq!(offsets, (0..100).collect::<Vec<u64>>());

    delete_below_60(cluster.node(via), "purged");

    cluster.kill(leader);
    let survivor = cluster.ids().into_iter().find(|&n| n != leader).unwrap();
    let after = partition_0_once(
        &cluster,
        survivor,
        "purged",
        "a new leader for partition 0",
        |p| p.leader != leader as u64 && p.high_watermark == 100,
    );
    assert_records_below_60_deleted(&cluster, survivor, "purged", &after, &values);
}

/// Partition 0 of `topic` as `via` describes it, once `ready` holds.
fn partition_0_once(
    cluster: &Cluster,
    via: usize,
    topic: &str,
    what: &str,
    ready: impl Fn(&PartitionInfo) -> bool,
) -> PartitionInfo {
    cluster.eventually(HEAL_DEADLINE, what, || {
        let answer = cluster
            .node(via)
            .try_get(&format!("/v1/topics/{topic}"))
            .ok()?;
        let described: TopicDescription = serde_json::from_value(answer.body).ok()?;
        let p = described.partitions[0].clone();
        ready(&p).then_some(p)
    })
}

/// Deletes the records of partition 0 of `topic` below 60 through `node`: answered 200 with the
/// new log start.
fn delete_below_60(node: &Node, topic: &str) {
    let deleted = node.delete(&format!(
        "/v1/topics/{topic}/partitions/0/records?before=60"
    ));
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(deleted.body["log_start"], 60);
}

/// Partition 0 of `topic` (`described` through `via`), which held `values` at offsets 0 to 99
/// before those below 60 were deleted, starts at 60: offset 59 is refused, 60 to 99 are there.
fn assert_records_below_60_deleted(
    cluster: &Cluster,
    via: usize,
    topic: &str,
    described: &PartitionInfo,
    values: &[String],
) {
    assert_eq!(described.log_start, 60, "{described:?}");
    let below = cluster.node(via).get(&format!(
        "/v1/topics/{topic}/partitions/0/records?offset=59"
    ));
    assert_eq!(
        (below.status, below.error_code()),
        (416, "offset_out_of_range"),
        "{:?}",
        below.body
    );
    let left = fetch_pages(|path| cluster.node(via).get(path), "", topic, 0, 60);
    let left: Vec<&str> = left.iter().filter_map(|r| r.value.as_deref()).collect();
    assert_eq!(
        left,
        values[60..].iter().map(String::as_str).collect::<Vec<_>>()
    );
}

/// An eligible leader replica (Kafka's KIP-966) that was paused while its leader deleted records
/// is elected once the leader dies: it has not copied the delete, so only the metadata tells it,
/// and it deletes them before it leads. Five nodes: two of them outside the partition keep a
/// majority for the controller while two of its three replicas are down.
#[test]
fn deleted_records_stay_deleted_when_a_replica_that_missed_the_delete_is_elected() {
    let mut cluster = Cluster::start_with(5, TIMINGS);
    let controller = cluster.wait_for_controller();
    let created = cluster.node(controller).post(
        "/v1/topics",
        &json!({"name": "missed", "partitions": 1, "replication_factor": 3, "min_insync_replicas": 2}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let placed = wait_in_sync(&cluster, controller, "missed").partitions[0].clone();
    let [leader, eligible, other] = [0, 1, 2].map(|i| placed.replicas[i] as usize);
    let outside = cluster
        .ids()
        .into_iter()
        .find(|n| !placed.replicas.contains(&(*n as u64)))
        .unwrap();
    let values: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
    let offsets = cluster.node(outside).produce_values("missed", 0, &values);
    assert_eq!(offsets, (0..100).collect::<Vec<u64>>());
    let isr_is = |want: &[usize]| {
        let mut want = want.to_vec();
        want.sort_unstable();
        partition_0_once(&cluster, outside, "missed", &format!("ISR {want:?}"), |p| {
            let mut isr: Vec<usize> = p.isr.iter().map(|&n| n as usize).collect();
            isr.sort_unstable();
            isr == want && p.high_watermark == 100
        })
    };
    isr_is(&[leader, eligible, other]);

    // `other` leaves the ISR while it holds three (not eligible), then `eligible` while it holds
    // two: it still has every record acknowledged, so it may lead when no in-sync one is left.
    cluster.pause(other);
    isr_is(&[leader, eligible]);
    cluster.pause(eligible);
    isr_is(&[leader]);
    delete_below_60(cluster.node(outside), "missed");

    cluster.kill(leader);
    cluster.resume(eligible);
    let after = partition_0_once(
        &cluster,
        outside,
        "missed",
        "the eligible replica leads",
        |p| p.leader == eligible as u64 && p.high_watermark == 100,
    );
    assert_records_below_60_deleted(&cluster, outside, "missed", &after, &values);
    cluster.resume(other);
}

fn run_faults(rounds: usize, seed: u64) {
    let outcome = FaultRun {
        rounds,
        seed,
        producers: 3,
        members: 2,
        faults: Fault::ALL.to_vec(),
        acks: std::env::var("MQ_FAULT_ACKS").unwrap_or_else(|_| "all".to_owned()),
    }
    .run();
    println!("{outcome}");
    assert!(
        outcome.report.ok(),
        "the checker found violations:\n{outcome}"
    );
    assert!(
        outcome.report.acked > 1_000,
        "too little was acknowledged for the run to mean anything:\n{outcome}"
    );
    assert_eq!(
        outcome.unseen, 0,
        "a fault had no visible effect, so the run proves less than it claims:\n{outcome}"
    );
}

#[test]
fn every_kind_of_fault_once_loses_nothing_acknowledged() {
    if std::env::var_os("MQ_FAULT_ROUNDS").is_some() {
        return;
    }
    run_faults(Fault::ALL.len(), 0x5eed);
}

#[test]
fn long_run_of_faults_loses_nothing_acknowledged() {
    let Some(rounds) = std::env::var("MQ_FAULT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
    else {
        return;
    };
    let seed = std::env::var("MQ_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xfa17);
    run_faults(rounds, seed);
}
