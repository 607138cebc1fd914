//! Consumer groups end to end: several concurrent members of real groups on a real mqd share a
//! 6-partition topic of 60,000 records; nothing is lost, nothing is delivered twice unless a member
//! dies (and then only what it had not committed), zombies are fenced, lag is log end minus commit.

use mq_e2e::group::GroupMember;
use mq_e2e::{binary, eventually, Mqd};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const RECORDS: usize = 60_000;
const PARTITIONS: u32 = 6;
const DEADLINE: Duration = Duration::from_secs(120);

fn node_with_records(topic: &str) -> Mqd {
    let mqd = Mqd::start();
    mqd.create_topic(topic, PARTITIONS);
    for start in (0..RECORDS).step_by(5_000) {
        let records: Vec<_> = (start..start + 5_000)
            .map(|i| json!({"value": format!("r{i}")}))
            .collect();
        assert_eq!(
            mqd.post(
                &format!("/v1/topics/{topic}/records"),
                &json!({ "records": records })
            )
            .status,
            200
        );
    }
    mqd
}

/// (member, partition, offset, generation) of every record a member processed.
type Seen = Arc<Mutex<Vec<(String, u32, u64, u64)>>>;

fn describe(mqd: &Mqd, group: &str) -> serde_json::Value {
    let answer = mqd.get(&format!("/v1/groups/{group}"));
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    answer.body
}

fn fully_committed(mqd: &Mqd, group: &str) -> bool {
    let answer = mqd.get(&format!("/v1/groups/{group}"));
    if answer.status == 404 {
        return false; // no member has joined yet
    }
    let offsets = answer.body["offsets"].as_array().unwrap().clone();
    offsets.len() == PARTITIONS as usize
        && offsets
            .iter()
            .all(|o| o["lag"] == 0 && o["committed_offset"] == o["log_end_offset"])
}

/// The session of the members these tests run in threads: they stay until told to stop, and
/// one refused for an expired session fails the test, so the session is long enough for a
/// loaded machine to stall a thread without that being taken for a dead member.
const MEMBER_SESSION_MS: u64 = 5_000;

/// Runs a member that commits after processing until `stop`, then leaves.
fn run_member(
    base: String,
    group: &str,
    topic: &str,
    session_ms: u64,
    seen: Seen,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let (group, topic) = (group.to_owned(), topic.to_owned());
    std::thread::spawn(move || {
        let mut member = GroupMember::join(&base, &group, &[&topic], session_ms);
        let id = member.member_id().to_owned();
        let started = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
            assert!(started.elapsed() < DEADLINE, "member {id} ran out of time");
            member
                .poll_process_commit(100, |_, partition, offset, generation, _| {
                    seen.lock()
                        .unwrap()
                        .push((id.clone(), partition, offset, generation));
                })
                .unwrap_or_else(|refused| panic!("member {id} was refused: {refused:?}"));
        }
        member.leave().unwrap();
    })
}

