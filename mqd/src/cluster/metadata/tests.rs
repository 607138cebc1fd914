use super::*;

pub(crate) fn topic_config(partitions: u32) -> TopicConfig {
    TopicConfig {
        partitions,
        replication_factor: 1,
        retention_ms: 0,
        retention_bytes: 0,
        segment_bytes: 1 << 20,
        discard: Default::default(),
        min_insync_replicas: 1,
        unclean_leader_election: false,
    }
}

fn up(metadata: &mut Metadata, id: u64, incarnation: Uuid) {
    metadata
        .apply(&Command::NodeUp {
            id,
            addr: format!("127.0.0.1:{}", 9400 + id),
            incarnation,
            now_ms: 1,
        })
        .unwrap();
}

fn slots_per_node(metadata: &Metadata) -> BTreeMap<u64, usize> {
    let mut counts = BTreeMap::new();
    for slot in &metadata.slots {
        *counts.entry(slot.node).or_default() += 1;
    }
    counts
}

#[test]
fn slots_spread_over_the_nodes_as_they_come_up_and_leave_a_dead_one() {
    let mut metadata = Metadata::default();
    up(&mut metadata, 1, Uuid::new_v4());
    assert_eq!(slots_per_node(&metadata)[&1], GROUP_SLOTS as usize);
    up(&mut metadata, 2, Uuid::new_v4());
    up(&mut metadata, 3, Uuid::new_v4());
    let counts = slots_per_node(&metadata);
    assert_eq!(counts.len(), 3);
    assert!(counts.values().all(|&c| c == 10 || c == 11), "{counts:?}");

    let before = metadata.slots.clone();
    metadata
        .apply(&Command::NodeDown { id: 2, now_ms: 2 })
        .unwrap();
    assert!(metadata.slots.iter().all(|s| s.node != 2));
    for (old, new) in before.iter().zip(&metadata.slots) {
        if old.node == 2 {
            assert_eq!(new.epoch, old.epoch + 1, "a moved slot gets a new epoch");
        } else {
            assert_eq!(old, new, "slots of live nodes stay put");
        }
    }
}

#[test]
fn a_restarted_leader_raises_the_epochs_of_its_partitions() {
    let mut metadata = Metadata::default();
    let first = Uuid::new_v4();
    up(&mut metadata, 1, first);
    up(&mut metadata, 2, Uuid::new_v4());
    metadata
        .apply(&Command::CreateTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            config: topic_config(2),
            replicas: vec![vec![1], vec![2]],
        })
        .unwrap();
    up(&mut metadata, 1, first);
    assert_eq!(
        metadata.topics["t"].partitions[0].leader_epoch, 0,
        "same process"
    );
    let slots_before = metadata.slots.clone();
    up(&mut metadata, 1, Uuid::new_v4());
    let partitions = &metadata.topics["t"].partitions;
    assert_eq!(partitions[0].leader_epoch, 1);
    assert_eq!(partitions[1].leader_epoch, 0);
    for (old, new) in slots_before.iter().zip(&metadata.slots) {
        let expected = old.epoch + u64::from(old.node == 1);
        assert_eq!(
            new.epoch, expected,
            "a restarted coordinator's slots get new epochs (its groups' live state is gone)"
        );
    }
}

#[test]
fn only_the_slot_holder_at_its_epoch_commits() {
    let mut metadata = Metadata::default();
    up(&mut metadata, 1, Uuid::new_v4());
    up(&mut metadata, 2, Uuid::new_v4());
    metadata
        .apply(&Command::CreateTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            config: topic_config(1),
            replicas: vec![vec![1]],
        })
        .unwrap();
    let (_, slot) = metadata.slot("orders").unwrap();
    let commit = |claim| Command::CommitOffsets {
        group: "orders".into(),
        claim,
        offsets: vec![OffsetCommit {
            topic: "t".into(),
            topic_id: None,
            partition: 0,
            offset: 7,
            metadata: None,
        }],
        now_ms: 5,
    };
    let holder = CoordinatorClaim {
        node: slot.node,
        epoch: slot.epoch,
    };
    metadata.apply(&commit(holder)).unwrap();
    assert_eq!(metadata.offsets["orders"]["t"][&0].offset, 7);

    let other = CoordinatorClaim {
        node: 3 - slot.node,
        epoch: slot.epoch,
    };
    assert!(matches!(
        metadata.apply(&commit(other)),
        Err(MetadataError::NotCoordinator { .. })
    ));
    // The holder dies: the slot moves, and the old claim is fenced.
    metadata
        .apply(&Command::NodeDown {
            id: slot.node,
            now_ms: 3,
        })
        .unwrap();
    assert!(matches!(
        metadata.apply(&commit(holder)),
        Err(MetadataError::NotCoordinator { .. })
    ));
}

