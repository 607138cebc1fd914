//! The fault harness: a 3-node cluster behind [`crate::proxy`] proxies, idempotent producers with
//! `acks=all` and a consumer group working the whole time, and a nemesis that, round after round,
//! does one of: `kill -9` a node (the leader of busy partitions, or the controller) and restart
//! it, pause one with SIGSTOP past its session, isolate one (every link in and out blackholed),
//! cut one link one way, or slow every link of one node. Between rounds it heals and waits until
//! every partition has its full ISR again, so at most one node is ever faulty: with
//! `min_insync_replicas = 2` of 3, nothing acknowledged may be lost.
//!
//! At the end the producers stop, the consumers drain, every partition is read from its log start
//! to its high watermark, and [`crate::checker::check`] compares what producers saw acknowledged,
//! what the logs hold, what the members read and the commits they saw acknowledged. When it finds a
//! violation, the nodes' logs are kept in a temporary directory the outcome names.
//!
//! Each round also checks that its fault had an effect (a node marked down, an ISR shrink, a
//! leader epoch raised, or acks that stalled): a nemesis whose faults do nothing proves nothing,
//! so [`FaultRun::run`] reports the rounds whose fault was not seen.

use crate::checker::{check, Acked, CommitSeen, Consumed, History, Owned, Report, Stored};
use crate::cluster::Cluster;
use crate::group::GroupMember;
use crate::proxy::Link;
use mq_wire::api::{BatchProduceResponse, TopicDescription};
use mq_wire::batch::{BatchBuilder, RecordInput};
use mq_wire::partitioner::partition_for_key;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const TOPIC: &str = "chaos";
const GROUP: &str = "chaos-readers";
const PARTITIONS: u32 = 3;
/// Records per produce request.
const BATCH: usize = 20;
/// Keys per producer; each key's records carry rising sequence numbers.
const KEYS: usize = 8;

/// Timings that make faults bite within seconds.
pub const TIMINGS: &str = "heartbeat_interval = \"100ms\"\nelection_timeout = \"500ms\"\n\
    node_session_timeout = \"1500ms\"\nreplica_lag_max = \"2s\"\nreplication_timeout = \"4s\"\n";

/// The kinds of fault the nemesis picks from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// `kill -9` the node leading the most partitions, restart it after a pause.
    KillLeader,
    /// `kill -9` the controller, restart it after a pause.
    KillController,
    /// SIGSTOP a node past its session timeout, then SIGCONT.
    Pause,
    /// Blackhole every link into and out of a node.
    Isolate,
    /// Blackhole one link, one way: a leader stops hearing one follower's fetches.
    CutOneWay,
    /// Every link of a node delayed.
    Slow,
}

impl Fault {
    pub const ALL: [Fault; 6] = [
        Fault::KillLeader,
        Fault::KillController,
        Fault::Pause,
        Fault::Isolate,
        Fault::CutOneWay,
        Fault::Slow,
    ];
}

/// A small deterministic generator (xorshift64*), so a run is repeatable from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct FaultRun {
    pub rounds: usize,
    pub seed: u64,
    pub producers: usize,
    pub members: usize,
    /// Faults to cycle through (each round takes the next one, so every kind is used).
    pub faults: Vec<Fault>,
    /// The producers' acks: `all` always; `1` only to show that the checker then finds losses.
    pub acks: String,
}

/// What a run saw.
pub struct Outcome {
    pub report: Report,
    /// One line per round: the fault, its target, whether its effect was seen, how long the
    /// cluster took to heal.
    pub rounds: Vec<String>,
    /// Rounds whose fault had no visible effect.
    pub unseen: usize,
    pub produce_errors: BTreeMap<String, u64>,
    pub seconds: f64,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.rounds {
            writeln!(f, "{line}")?;
        }
        writeln!(f, "produce errors retried: {:?}", self.produce_errors)?;
        writeln!(f, "rounds whose fault was not seen: {}", self.unseen)?;
        writeln!(f, "run took {:.1} s", self.seconds)?;
        write!(f, "{}", self.report)
    }
}

