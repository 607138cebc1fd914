//! The coordinator's promises, on a broker without HTTP: one owner per partition at every moment,
//! handover only after the previous owner acknowledges, fencing of stale members.

use super::*;
use crate::broker::Broker;
use crate::config::Config;
use mq_wire::api::{
    Acks, CommitRequest, HeartbeatRequest, JoinGroupRequest, MemberAssignment, OffsetCommit,
};
use mq_wire::ErrorCode;
use std::sync::Arc;

fn setup() -> (Broker, Groups) {
    setup_with(6)
}

/// A node with topic `t` of `partitions` partitions, and its groups.
pub(super) fn setup_with(partitions: u32) -> (Broker, Groups) {
    let broker = Broker::new(Arc::new(Config::default()));
    broker
        .create_topic(&mq_wire::api::CreateTopicRequest {
            name: "t".into(),
            partitions: Some(partitions),
            ..Default::default()
        })
        .unwrap();
    let groups = Groups::new(GroupSettings {
        default_session_timeout: Duration::from_secs(10),
        min_session_timeout: Duration::from_millis(1),
        max_session_timeout: Duration::from_secs(60),
    });
    (broker, groups)
}

fn join(broker: &Broker, groups: &Groups, session_ms: u64) -> MemberAssignment {
    let request = JoinGroupRequest {
        topics: vec!["t".into()],
        session_timeout_ms: Some(session_ms),
        ..Default::default()
    };
    groups.join(broker, "g", &request).unwrap()
}

fn heartbeat(broker: &Broker, groups: &Groups, member: &MemberAssignment) -> MemberAssignment {
    let request = HeartbeatRequest {
        member_id: member.member_id.clone(),
        generation: member.generation,
    };
    groups.heartbeat(broker, "g", &request).unwrap()
}

fn owned(assignment: &MemberAssignment) -> Vec<u32> {
    assignment
        .assignment
        .iter()
        .flat_map(|t| t.partitions.clone())
        .collect()
}

fn assert_no_overlap(groups: &Groups) {
    let guard = groups.groups.lock();
    let group = &guard["g"];
    let mut seen = std::collections::HashSet::new();
    for member in group.members.values() {
        for tp in &member.owned {
            assert!(seen.insert(tp.clone()), "{tp:?} owned twice");
            assert_eq!(group.owners.get(tp), Some(&member.id));
        }
    }
}

#[test]
fn a_moving_partition_is_handed_over_only_after_the_owner_acknowledges() {
    let (broker, groups) = setup();
    let a = join(&broker, &groups, 10_000);
    assert_eq!(owned(&a), [0, 1, 2, 3, 4, 5]);
    let b = join(&broker, &groups, 10_000);
    assert_eq!(b.state, mq_wire::api::GroupState::Rebalancing);
    assert_no_overlap(&groups);
    // b waits for what a still owns; a keeps everything until it hears of the new generation.
    assert!(owned(&b).is_empty());
    assert_eq!(
        b.pending.iter().map(|t| t.partitions.len()).sum::<usize>(),
        3
    );
    let a_told = heartbeat(&broker, &groups, &a);
    assert_eq!(owned(&a_told).len(), 3, "a is told to keep three");
    assert_no_overlap(&groups);
    let b_still = heartbeat(&broker, &groups, &b);
    assert!(owned(&b_still).is_empty(), "a has not acknowledged yet");
    let a_acked = heartbeat(&broker, &groups, &a_told);
    assert_eq!(owned(&a_acked).len(), 3);
    let b_now = heartbeat(&broker, &groups, &b_still);
    assert_eq!(owned(&b_now).len(), 3);
    assert_eq!(b_now.state, mq_wire::api::GroupState::Stable);
    assert_no_overlap(&groups);
    let mut all: Vec<u32> = owned(&a_acked).into_iter().chain(owned(&b_now)).collect();
    all.sort();
    assert_eq!(all, [0, 1, 2, 3, 4, 5]);
}