#[test]
fn deleting_a_topic_drops_its_offsets() {
    let mut metadata = Metadata::default();
    up(&mut metadata, 1, Uuid::new_v4());
    metadata
        .apply(&Command::CreateTopic {
            name: "t".into(),
            id: Uuid::new_v4(),
            config: topic_config(1),
            replicas: vec![vec![1]],
        })
        .unwrap();
    let (_, slot) = metadata.slot("g").unwrap();
    metadata
        .apply(&Command::CommitOffsets {
            group: "g".into(),
            claim: CoordinatorClaim {
                node: slot.node,
                epoch: slot.epoch,
            },
            offsets: vec![OffsetCommit {
                topic: "t".into(),
                topic_id: None,
                partition: 0,
                offset: 1,
                metadata: None,
            }],
            now_ms: 9,
        })
        .unwrap();
    assert_eq!(metadata.last_commit_ms["g"], 9);
    metadata
        .apply(&Command::DeleteTopic { name: "t".into() })
        .unwrap();
    assert!(metadata.offsets.is_empty());
    assert!(metadata.last_commit_ms.is_empty(), "nothing left to expire");
    assert_eq!(
        metadata.apply(&Command::DeleteTopic { name: "t".into() }),
        Err(MetadataError::UnknownTopic { name: "t".into() })
    );
}

#[test]
fn a_commit_for_a_deleted_or_recreated_topic_is_refused() {
    let mut metadata = Metadata::default();
    up(&mut metadata, 1, Uuid::new_v4());
    let old = Uuid::new_v4();
    let create = |id| Command::CreateTopic {
        name: "t".into(),
        id,
        config: topic_config(1),
        replicas: vec![vec![1]],
    };
    metadata.apply(&create(old)).unwrap();
    let (_, slot) = metadata.slot("g").unwrap();
    let commit = Command::CommitOffsets {
        group: "g".into(),
        claim: CoordinatorClaim {
            node: slot.node,
            epoch: slot.epoch,
        },
        offsets: vec![OffsetCommit {
            topic: "t".into(),
            topic_id: Some(old),
            partition: 0,
            offset: 40,
            metadata: None,
        }],
        now_ms: 1,
    };
    metadata
        .apply(&Command::DeleteTopic { name: "t".into() })
        .unwrap();
    assert!(matches!(
        metadata.apply(&commit),
        Err(MetadataError::UnknownTopic { .. })
    ));
    metadata.apply(&create(Uuid::new_v4())).unwrap();
    assert!(
        matches!(
            metadata.apply(&commit),
            Err(MetadataError::UnknownTopic { .. })
        ),
        "the old topic's commit must not land on the new one"
    );
    assert!(metadata.offsets.is_empty());
}

fn replicated(metadata: &mut Metadata, unclean: bool) -> Uuid {
    let id = Uuid::new_v4();
    let mut config = topic_config(2);
    config.replication_factor = 3;
    config.min_insync_replicas = 2;
    config.unclean_leader_election = unclean;
    metadata
        .apply(&Command::CreateTopic {
            name: "r".into(),
            id,
            config,
            replicas: vec![vec![1, 2, 3], vec![2, 3, 1]],
        })
        .unwrap();
    id
}