#[test]
fn members_joining_mid_stream_receive_every_record_exactly_once() {
    let mqd = node_with_records("stream");
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut members = vec![run_member(
        mqd.base.clone(),
        "workers",
        "stream",
        MEMBER_SESSION_MS,
        Arc::clone(&seen),
        Arc::clone(&stop),
    )];
    // The second and third members join while the first is consuming: two rebalances mid-stream.
    for joined in [8_000, 20_000] {
        eventually(
            DEADLINE,
            "records to be consumed before the next join",
            || (seen.lock().unwrap().len() >= joined).then_some(()),
        );
        members.push(run_member(
            mqd.base.clone(),
            "workers",
            "stream",
            MEMBER_SESSION_MS,
            Arc::clone(&seen),
            Arc::clone(&stop),
        ));
    }
    eventually(DEADLINE, "every record to be committed", || {
        fully_committed(&mqd, "workers").then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    for member in members {
        member.join().unwrap();
    }

    let seen = seen.lock().unwrap();
    let distinct: HashSet<(u32, u64)> = seen.iter().map(|&(_, p, o, _)| (p, o)).collect();
    assert_eq!(distinct.len(), RECORDS, "every record received");
    assert_eq!(seen.len(), RECORDS, "no record received twice");
    let mut owners: HashMap<(u64, u32), HashSet<&str>> = HashMap::new();
    for (member, partition, _, generation) in seen.iter() {
        owners
            .entry((*generation, *partition))
            .or_default()
            .insert(member);
    }
    assert!(
        owners.values().all(|m| m.len() == 1),
        "a partition had two members in one generation"
    );
    let members: HashSet<&str> = seen.iter().map(|(m, ..)| m.as_str()).collect();
    assert_eq!(members.len(), 3, "all three members took part");
}

#[test]
fn a_killed_member_loses_nothing_and_only_its_uncommitted_records_come_twice() {
    let mqd = node_with_records("stream");
    let mut child = Command::new(binary("group_consumer"))
        .args([&mqd.base, "crashers", "stream", "400"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the consumer process");
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (stdout, lines) = (child.stdout.take().unwrap(), Arc::clone(&lines));
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lines.lock().unwrap().push(line);
            }
        })
    };
    let seen: Seen = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let survivors: Vec<_> = (0..2)
        .map(|_| {
            run_member(
                mqd.base.clone(),
                "crashers",
                "stream",
                MEMBER_SESSION_MS,
                Arc::clone(&seen),
                Arc::clone(&stop),
            )
        })
        .collect();
    eventually(DEADLINE, "the consumer process to process records", || {
        (lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("record "))
            .count()
            >= 2_000)
            .then_some(())
    });
    child.kill().expect("SIGKILL the consumer process");
    child.wait().unwrap();
    reader.join().unwrap();
    eventually(DEADLINE, "every record to be committed", || {
        fully_committed(&mqd, "crashers").then_some(())
    });
    stop.store(true, Ordering::Relaxed);
    for member in survivors {
        member.join().unwrap();
    }

    let lines = lines.lock().unwrap();
    let mut killed_records: HashSet<(u32, u64)> = HashSet::new();
    let mut killed_committed: HashMap<u32, u64> = HashMap::new();
    for line in lines.iter() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            ["record", p, o] => {
                killed_records.insert((p.parse().unwrap(), o.parse().unwrap()));
            }
            ["committed", p, next] => {
                killed_committed.insert(p.parse().unwrap(), next.parse().unwrap());
            }
            _ => {}
        }
    }
    let seen = seen.lock().unwrap();
    let survivor_records: Vec<(u32, u64)> = seen.iter().map(|&(_, p, o, _)| (p, o)).collect();
    let survivor_set: HashSet<(u32, u64)> = survivor_records.iter().copied().collect();
    assert_eq!(
        survivor_set.len(),
        survivor_records.len(),
        "the survivors received nothing twice"
    );
    let union: HashSet<(u32, u64)> = survivor_set.union(&killed_records).copied().collect();
    assert_eq!(union.len(), RECORDS, "nothing was lost");
    for &(partition, offset) in survivor_set.intersection(&killed_records) {
        let committed = killed_committed.get(&partition).copied().unwrap_or(0);
        assert!(offset >= committed, "{partition}/{offset} came twice though the killed member had committed up to {committed}");
    }
    assert!(killed_records.len() >= 2_000);
}

#[test]
fn stale_members_are_fenced() {
    let mqd = node_with_records("stream");
    let silent = GroupMember::join(&mqd.base, "fence", &["stream"], 300);
    let mut alive = GroupMember::join(&mqd.base, "fence", &["stream"], 5_000);
    // The silent member sends nothing more: its session expires and the group drops it.
    eventually(
        Duration::from_secs(20),
        "the silent member to expire",
        || (describe(&mqd, "fence")["members"].as_array().unwrap().len() == 1).then_some(()),
    );
    let p0: BTreeMap<(String, u32), u64> = [(("stream".to_owned(), 0), 1)].into();
    let refused = silent.commit(&p0).unwrap_err();
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (409, "unknown_member")
    );

    // The live member owns everything once it has heard of the new generation.
    eventually(
        Duration::from_secs(20),
        "the live member to own every partition",
        || {
            alive.heartbeat().unwrap();
            (alive
                .assignment
                .assignment
                .iter()
                .map(|t| t.partitions.len())
                .sum::<usize>()
                == 6)
                .then_some(())
        },
    );
    alive.commit(&p0).unwrap();
    let refused = alive.commit_as(alive.generation() - 1, &p0).unwrap_err();
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (409, "stale_generation")
    );

    // A newcomer takes partitions over; the old owner, once it let go, cannot commit them.
    let mut newcomer = GroupMember::join(&mqd.base, "fence", &["stream"], 5_000);
    alive.heartbeat().unwrap();
    alive.heartbeat().unwrap();
    eventually(
        Duration::from_secs(20),
        "the newcomer to own its partitions",
        || {
            newcomer.heartbeat().unwrap();
            (!newcomer.assignment.assignment.is_empty()).then_some(())
        },
    );
    let taken = newcomer.assignment.assignment[0].partitions[0];
    let theirs: BTreeMap<(String, u32), u64> = [(("stream".to_owned(), taken), 1)].into();
    let refused = alive.commit(&theirs).unwrap_err();
    assert_eq!(
        (refused.status, refused.code.as_str()),
        (409, "not_partition_owner")
    );
    newcomer.commit(&theirs).unwrap();
}