#[test]
fn a_zombie_is_fenced_after_its_partition_moves() {
    let (broker, groups) = setup();
    let a = join(&broker, &groups, 10_000);
    let b = join(&broker, &groups, 10_000);
    let a_told = heartbeat(&broker, &groups, &a);
    let moved = (0..6).find(|p| !owned(&a_told).contains(p)).unwrap();
    let commit = |member: &MemberAssignment, generation: u64| {
        let request = CommitRequest {
            member_id: Some(member.member_id.clone()),
            generation: Some(generation),
            offsets: vec![OffsetCommit {
                topic: "t".into(),
                partition: moved,
                offset: 0,
                metadata: None,
            }],
        };
        groups.commit(&broker, "g", &request)
    };
    // Before acknowledging, a may still commit the partition it is giving up.
    commit(&a_told, a_told.generation).unwrap();
    heartbeat(&broker, &groups, &a_told);
    heartbeat(&broker, &groups, &b);
    assert_eq!(
        commit(&a_told, a.generation).unwrap_err().code(),
        ErrorCode::StaleGeneration
    );
    assert_eq!(
        commit(&a_told, a_told.generation).unwrap_err().code(),
        ErrorCode::NotPartitionOwner
    );
}

#[test]
fn an_expired_member_is_removed_and_its_partitions_go_at_once() {
    let (broker, groups) = setup();
    let short = join(&broker, &groups, 1);
    let short_last_seen = std::time::Instant::now();
    let long = join(&broker, &groups, 10_000);
    // Wait for the event itself, the short session's end, instead of a guessed sleep.
    while short_last_seen.elapsed() <= Duration::from_millis(1) {
        std::thread::yield_now();
    }
    let after = heartbeat(&broker, &groups, &long);
    assert_eq!(owned(&after), [0, 1, 2, 3, 4, 5]);
    let request = HeartbeatRequest {
        member_id: short.member_id.clone(),
        generation: short.generation,
    };
    assert_eq!(
        groups.heartbeat(&broker, "g", &request).unwrap_err().code(),
        ErrorCode::UnknownMember
    );
}

#[test]
fn operators_commit_and_reset_only_while_the_group_is_empty() {
    let (broker, groups) = setup();
    let admin = CommitRequest {
        member_id: None,
        generation: None,
        offsets: vec![OffsetCommit {
            topic: "t".into(),
            partition: 0,
            offset: 0,
            metadata: Some("m".into()),
        }],
    };
    groups.commit(&broker, "g", &admin).unwrap();
    let member = join(&broker, &groups, 10_000);
    assert_eq!(
        groups.commit(&broker, "g", &admin).unwrap_err().code(),
        ErrorCode::GroupNotEmpty
    );
    assert_eq!(
        groups.delete(&broker, "g").unwrap_err().code(),
        ErrorCode::GroupNotEmpty
    );
    groups.leave(&broker, "g", &member.member_id).unwrap();
    groups.delete(&broker, "g").unwrap();
    assert_eq!(
        groups.describe(&broker, "g").unwrap_err().code(),
        ErrorCode::UnknownGroup
    );
}

#[test]
fn an_empty_commit_is_fenced_too() {
    let (broker, groups) = setup();
    let member = join(&broker, &groups, 10_000);
    let empty = |generation| CommitRequest {
        member_id: Some(member.member_id.clone()),
        generation: Some(generation),
        offsets: vec![],
    };
    assert_eq!(
        groups
            .commit(&broker, "g", &empty(member.generation + 5))
            .unwrap_err()
            .code(),
        ErrorCode::StaleGeneration
    );
    groups.leave(&broker, "g", &member.member_id).unwrap();
    assert_eq!(
        groups
            .commit(&broker, "g", &empty(member.generation))
            .unwrap_err()
            .code(),
        ErrorCode::UnknownMember
    );
}

#[test]
fn a_group_with_no_members_and_no_offsets_is_dead_and_swept() {
    let (broker, groups) = setup();
    let member = join(&broker, &groups, 10_000);
    groups.leave(&broker, "g", &member.member_id).unwrap();
    assert_eq!(
        groups.describe(&broker, "g").unwrap().state,
        mq_wire::api::GroupState::Dead
    );
    groups.expire_sessions(&broker);
    assert_eq!(
        groups.describe(&broker, "g").unwrap_err().code(),
        ErrorCode::UnknownGroup
    );
}