fn alter(metadata: &Metadata, topic_id: Uuid, partition: u32, isr: Vec<u64>) -> Command {
    let p = &metadata.topics["r"].partitions[partition as usize];
    Command::AlterIsr {
        topic: "r".into(),
        topic_id,
        partition,
        leader: p.leader,
        leader_epoch: p.leader_epoch,
        partition_epoch: p.partition_epoch,
        isr,
    }
}

#[test]
fn a_dead_leader_is_replaced_by_an_in_sync_replica_at_a_new_epoch() {
    let (mut metadata, _) = three_nodes_and_a_replicated_topic(false);
    metadata
        .apply(&Command::NodeDown { id: 1, now_ms: 2 })
        .unwrap();
    let p = &metadata.topics["r"].partitions;
    assert_eq!(
        (p[0].leader, p[0].leader_epoch),
        (2, 1),
        "the next in-sync replica"
    );
    assert_eq!(p[0].isr, vec![2, 3]);
    assert_eq!(
        (p[1].leader, p[1].leader_epoch),
        (2, 0),
        "a follower lost: no election"
    );
    assert_eq!(p[1].isr, vec![2, 3]);
}

#[test]
fn no_replica_out_of_sync_leads_unless_the_topic_allows_it() {
    for unclean in [false, true] {
        let (mut metadata, topic_id) = three_nodes_and_a_replicated_topic(unclean);
        let shrink = alter(&metadata, topic_id, 0, vec![1]);
        metadata.apply(&shrink).unwrap();
        metadata
            .apply(&Command::NodeDown { id: 1, now_ms: 2 })
            .unwrap();
        let p = &metadata.topics["r"].partitions[0];
        if unclean {
            assert_eq!(
                (p.leader, p.isr.clone()),
                (2, vec![2]),
                "unclean: a live replica leads"
            );
        } else {
            assert_eq!(
                (p.leader, p.isr.clone()),
                (1, vec![1]),
                "offline, its ISR kept"
            );
        }
    }
}

#[test]
fn isr_changes_come_only_from_the_current_leader_and_the_preferred_one_returns() {
    let mut metadata = Metadata::default();
    let first = Uuid::new_v4();
    up(&mut metadata, 1, first);
    up(&mut metadata, 2, Uuid::new_v4());
    up(&mut metadata, 3, Uuid::new_v4());
    let topic_id = replicated(&mut metadata, false);
    let stale = alter(&metadata, topic_id, 0, vec![1]);
    // Node 1 restarts empty: it leaves every ISR and node 2 leads partition 0.
    up(&mut metadata, 1, Uuid::new_v4());
    let p = metadata.topics["r"].partitions[0].clone();
    assert_eq!(
        (p.leader, p.leader_epoch, p.isr.clone()),
        (2, 1, vec![2, 3])
    );
    assert_eq!(
        metadata.apply(&stale),
        Err(MetadataError::StalePartitionState {
            topic: "r".into(),
            partition: 0
        }),
        "the deposed leader's shrink is refused"
    );
    // Caught up again, node 1 rejoins the ISR and, preferred, leads again at a new epoch.
    let rejoin = alter(&metadata, topic_id, 0, vec![2, 3, 1]);
    metadata.apply(&rejoin).unwrap();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!((p.leader, p.leader_epoch), (1, 2));
    assert_eq!(p.isr, vec![1, 2, 3], "in replica order");
    let not_a_replica = alter(&metadata, topic_id, 0, vec![1, 4]);
    assert!(metadata.apply(&not_a_replica).is_err());
}

#[test]
fn the_last_in_sync_replica_restarted_leads_its_empty_log_at_a_new_epoch() {
    let (mut metadata, topic_id) = three_nodes_and_a_replicated_topic(false);
    metadata
        .apply(&alter(&metadata, topic_id, 0, vec![1]))
        .unwrap();
    up(&mut metadata, 1, Uuid::new_v4());
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!((p.leader, p.leader_epoch, p.isr.clone()), (1, 1, vec![1]));
}