/// State shared by the workers.
struct Shared {
    bases: Vec<String>,
    acks: String,
    stop_producing: AtomicBool,
    stop_consuming: AtomicBool,
    history: Mutex<History>,
    produce_errors: Mutex<BTreeMap<String, u64>>,
    acked: AtomicU64,
    last_ack_ms: AtomicU64,
    started: Instant,
    /// Orders fetches sent and commits acknowledged across the members.
    clock: AtomicU64,
}

impl Shared {
    fn note_error(&self, what: String) {
        *self.produce_errors.lock().unwrap().entry(what).or_default() += 1;
    }

    fn ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}

fn http(timeout: Duration) -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .expect("http client")
}

impl FaultRun {
    pub fn run(&self) -> Outcome {
        let started = Instant::now();
        let mut cluster = Cluster::start_proxied(3, TIMINGS);
        let bases: Vec<String> = cluster
            .ids()
            .iter()
            .map(|&id| cluster.node(id).base.clone())
            .collect();
        let controller = cluster.controller();
        let created = cluster.node(controller).post(
            "/v1/topics",
            &json!({"name": TOPIC, "partitions": PARTITIONS, "replication_factor": 3, "min_insync_replicas": 2}),
        );
        assert_eq!(created.status, 201, "create {TOPIC}: {:?}", created.body);
        let shared = Arc::new(Shared {
            bases,
            acks: self.acks.clone(),
            stop_producing: AtomicBool::new(false),
            stop_consuming: AtomicBool::new(false),
            history: Mutex::new(History::default()),
            produce_errors: Mutex::new(BTreeMap::new()),
            acked: AtomicU64::new(0),
            last_ack_ms: AtomicU64::new(0),
            started,
            clock: AtomicU64::new(0),
        });
        let producers: Vec<JoinHandle<()>> = (0..self.producers)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || produce(&shared, i as u32))
            })
            .collect();
        let members: Vec<JoinHandle<()>> = (0..self.members)
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || consume(&shared, format!("m{i}")))
            })
            .collect();
        let mut rng = Rng(self.seed.max(1));
        wait_healthy(&cluster, Duration::from_secs(30));
        let mut rounds = Vec::new();
        let mut unseen = 0;
        for round in 0..self.rounds {
            // Traffic flows for a while before each fault.
            wait_for_acks(&shared, 200, Duration::from_secs(10));
            let fault = self.faults[round % self.faults.len()];
            let line = inject(&mut cluster, fault, &mut rng, &shared);
            let healed_in = wait_healthy(&cluster, Duration::from_secs(60));
            if line.contains("NOT SEEN") {
                unseen += 1;
            }
            let line = format!(
                "round {}: {line}; healthy again {:.1} s after",
                round + 1,
                healed_in.as_secs_f64()
            );
            eprintln!("{line}");
            rounds.push(line);
        }
        wait_for_acks(&shared, 200, Duration::from_secs(10));
        shared.stop_producing.store(true, Ordering::SeqCst);
        for producer in producers {
            producer.join().expect("a producer panicked");
        }
        let stored = read_all(&cluster);
        // The members drain what is stored, then stop.
        let total = stored.len();
        let drained = Instant::now();
        while drained.elapsed() < Duration::from_secs(60) {
            let consumed = {
                let history = shared.history.lock().unwrap();
                let mut values: Vec<&str> =
                    history.consumed.iter().map(|c| c.value.as_str()).collect();
                values.sort_unstable();
                values.dedup();
                values.len()
            };
            if consumed >= total {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        shared.stop_consuming.store(true, Ordering::SeqCst);
        for member in members {
            member.join().expect("a member panicked");
        }
        let describe = describe(&cluster);
        let mut history = std::mem::take(&mut *shared.history.lock().unwrap());
        history.stored = stored;
        history.log_starts = describe
            .partitions
            .iter()
            .map(|p| (p.partition, p.log_start))
            .collect();
        let report = check(&history);
        if !report.ok() {
            // The cluster's directory goes with it: keep the nodes' logs for the post-mortem.
            let kept = std::env::temp_dir().join(format!("mq-faults-logs-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&kept);
            for id in cluster.ids() {
                let _ = std::fs::copy(
                    cluster.node(id).stderr_path(),
                    kept.join(format!("node{id}.log")),
                );
            }
            rounds.push(format!("nodes' logs kept in {}", kept.display()));
        }
        let produce_errors = shared.produce_errors.lock().unwrap().clone();
        Outcome {
            report,
            rounds,
            unseen,
            produce_errors,
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// The topic as a running node describes it.
fn describe(cluster: &Cluster) -> TopicDescription {
    cluster.eventually(
        Duration::from_secs(30),
        "a description of the topic",
        || {
            cluster.running().into_iter().find_map(|id| {
                let answer = cluster
                    .node(id)
                    .try_get(&format!("/v1/topics/{TOPIC}"))
                    .ok()?;
                (answer.status == 200)
                    .then(|| serde_json::from_value(answer.body).ok())
                    .flatten()
            })
        },
    )
}

/// Waits until every node is alive and every partition has its three replicas in sync; returns
/// how long that took.
fn wait_healthy(cluster: &Cluster, deadline: Duration) -> Duration {
    let started = Instant::now();
    cluster.wait_for_controller();
    cluster.eventually(deadline, "every partition with its full ISR", || {
        let topic = describe(cluster);
        topic
            .partitions
            .iter()
            .all(|p| p.isr.len() == 3)
            .then_some(())
    });
    started.elapsed()
}

/// Waits until `more` records have been acknowledged since the call (or the deadline).
fn wait_for_acks(shared: &Shared, more: u64, deadline: Duration) {
    let target = shared.acked.load(Ordering::SeqCst) + more;
    let started = Instant::now();
    while shared.acked.load(Ordering::SeqCst) < target && started.elapsed() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The node leading the most partitions.
fn busiest_leader(cluster: &Cluster) -> usize {
    let topic = describe(cluster);
    let mut counts = BTreeMap::new();
    for p in &topic.partitions {
        *counts.entry(p.leader as usize).or_insert(0) += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(_, c)| *c)
        .map(|(n, _)| n)
        .expect("partitions have leaders")
}

/// The sum of the leader epochs and of the ISR shrinks seen so far: a fault that bit raises one.
fn disturbance(cluster: &Cluster) -> (u64, usize) {
    let topic = describe(cluster);
    let epochs = topic
        .partitions
        .iter()
        .map(|p| u64::from(p.leader_epoch))
        .sum();
    let short = topic.partitions.iter().filter(|p| p.isr.len() < 3).count();
    (epochs, short)
}

/// The longest a fault is held while the cluster has not yet shown its effect.
const LONGEST_FAULT: Duration = Duration::from_secs(20);

/// Injects one fault and undoes it; returns a line saying what and whether it bit.
fn inject(cluster: &mut Cluster, fault: Fault, rng: &mut Rng, shared: &Shared) -> String {
    let (epochs_before, _) = disturbance(cluster);
    let acks_before = shared.last_ack_ms.load(Ordering::SeqCst);
    let mut bit = false;
    // Polls while the fault holds, at least `how_long`: an ISR shrink or an epoch rise is its
    // effect. With `until_seen`, a fault not seen by then is held on (up to
    // [`LONGEST_FAULT`]) until it is: a loaded machine reacts later, and a fault undone before
    // the cluster noticed it tests nothing and would be reported unseen.
    let mut watch_for = |cluster: &Cluster, how_long: Duration, until_seen: bool| {
        let started = Instant::now();
        while started.elapsed() < how_long
            || (until_seen && !bit && started.elapsed() < LONGEST_FAULT)
        {
            if let Some(topic) = cluster.running().into_iter().find_map(|id| {
                let answer = cluster
                    .node(id)
                    .try_get(&format!("/v1/topics/{TOPIC}"))
                    .ok()?;
                serde_json::from_value::<TopicDescription>(answer.body).ok()
            }) {
                let epochs: u64 = topic
                    .partitions
                    .iter()
                    .map(|p| u64::from(p.leader_epoch))
                    .sum();
                if epochs > epochs_before || topic.partitions.iter().any(|p| p.isr.len() < 3) {
                    bit = true;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let what = match fault {
        Fault::KillLeader | Fault::KillController => {
            let target = if fault == Fault::KillLeader {
                busiest_leader(cluster)
            } else {
                cluster.controller()
            };
            cluster.kill(target);
            watch_for(cluster, Duration::from_millis(1500 + rng.below(1000)), true);
            cluster.restart(target);
            format!("{fault:?} node {target}")
        }
        Fault::Pause => {
            let target = 1 + rng.below(3) as usize;
            cluster.pause(target);
            watch_for(cluster, Duration::from_millis(2500 + rng.below(1000)), true);
            cluster.resume(target);
            format!("{fault:?} node {target}")
        }
        Fault::Isolate => {
            let target = 1 + rng.below(3) as usize;
            cluster.proxies().isolate(target, Link::Blackhole);
            watch_for(cluster, Duration::from_millis(3000 + rng.below(1000)), true);
            cluster.proxies().heal_all();
            format!("{fault:?} node {target}")
        }
        Fault::CutOneWay => {
            // A follower's fetches stop reaching the busiest leader.
            let leader = busiest_leader(cluster);
            let follower = 1 + (leader + rng.below(2) as usize) % 3;
            cluster.proxies().cut_one_way(follower, leader);
            watch_for(cluster, Duration::from_millis(3500 + rng.below(1000)), true);
            cluster.proxies().heal_all();
            format!("{fault:?} {follower} -> {leader}")
        }
        Fault::Slow => {
            let target = 1 + rng.below(3) as usize;
            cluster
                .proxies()
                .isolate(target, Link::Delay(Duration::from_millis(30)));
            watch_for(cluster, Duration::from_millis(2000), false);
            cluster.proxies().heal_all();
            // A slow node may keep its ISR: its effect is acks that keep flowing, slower.
            bit = bit || shared.last_ack_ms.load(Ordering::SeqCst) > acks_before;
            format!("{fault:?} node {target} (30 ms per chunk)")
        }
    };
    format!("{what}: {}", if bit { "seen" } else { "NOT SEEN" })
}

/// One idempotent producer: batches of [`BATCH`] records of one key, `acks=all`, each retried
/// byte for byte (same producer id and sequence) until acknowledged.
fn produce(shared: &Shared, index: u32) {
    let client = http(Duration::from_secs(8));
    let mut producer_id = 10_000 + i64::from(index) * 1_000;
    let mut sequences = [0i32; PARTITIONS as usize];
    let mut seq = 0u64;
    let mut node = index as usize;
    let mut batch_index = 0usize;
    while !shared.stop_producing.load(Ordering::SeqCst) {
        let key = format!("p{index}-k{}", batch_index % KEYS);
        batch_index += 1;
        let partition = partition_for_key(key.as_bytes(), PARTITIONS);
        let mut builder = BatchBuilder::default();
        let mut values = Vec::with_capacity(BATCH);
        for _ in 0..BATCH {
            let value = format!("p{index}-s{seq}");
            builder.push(&RecordInput {
                id: uuid::Uuid::new_v4(),
                timestamp: crate::now_ms(),
                key: Some(key.as_bytes()),
                value: Some(value.as_bytes()),
                headers: &[],
            });
            values.push((seq, value));
            seq += 1;
        }
        builder.set_producer(producer_id, 0, sequences[partition as usize]);
        let body = builder.finish();
        let started = Instant::now();
        loop {
            let base = &shared.bases[node % shared.bases.len()];
            let url = format!(
                "{base}/v1/topics/{TOPIC}/partitions/{partition}/records?acks={}",
                shared.acks
            );
            let sent = client
                .post(&url)
                .header("content-type", mq_wire::binary::BATCH_CONTENT_TYPE)
                .body(body.clone())
                .send();
            let outcome = match sent {
                Err(e) => Err(if e.is_timeout() {
                    "timeout".to_owned()
                } else {
                    "io".to_owned()
                }),
                Ok(response) => {
                    let status = response.status().as_u16();
                    let text = response.text().unwrap_or_default();
                    if status == 200 {
                        serde_json::from_str::<BatchProduceResponse>(&text)
                            .map_err(|e| format!("bad answer: {e}"))
                    } else {
                        let code = serde_json::from_str::<Value>(&text)
                            .ok()
                            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
                            .unwrap_or_else(|| status.to_string());
                        Err(code)
                    }
                }
            };
            match outcome {
                Ok(answer) => {
                    let base_offset = answer.batches[0].base_offset;
                    let mut history = shared.history.lock().unwrap();
                    for (i, (seq, value)) in values.iter().enumerate() {
                        history.acked.push(Acked {
                            producer: index,
                            seq: *seq,
                            key: key.clone(),
                            value: value.clone(),
                            partition,
                            offset: base_offset + i as u64,
                        });
                    }
                    drop(history);
                    sequences[partition as usize] += BATCH as i32;
                    shared.acked.fetch_add(BATCH as u64, Ordering::SeqCst);
                    shared.last_ack_ms.store(shared.ms(), Ordering::SeqCst);
                    break;
                }
                Err(code) => {
                    shared.note_error(code.clone());
                    if code == "out_of_order_sequence" {
                        // The partition lost this producer's state: carry on as a new producer
                        // (Kafka's producer resets the same way). The batch was not appended.
                        producer_id += 1;
                        sequences = [0; PARTITIONS as usize];
                        break;
                    }
                    node += 1;
                    if shared.stop_producing.load(Ordering::SeqCst)
                        && started.elapsed() > Duration::from_secs(15)
                    {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }
}

/// One member of the group: joins through any node, reads, commits after processing, and joins
/// again whenever it is fenced or its coordinator moves.
fn consume(shared: &Shared, name: String) {
    let mut node = name.len();
    while !shared.stop_consuming.load(Ordering::SeqCst) {
        let base = shared.bases[node % shared.bases.len()].clone();
        node += 1;
        let Ok(mut member) =
            GroupMember::try_join(&base, GROUP, &[TOPIC], 3_000, Duration::from_secs(8))
        else {
            std::thread::sleep(Duration::from_millis(100));
            continue;
        };
        let mut generation = u64::MAX;
        loop {
            if member.generation() != generation {
                generation = member.generation();
                let partitions = member
                    .assignment
                    .assignment
                    .iter()
                    .flat_map(|t| t.partitions.clone())
                    .collect();
                shared.history.lock().unwrap().owned.push(Owned {
                    member: member.member_id().to_owned(),
                    generation: generation as i64,
                    partitions,
                });
            }
            if shared.stop_consuming.load(Ordering::SeqCst) {
                let _ = member.leave();
                return;
            }
            let id = member.member_id().to_owned();
            let sent = shared.clock.fetch_add(1, Ordering::SeqCst);
            let mut read = Vec::new();
            let step =
                member.poll_process_commit(200, |_, partition, offset, generation, value| {
                    read.push(Consumed {
                        at: sent,
                        member: id.clone(),
                        generation: generation as i64,
                        partition,
                        offset,
                        value: value.to_owned(),
                    });
                });
            let acknowledged = shared.clock.fetch_add(1, Ordering::SeqCst);
            let mut history = shared.history.lock().unwrap();
            if step.is_ok() {
                // The commit after processing was acknowledged: each partition's next offset.
                let mut next: BTreeMap<u32, u64> = BTreeMap::new();
                for record in &read {
                    let at = next.entry(record.partition).or_default();
                    *at = (*at).max(record.offset + 1);
                }
                history
                    .commits
                    .extend(next.into_iter().map(|(partition, offset)| CommitSeen {
                        at: acknowledged,
                        partition,
                        offset,
                    }));
            }
            history.consumed.extend(read);
            drop(history);
            if step.is_err() {
                break;
            }
        }
    }
}

/// Every record of every partition, from its log start to its high watermark, read from its
/// leader through any node.
fn read_all(cluster: &Cluster) -> Vec<Stored> {
    let topic = describe(cluster);
    let mut stored = Vec::new();
    for p in &topic.partitions {
        let mut offset = p.log_start;
        while offset < p.high_watermark {
            let path = format!(
                "/v1/topics/{TOPIC}/partitions/{}/records?offset={offset}&max_records=5000",
                p.partition
            );
            let answer = cluster.eventually(Duration::from_secs(30), "a read of the topic", || {
                cluster.running().into_iter().find_map(|id| {
                    let answer = cluster.node(id).try_get(&path).ok()?;
                    (answer.status == 200).then_some(answer.body)
                })
            });
            let records = answer["records"].as_array().cloned().unwrap_or_default();
            if records.is_empty() {
                break;
            }
            for record in &records {
                stored.push(Stored {
                    partition: p.partition,
                    offset: record["offset"].as_u64().expect("offset"),
                    key: record["key"].as_str().map(str::to_owned),
                    value: record["value"].as_str().unwrap_or_default().to_owned(),
                });
            }
            offset = stored.last().map_or(offset, |s| s.offset + 1);
        }
    }
    stored
}