#[tokio::test]
async fn a_recreated_topic_is_read_from_its_start_not_from_old_positions() {
    use crate::broker::NewRecord;
    use mq_wire::api::{CreateTopicRequest, GroupFetchRequest};
    let broker = Broker::new(Arc::new(Config::default()));
    let create = || {
        broker
            .create_topic(&CreateTopicRequest {
                name: "t".into(),
                partitions: Some(1),
                ..Default::default()
            })
            .unwrap()
    };
    let groups = Groups::new(GroupSettings {
        default_session_timeout: Duration::from_secs(10),
        min_session_timeout: Duration::from_millis(1),
        max_session_timeout: Duration::from_secs(60),
    });
    let produce = |topic: &crate::broker::Topic, n: usize| {
        let records: Vec<NewRecord> = (0..n)
            .map(|_| NewRecord {
                value: std::borrow::Cow::Borrowed(b"v"),
                ..Default::default()
            })
            .collect();
        topic.produce(&records, 1 << 20, Acks::All, 1).unwrap();
    };
    produce(&create(), 10);
    let member = join(&broker, &groups, 10_000);
    let limits = || FetchLimits {
        max_records: 100,
        max_bytes: 1 << 20,
        max_wait: Duration::ZERO,
        frames: false,
    };
    let fetch = |generation| GroupFetchRequest {
        member_id: member.member_id.clone(),
        generation,
        max_records: None,
        max_bytes: None,
        max_wait_ms: None,
    };
    let first = groups
        .fetch(
            &broker,
            "g",
            &fetch(member.generation),
            limits(),
            std::future::pending(),
        )
        .await
        .unwrap();
    assert_eq!(first.records.len(), 10);
    broker.delete_topic("t").unwrap();
    groups.forget_topic("t");
    produce(&create(), 3);
    let again = heartbeat(&broker, &groups, &member);
    let again = heartbeat(&broker, &groups, &again);
    let second = groups
        .fetch(
            &broker,
            "g",
            &fetch(again.generation),
            limits(),
            std::future::pending(),
        )
        .await
        .unwrap();
    let offsets: Vec<u64> = second.records.iter().map(|r| r.record.offset).collect();
    assert_eq!(offsets, [0, 1, 2]);
}

#[test]
fn a_session_timeout_past_u64_milliseconds_saturates_instead_of_wrapping() {
    // Found while writing the config fuzz target: `groups.default_session_timeout = "10000000000000000000s"`
    // is accepted, and its third in milliseconds used to wrap to a small, wrong heartbeat interval.
    let (broker, _) = setup();
    let huge = Duration::from_secs(10_000_000_000_000_000_000);
    let groups = Groups::new(GroupSettings {
        default_session_timeout: huge,
        min_session_timeout: Duration::from_millis(1),
        max_session_timeout: huge,
    });
    let request = JoinGroupRequest {
        topics: vec!["t".into()],
        ..Default::default()
    };
    let member = groups.join(&broker, "g", &request).unwrap();
    assert_eq!(member.heartbeat_interval_ms, u64::MAX);
    let described = groups.describe(&broker, "g").unwrap();
    assert_eq!(described.members[0].session_timeout_ms, u64::MAX);
}

/// A cluster whose offset commits wait at a gate the test opens, for interleavings of a commit
/// with a handover.
struct GatedCluster {
    committed: parking_lot::Mutex<std::collections::HashMap<(String, u32), u64>>,
    gate: tokio::sync::Semaphore,
}

impl cluster_hooks::ReplicatedOffsets for GatedCluster {
    fn get(&self, _group: &str, topic: &str, partition: u32) -> Option<Committed> {
        self.committed
            .lock()
            .get(&(topic.to_owned(), partition))
            .map(|&offset| Committed {
                offset,
                metadata: None,
            })
    }
    fn for_group(&self, _group: &str) -> Vec<(TopicPartition, Committed)> {
        Vec::new()
    }
    fn groups(&self) -> std::collections::BTreeSet<String> {
        std::collections::BTreeSet::new()
    }
    fn last_commit_ms(&self, _group: &str) -> Option<i64> {
        None
    }
}