#[test]
fn a_dead_node_is_not_taken_back_into_the_isr() {
    let (mut metadata, topic_id) = three_nodes_and_a_replicated_topic(false);
    metadata
        .apply(&Command::NodeDown { id: 3, now_ms: 2 })
        .unwrap();
    assert_eq!(metadata.topics["r"].partitions[0].isr, vec![1, 2]);
    let back = alter(&metadata, topic_id, 0, vec![1, 2, 3]);
    assert!(
        metadata.apply(&back).is_err(),
        "a leader that still has node 3's last fetch must not bring it back while it is down"
    );
}

/// Nodes 1 to 3 up and [`replicated`]'s topic "r" on them; returns the metadata and its id.
fn three_nodes_and_a_replicated_topic(unclean: bool) -> (Metadata, Uuid) {
    let mut metadata = Metadata::default();
    for id in 1..=3 {
        up(&mut metadata, id, Uuid::new_v4());
    }
    let topic_id = replicated(&mut metadata, unclean);
    (metadata, topic_id)
}

/// Three nodes up (node 2's incarnation returned, to bring it back as the same process), the
/// replicated topic `r` (`min_insync_replicas` 2), then node 3 down.
fn replicated_with_node_3_down() -> (Metadata, Uuid) {
    let mut metadata = Metadata::default();
    let two = Uuid::new_v4();
    for id in 1..=3 {
        up(
            &mut metadata,
            id,
            if id == 2 { two } else { Uuid::new_v4() },
        );
    }
    replicated(&mut metadata, false);
    metadata
        .apply(&Command::NodeDown { id: 3, now_ms: 2 })
        .unwrap();
    (metadata, two)
}

#[test]
fn an_eligible_replica_leads_when_the_last_in_sync_one_restarts_empty() {
    let (mut metadata, two) = replicated_with_node_3_down();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!(
        (p.isr.clone(), p.elr.clone()),
        (vec![1, 2], vec![]),
        "2 of 2 still in sync"
    );
    metadata
        .apply(&Command::NodeDown { id: 2, now_ms: 3 })
        .unwrap();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!(
        (p.isr.clone(), p.elr.clone()),
        (vec![1], vec![2]),
        "below min_insync_replicas nothing more is acknowledged: 2 holds every acknowledged record"
    );
    up(&mut metadata, 2, two);
    up(&mut metadata, 1, Uuid::new_v4());
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!(
        (p.leader, p.leader_epoch, p.isr.clone()),
        (2, 1, vec![2]),
        "node 1 came back empty: the eligible node 2 leads, not an empty log"
    );
    assert!(!p.elr.contains(&1), "an empty node is eligible for nothing");
}

#[test]
fn an_eligible_replica_coming_back_takes_over_an_offline_partition() {
    let (mut metadata, two) = replicated_with_node_3_down();
    metadata
        .apply(&Command::NodeDown { id: 2, now_ms: 3 })
        .unwrap();
    metadata
        .apply(&Command::NodeDown { id: 1, now_ms: 4 })
        .unwrap();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!((p.leader, p.isr.clone()), (1, vec![1]), "offline");
    up(&mut metadata, 2, two);
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!(
        (p.leader, p.isr.clone()),
        (2, vec![2]),
        "node 2 is eligible and back"
    );
}

#[test]
fn altering_a_topic_changes_the_named_settings_and_checks_them() {
    let (mut metadata, _) = replicated_with_node_3_down();
    let before = metadata.topics["r"].config.clone();
    let changes = AlterTopicConfigRequest {
        retention_ms: Some(60_000),
        unclean_leader_election: Some(true),
        ..Default::default()
    };
    metadata
        .apply(&Command::AlterTopicConfig {
            name: "r".into(),
            changes,
        })
        .unwrap();
    let after = &metadata.topics["r"].config;
    assert_eq!(
        *after,
        TopicConfig {
            retention_ms: 60_000,
            unclean_leader_election: true,
            ..before.clone()
        }
    );

    let too_many = AlterTopicConfigRequest {
        min_insync_replicas: Some(before.replication_factor + 1),
        ..Default::default()
    };
    let refused = metadata.apply(&Command::AlterTopicConfig {
        name: "r".into(),
        changes: too_many,
    });
    assert!(
        matches!(&refused, Err(MetadataError::InvalidConfig { topic, .. }) if topic == "r"),
        "{refused:?}"
    );
    assert_eq!(
        metadata.topics["r"].config.retention_ms, 60_000,
        "unchanged"
    );
    assert_eq!(
        metadata.apply(&Command::AlterTopicConfig {
            name: "nope".into(),
            changes: AlterTopicConfigRequest {
                retention_ms: Some(1),
                ..Default::default()
            },
        }),
        Err(MetadataError::UnknownTopic {
            name: "nope".into()
        })
    );
}