#[test]
fn two_groups_each_receive_everything() {
    let mqd = node_with_records("stream");
    let stop = Arc::new(AtomicBool::new(false));
    let mut runs = Vec::new();
    for group in ["billing", "audit"] {
        let seen: Seen = Arc::default();
        let members: Vec<_> = (0..2)
            .map(|_| {
                run_member(
                    mqd.base.clone(),
                    group,
                    "stream",
                    MEMBER_SESSION_MS,
                    Arc::clone(&seen),
                    Arc::clone(&stop),
                )
            })
            .collect();
        runs.push((group, seen, members));
    }
    for (group, ..) in &runs {
        eventually(DEADLINE, "the group to commit everything", || {
            fully_committed(&mqd, group).then_some(())
        });
    }
    stop.store(true, Ordering::Relaxed);
    for (group, seen, members) in runs {
        for member in members {
            member.join().unwrap();
        }
        let seen = seen.lock().unwrap();
        let distinct: HashSet<(u32, u64)> = seen.iter().map(|&(_, p, o, _)| (p, o)).collect();
        assert_eq!(
            (distinct.len(), seen.len()),
            (RECORDS, RECORDS),
            "group {group}"
        );
    }
    let listed = mqd.get("/v1/groups").body;
    let names: Vec<&str> = listed["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["group"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "billing"]);
}

#[test]
fn describe_reports_lag_as_log_end_minus_committed() {
    let mqd = node_with_records("stream");
    let commit = json!({"offsets": [
        {"topic": "stream", "partition": 0, "offset": 100},
        {"topic": "stream", "partition": 1, "offset": 10_000, "metadata": "done"},
    ]});
    assert_eq!(mqd.post("/v1/groups/lagging/offsets", &commit).status, 200);
    let described = describe(&mqd, "lagging");
    assert_eq!(described["state"], "empty");
    let offsets = described["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 2);
    for offset in offsets {
        let log_end = offset["log_end_offset"].as_u64().unwrap();
        assert_eq!(log_end, 10_000);
        assert_eq!(
            offset["lag"].as_u64().unwrap(),
            log_end - offset["committed_offset"].as_u64().unwrap()
        );
    }
    assert_eq!(offsets[1]["metadata"], "done");

    // A member sees the whole topic; partitions without a commit lag from the log start.
    let member = GroupMember::join(&mqd.base, "lagging", &["stream"], 5_000);
    let described = describe(&mqd, "lagging");
    let offsets = described["offsets"].as_array().unwrap();
    assert_eq!(offsets.len(), 6);
    assert_eq!(offsets[2]["committed_offset"], serde_json::Value::Null);
    assert_eq!(offsets[2]["lag"], 10_000);
    let page = member.fetch(10, 0).unwrap();
    assert!(
        page.records
            .iter()
            .all(|r| r.partition != 0 || r.record.offset >= 100),
        "partition 0 resumes at its commit"
    );
    member.leave().unwrap();

    // Reset to earliest: a dry run changes nothing; --execute does.
    let plan = mqd.post(
        "/v1/groups/lagging/offsets/reset",
        &json!({"topic": "stream", "to": "earliest"}),
    );
    assert_eq!((plan.status, &plan.body["executed"]), (200, &json!(false)));
    assert_eq!(
        describe(&mqd, "lagging")["offsets"][0]["committed_offset"],
        100
    );
    let done = mqd.post(
        "/v1/groups/lagging/offsets/reset",
        &json!({"topic": "stream", "to": "earliest", "execute": true}),
    );
    assert_eq!(done.body["plan"][1]["new_offset"], 0);
    assert_eq!(
        describe(&mqd, "lagging")["offsets"][1]["committed_offset"],
        0
    );
}

/// A static member (`instance_id`) that joins again takes its own place: same partitions, same
/// generation, one member in describe. The process it replaced is told `fenced_instance` (not
/// `unknown_member`, which would make it join again and replace the newer one in turn).
#[test]
fn a_static_member_joining_again_takes_its_place_and_fences_the_old_process() {
    let mqd = Mqd::start();
    mqd.create_topic("steady", 2);
    let join = |instance: &str| {
        let joined = mqd.post(
            "/v1/groups/statics/members",
            &json!({"topics": ["steady"], "instance_id": instance, "session_timeout_ms": 30000}),
        );
        assert_eq!(joined.status, 200, "{:?}", joined.body);
        joined.body
    };
    let first = join("worker-1");
    let second = join("worker-1");
    assert_ne!(second["member_id"], first["member_id"]);
    assert_eq!(second["generation"], first["generation"], "no rebalance");
    assert_eq!(second["assignment"], first["assignment"]);
    let described = describe(&mqd, "statics");
    let members = described["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "{described}");
    assert_eq!(members[0]["instance_id"], "worker-1");

    let old = mqd.post(
        "/v1/groups/statics/heartbeat",
        &json!({"member_id": first["member_id"], "generation": first["generation"]}),
    );
    assert_eq!(
        (old.status, old.error_code()),
        (409, "fenced_instance"),
        "{:?}",
        old.body
    );
    let new = mqd.post(
        "/v1/groups/statics/heartbeat",
        &json!({"member_id": second["member_id"], "generation": second["generation"]}),
    );
    assert_eq!(new.status, 200, "{:?}", new.body);
    let nameless = mqd.post(
        "/v1/groups/statics/members",
        &json!({"topics": ["steady"], "instance_id": ""}),
    );
    assert_eq!(
        (nameless.status, nameless.error_code()),
        (400, "invalid_request")
    );
}