impl cluster_hooks::ClusterGroups for GatedCluster {
    fn check_coordinates(&self, _group: &str) -> Result<(), GroupError> {
        Ok(())
    }
    fn generation_floor(&self, _group: &str) -> u64 {
        0
    }
    fn coordinator_epoch(&self, _group: &str) -> u64 {
        0
    }
    fn commit<'a>(
        &'a self,
        _group: &'a str,
        offsets: Vec<OffsetCommit>,
        _claim_epoch: Option<u64>,
    ) -> futures_util::future::BoxFuture<'a, Result<(), GroupError>> {
        Box::pin(async move {
            self.gate.acquire().await.expect("gate open").forget();
            let mut committed = self.committed.lock();
            for o in offsets {
                committed.insert((o.topic, o.partition), o.offset);
            }
            Ok(())
        })
    }
    fn delete_offsets<'a>(
        &'a self,
        _group: &'a str,
    ) -> futures_util::future::BoxFuture<'a, Result<(), GroupError>> {
        Box::pin(async { Ok(()) })
    }
    fn refresh_bounds<'a>(
        &'a self,
        _broker: &'a Broker,
    ) -> futures_util::future::BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn read<'a>(
        &'a self,
        _broker: &'a Broker,
        _tp: &'a TopicPartition,
        _from: u64,
        _max_bytes: usize,
        _max_wait: Duration,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<crate::broker::PartitionRead, crate::broker::BrokerError>,
    > {
        Box::pin(async { unreachable!("every partition is on this node") })
    }
}

#[tokio::test]
async fn a_partition_handed_over_during_its_owners_commit_starts_past_that_commit() {
    // Found by the fault harness: the new owner started at the committed offset the old owner's
    // commit (still on its way through the metadata) was about to replace, and read committed
    // records again.
    use crate::broker::NewRecord;
    use mq_wire::api::GroupFetchRequest;
    let (broker, groups) = setup();
    let cluster = Arc::new(GatedCluster {
        committed: Default::default(),
        gate: tokio::sync::Semaphore::new(0),
    });
    groups.join_cluster(cluster.clone());
    let topic = broker.topic("t").unwrap();
    for partition in 0..6 {
        let records: Vec<NewRecord> = (0..10)
            .map(|_| NewRecord {
                value: std::borrow::Cow::Borrowed(b"v"),
                partition: Some(partition),
                ..Default::default()
            })
            .collect();
        topic.produce(&records, 1 << 20, Acks::All, 1).unwrap();
    }
    let a = join(&broker, &groups, 10_000);
    let b = join(&broker, &groups, 10_000);
    let a_told = heartbeat(&broker, &groups, &a);
    let a_keeps = owned(&a_told);
    let moving = (0..6u32).find(|p| !a_keeps.contains(p)).unwrap();
    // a commits a partition it is about to give up; the commit is held at the gate.
    let commit = CommitRequest {
        member_id: Some(a_told.member_id.clone()),
        generation: Some(a_told.generation),
        offsets: vec![OffsetCommit {
            topic: "t".into(),
            partition: moving,
            offset: 7,
            metadata: None,
        }],
    };
    let committing = groups.commit_offsets(&broker, "g", &commit);
    tokio::pin!(committing);
    assert!(
        futures_util::poll!(committing.as_mut()).is_pending(),
        "held at the gate"
    );
    let a_acked = heartbeat(&broker, &groups, &a_told);
    assert!(!owned(&a_acked).contains(&moving), "a gave it up");
    let b_now = heartbeat(&broker, &groups, &b);
    let b_now = heartbeat(&broker, &groups, &b_now);
    assert!(owned(&b_now).contains(&moving), "b owns it");
    let fetched = groups
        .fetch(
            &broker,
            "g",
            &GroupFetchRequest {
                member_id: b_now.member_id.clone(),
                generation: b_now.generation,
                max_records: None,
                max_bytes: None,
                max_wait_ms: None,
            },
            FetchLimits {
                max_records: 1000,
                max_bytes: 1 << 20,
                max_wait: Duration::ZERO,
                frames: false,
            },
            std::future::pending(),
        )
        .await
        .unwrap();
    let first_read = fetched
        .records
        .iter()
        .filter(|r| r.partition == moving)
        .map(|r| r.record.offset)
        .min();
    assert_eq!(
        first_read,
        Some(7),
        "b starts where a's commit puts the partition, not at the offset it replaces"
    );
    cluster.gate.add_permits(1);
    committing.await.unwrap();
    assert!(
        groups.groups.lock()["g"].commits_in_flight.is_empty(),
        "answered: no longer in flight"
    );
}

fn join_static(broker: &Broker, groups: &Groups, instance: &str) -> MemberAssignment {
    let request = JoinGroupRequest {
        topics: vec!["t".into()],
        session_timeout_ms: Some(10_000),
        instance_id: Some(instance.into()),
        ..Default::default()
    };
    groups.join(broker, "g", &request).unwrap()
}