#[test]
fn a_new_min_insync_replicas_clears_the_eligible_replicas() {
    let (mut metadata, _) = replicated_with_node_3_down();
    metadata
        .apply(&Command::NodeDown { id: 2, now_ms: 3 })
        .unwrap();
    assert_eq!(metadata.topics["r"].partitions[0].elr, vec![2]);
    let retention_only = AlterTopicConfigRequest {
        retention_ms: Some(5),
        ..Default::default()
    };
    metadata
        .apply(&Command::AlterTopicConfig {
            name: "r".into(),
            changes: retention_only,
        })
        .unwrap();
    assert_eq!(metadata.topics["r"].partitions[0].elr, vec![2], "kept");
    let lower = AlterTopicConfigRequest {
        min_insync_replicas: Some(1),
        ..Default::default()
    };
    metadata
        .apply(&Command::AlterTopicConfig {
            name: "r".into(),
            changes: lower,
        })
        .unwrap();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!(
        (
            p.elr.clone(),
            metadata.topics["r"].config.min_insync_replicas
        ),
        (vec![], 1),
        "with one in sync enough, node 2 may lack acknowledged records"
    );
}

#[test]
fn a_delete_of_records_is_kept_through_elections_and_only_its_leader_writes_it() {
    let (mut metadata, topic_id) = three_nodes_and_a_replicated_topic(false);
    let delete = |leader_epoch, before| Command::DeleteRecords {
        topic: "r".into(),
        topic_id,
        partition: 0,
        leader_epoch,
        before,
    };
    let noted = |metadata: &Metadata| {
        let p = &metadata.topics["r"].partitions[0];
        (p.deleted_before, p.deleted_at_epoch)
    };
    metadata.apply(&delete(0, 40)).unwrap();
    metadata.apply(&delete(0, 25)).unwrap();
    assert_eq!(noted(&metadata), (40, 0), "never moves back");
    assert_eq!(metadata.topics["r"].partitions[1].deleted_before, 0);
    // The next leader is told, with its election…
    metadata
        .apply(&Command::NodeDown { id: 1, now_ms: 2 })
        .unwrap();
    let p = &metadata.topics["r"].partitions[0];
    assert_eq!((p.leader, p.leader_epoch), (2, 1));
    assert_eq!(noted(&metadata), (40, 0));
    // …and the deposed one can no longer write a delete (its epoch is gone).
    assert!(matches!(
        metadata.apply(&delete(0, 90)),
        Err(MetadataError::StalePartitionState { .. })
    ));
    // The new leader's own delete replaces the old one, even lower: it may have been elected
    // with a shorter log, and deleted only what it holds.
    metadata.apply(&delete(1, 30)).unwrap();
    assert_eq!(noted(&metadata), (30, 1));
    // A delete meant for an older topic of the same name, or a partition it lacks, changes
    // nothing.
    let older = Command::DeleteRecords {
        topic: "r".into(),
        topic_id: Uuid::new_v4(),
        partition: 0,
        leader_epoch: 1,
        before: 90,
    };
    assert!(matches!(
        metadata.apply(&older),
        Err(MetadataError::UnknownTopic { .. })
    ));
    assert!(metadata
        .apply(&Command::DeleteRecords {
            topic: "r".into(),
            topic_id,
            partition: 7,
            leader_epoch: 1,
            before: 90,
        })
        .is_err());
    assert_eq!(noted(&metadata), (30, 1));
}