#[test]
fn a_static_member_back_under_a_new_id_takes_its_place_without_a_rebalance() {
    let (broker, groups) = setup();
    let a = join_static(&broker, &groups, "a");
    let b = join_static(&broker, &groups, "b");
    // Settle: a lets go of what moved to b, b takes it.
    let a = heartbeat(&broker, &groups, &a);
    let a = heartbeat(&broker, &groups, &a);
    let b = heartbeat(&broker, &groups, &b);
    assert_eq!((owned(&a).len(), owned(&b).len()), (3, 3));
    assert_eq!(a.generation, b.generation);

    // a's process restarts: a new member id, the same name.
    let back = join_static(&broker, &groups, "a");
    assert_ne!(back.member_id, a.member_id);
    assert_eq!(back.generation, a.generation, "no rebalance");
    assert_eq!(owned(&back), owned(&a), "what a owned");
    assert_no_overlap(&groups);
    let stale = groups.heartbeat(
        &broker,
        "g",
        &HeartbeatRequest {
            member_id: a.member_id.clone(),
            generation: a.generation,
        },
    );
    assert!(
        matches!(stale, Err(GroupError::UnknownMember { .. })),
        "the old id is out: {stale:?}"
    );
    let told = groups.refine("g", stale.unwrap_err());
    assert!(
        matches!(&told, GroupError::FencedInstance { instance, .. } if instance == "a"),
        "and told it was replaced, so that it does not join again: {told:?}"
    );
    assert_eq!(told.code(), ErrorCode::FencedInstance);
    let nameless = groups.join(
        &broker,
        "g",
        &JoinGroupRequest {
            topics: vec!["t".into()],
            instance_id: Some(String::new()),
            ..Default::default()
        },
    );
    assert!(matches!(nameless, Err(GroupError::InvalidArgument(_))));
    let b_after = heartbeat(&broker, &groups, &b);
    assert_eq!(
        (b_after.generation, owned(&b_after)),
        (b.generation, owned(&b)),
        "b noticed nothing"
    );
    assert_eq!(
        groups.member_of_instance("g", "a").as_deref(),
        Some(back.member_id.as_str())
    );
    {
        let guard = groups.groups.lock();
        assert_eq!(guard["g"].members.len(), 2, "one member per name");
    }
    // A member without a name still joins as a new member: a rebalance.
    let c = join(&broker, &groups, 10_000);
    assert_eq!(c.generation, b.generation + 1);
}

#[test]
fn a_static_member_leaves_by_name_and_a_replaced_id_cannot_leave_for_it() {
    let (broker, groups) = setup();
    let first = join_static(&broker, &groups, "a");
    let second = join_static(&broker, &groups, "a");
    assert_ne!(
        first.member_id, second.member_id,
        "the newer process took the name"
    );
    // The older process leaving under its own id and the name: fenced, and the newer stays.
    let stale = groups.leave_as(&broker, "g", &first.member_id, Some("a"));
    assert!(
        matches!(stale, Err(GroupError::FencedInstance { .. })),
        "{stale:?}"
    );
    // The older id alone: told it was replaced, not that it is unknown.
    let stale = groups.leave_as(&broker, "g", &first.member_id, None);
    assert!(
        matches!(stale, Err(GroupError::FencedInstance { .. })),
        "{stale:?}"
    );
    assert_eq!(
        groups.member_of_instance("g", "a").as_deref(),
        Some(second.member_id.as_str())
    );
    // By the name alone, the holder of the moment leaves.
    groups.leave_as(&broker, "g", "", Some("a")).unwrap();
    assert_eq!(groups.member_of_instance("g", "a"), None);
    let gone = groups.leave_as(&broker, "g", "", Some("a"));
    assert!(
        matches!(gone, Err(GroupError::UnknownMember { .. })),
        "{gone:?}"
    );
    // A member naming a static name nobody holds is not removed (Kafka: UNKNOWN_MEMBER_ID).
    let dynamic = join(&broker, &groups, 10_000);
    let unheld = groups.leave_as(&broker, "g", &dynamic.member_id, Some("nobody"));
    assert!(
        matches!(unheld, Err(GroupError::UnknownMember { .. })),
        "{unheld:?}"
    );
    groups
        .leave_as(&broker, "g", &dynamic.member_id, None)
        .unwrap();
}
