//! Makes this node's broker match the metadata it has applied: a topic the metadata gained is put
//! in place (each partition this node leads starts at its durable offset ceiling; one it follows
//! starts empty and copies from its leader), a topic it lost is dropped with everything groups
//! remember of it, and each partition takes the role (leader, follower, neither), leader epoch and
//! ISR the metadata gives it, keeping its log; a topic whose settings were altered takes them. Runs at start and after every applied change.
//!
//! Until the metadata knows this very process (its incarnation), nothing is put in place: the
//! metadata may still say this node leads partitions whose records died with its previous process,
//! and it must not serve them before the controller has moved them.

use super::coordinator_lease::CoordinatorLease;
use super::metadata::PartitionRecord;
use super::offset_ceilings::OffsetCeilings;
use super::raft::state_machine::Applied;
use super::Cluster;
use crate::broker::{Broker, PartitionPlacement, ReplicaSet, TopicPlacement};
use crate::group::Groups;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

pub struct Reconciler {
    node_id: u64,
    incarnation: Uuid,
    ceilings: Arc<OffsetCeilings>,
    lease: Arc<CoordinatorLease>,
    broker: Arc<Broker>,
    groups: Arc<Groups>,
    metrics: Arc<Metrics>,
    /// The topics put in place, by name, with the id they had.
    installed: HashMap<String, Uuid>,
    /// The metadata index last reconciled: an older state is never applied over a newer one.
    reconciled_index: u64,
    /// The coordinator slots as last reconciled: a group whose slot changed hands (or epoch)
    /// since is dropped here, even when the slot came back to this node.
    slots: Vec<crate::cluster::metadata::CoordinatorSlot>,
}

impl Reconciler {
    pub fn new(
        cluster: &Cluster,
        broker: Arc<Broker>,
        groups: Arc<Groups>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self::for_node(
            cluster.node_id(),
            cluster.incarnation(),
            Arc::clone(&cluster.ceilings),
            Arc::clone(&cluster.lease),
            broker,
            groups,
            metrics,
        )
    }

    fn for_node(
        node_id: u64,
        incarnation: Uuid,
        ceilings: Arc<OffsetCeilings>,
        lease: Arc<CoordinatorLease>,
        broker: Arc<Broker>,
        groups: Arc<Groups>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Reconciler {
            node_id,
            incarnation,
            ceilings,
            lease,
            broker,
            groups,
            metrics,
            installed: HashMap::new(),
            reconciled_index: 0,
            slots: Vec::new(),
        }
    }

    /// Tells the coordinator lease which slots came here (or came back at a new epoch) and which
    /// left: a slot gained is served only a lease after. On the first reconciliation after a
    /// start every slot held counts as just gained.
    fn note_slot_moves(
        &self,
        previous: &[crate::cluster::metadata::CoordinatorSlot],
        now: &[crate::cluster::metadata::CoordinatorSlot],
    ) {
        let at = std::time::Instant::now();
        for (index, slot) in now.iter().enumerate() {
            let index = index as u32;
            let before = previous.get(index as usize);
            if slot.node == self.node_id {
                if before != Some(slot) {
                    self.lease.slot_gained(index, slot.epoch, at);
                }
            } else if before.is_some_and(|b| b.node == self.node_id) {
                self.lease.slot_lost(index);
            }
        }
    }

    /// Returns whether a topic came or went, or a partition here changed leader or role.
    pub fn reconcile(&mut self, applied: &Applied) -> bool {
        if applied.index < self.reconciled_index {
            return false;
        }
        let known = applied
            .metadata
            .nodes
            .get(&self.node_id)
            .is_some_and(|n| n.incarnation == self.incarnation);
        if !known {
            return false;
        }
        let mut moved = false;
        self.reconciled_index = applied.index;
        let me = self.node_id;
        let previous = std::mem::replace(&mut self.slots, applied.metadata.slots.clone());
        self.note_slot_moves(&previous, &applied.metadata.slots);
        self.groups.retain_coordinated(|group| {
            applied.metadata.slot(group).is_some_and(|(index, slot)| {
                slot.node == me && previous.get(index as usize).is_none_or(|old| *old == slot)
            })
        });
        let topics = &applied.metadata.topics;
        let gone: Vec<String> = self
            .installed
            .iter()
            .filter(|(name, id)| topics.get(*name).map(|t| t.id) != Some(**id))
            .map(|(name, _)| name.clone())
            .collect();
        for name in gone {
            moved = true;
            self.installed.remove(&name);
            if self.broker.delete_topic(&name).is_ok() {
                self.groups.forget_topic(&name);
                self.metrics.forget_topic(&name);
            }
            if let Err(error) = self.ceilings.forget_topic(&name) {
                tracing::warn!(topic = %name, %error, "cannot drop the offset ceilings of a deleted topic");
            }
        }
        for (name, record) in topics {
            if self.installed.get(name) == Some(&record.id) {
                if let Ok(topic) = self.broker.topic(name) {
                    if topic.config() != record.config {
                        topic.set_config(record.config.clone());
                        tracing::info!(topic = %name, config = ?record.config, "topic config changed");
                    }
                    for (partition, placed) in topic.partitions().iter().zip(&record.partitions) {
                        moved |= partition.apply_placement(&replica_set(placed));
                    }
                }
                continue;
            }
            let partitions = record
                .partitions
                .iter()
                .enumerate()
                .map(|(index, placed)| {
                    let log_start = if placed.leader == me {
                        self.ceilings.start_of(name, index as u32)
                    } else {
                        0
                    };
                    if log_start > 0 {
                        self.metrics.partition_restarted_empty();
                        tracing::warn!(
                            topic = %name,
                            partition = index,
                            log_start,
                            "partition came back empty after a restart: its records were in memory and are gone; its offsets resume at {log_start}"
                        );
                    }
                    PartitionPlacement {
                        set: replica_set(placed),
                        log_start,
                    }
                })
                .collect();
            let reservations: Arc<dyn crate::broker::offset_lease::OffsetReservations> =
                self.ceilings.clone();
            let placement = TopicPlacement {
                id: Some(record.id),
                partitions,
                reservations: Some(reservations),
            };
            self.broker
                .install_topic(name, record.config.clone(), &placement);
            self.installed.insert(name.clone(), record.id);
            moved = true;
            tracing::info!(topic = %name, partitions = record.partitions.len(), "topic in place on this node");
        }
        moved
    }
}

/// The replica set a partition's metadata record gives (a record written before replication has
/// its leader as only replica).
pub fn replica_set(record: &PartitionRecord) -> ReplicaSet {
    let single = || vec![record.leader];
    ReplicaSet {
        leader: record.leader,
        leader_epoch: record.leader_epoch,
        replicas: if record.replicas.is_empty() {
            single()
        } else {
            record.replicas.clone()
        },
        isr: if record.isr.is_empty() {
            single()
        } else {
            record.isr.clone()
        },
        partition_epoch: record.partition_epoch,
        deleted_before: record.deleted_before,
        deleted_at_epoch: record.deleted_at_epoch,
    }
}

impl Cluster {
    /// Hands this node's broker to the cluster: from now on it follows the metadata.
    pub fn attach(&self, reconciler: Reconciler) {
        let _ = self.reconciler.set(parking_lot::Mutex::new(reconciler));
        self.sync_local();
    }

    /// Makes the broker match the metadata applied so far.
    pub fn sync_local(&self) {
        if let Some(reconciler) = self.reconciler.get() {
            // Read under the lock: a caller holding an older state must never reconcile after
            // one holding a newer (it would drop a topic just put in place).
            let mut reconciler = reconciler.lock();
            let applied = self.metadata();
            if reconciler.reconcile(&applied) {
                reconciler.broker.placement_changed();
            }
        }
    }

    /// Follows every applied change until shutdown.
    pub async fn run_reconciler(self: Arc<Self>, stop: ShutdownSignal) {
        let mut changes = self.watch();
        let stop = stop.wait();
        tokio::pin!(stop);
        loop {
            changes.borrow_and_update();
            self.sync_local();
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                _ = &mut stop => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::metadata::{Command, Metadata};
    use crate::config::Config;
    use crate::group::GroupSettings;
    use std::time::Duration;

    const INCARNATION: Uuid = Uuid::from_u128(7);
    const LEASE: Duration = Duration::from_millis(400);

    fn reconciler(dir: &std::path::Path) -> (Reconciler, Arc<Broker>) {
        let broker = Arc::new(Broker::new(Arc::new(Config::default())));
        let groups = Arc::new(Groups::new(GroupSettings {
            default_session_timeout: Duration::from_secs(10),
            min_session_timeout: Duration::from_millis(100),
            max_session_timeout: Duration::from_secs(300),
        }));
        let ceilings = Arc::new(OffsetCeilings::open(dir).unwrap());
        let metrics = Arc::new(Metrics::new());
        let reconciler = Reconciler::for_node(
            1,
            INCARNATION,
            ceilings,
            Arc::new(CoordinatorLease::new(LEASE)),
            Arc::clone(&broker),
            groups,
            metrics,
        );
        (reconciler, broker)
    }

    /// Node `id` reporting in with `incarnation`.
    fn node_up(id: u64, incarnation: Uuid) -> Command {
        Command::NodeUp {
            id,
            addr: format!("127.0.0.1:{id}"),
            incarnation,
            now_ms: 0,
        }
    }

    /// Metadata where this node (1) has reported in.
    fn this_node_up() -> Metadata {
        let mut metadata = Metadata::default();
        metadata.apply(&node_up(1, INCARNATION)).unwrap();
        metadata
    }

    /// An empty directory of this test's own (`tag`) for the offset ceilings.
    fn scratch_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("mq-reconcile-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn an_older_state_never_undoes_a_newer_one() {
        let dir = scratch_dir("order");
        let (mut reconciler, broker) = reconciler(&dir);
        let mut metadata = this_node_up();
        let before = Applied {
            index: 4,
            metadata: metadata.clone(),
        };
        metadata
            .apply(&Command::CreateTopic {
                name: "t".into(),
                id: Uuid::new_v4(),
                config: crate::cluster::metadata::tests::topic_config(2),
                replicas: vec![vec![1], vec![2]],
            })
            .unwrap();
        let after = Applied { index: 5, metadata };
        reconciler.reconcile(&after);
        let topic = broker.topic("t").expect("put in place");
        assert!(topic.partitions()[0].is_hosted());
        assert!(
            !topic.partitions()[1].is_hosted(),
            "led by node 2: a placeholder"
        );
        reconciler.reconcile(&before);
        assert!(
            broker.topic("t").is_ok(),
            "a caller holding the state before the create must not drop the topic"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_delete_written_into_the_metadata_reaches_the_partitions_here() {
        let dir = scratch_dir("del");
        let (mut reconciler, broker) = reconciler(&dir);
        let mut metadata = this_node_up();
        let id = Uuid::new_v4();
        metadata
            .apply(&Command::CreateTopic {
                name: "t".into(),
                id,
                config: crate::cluster::metadata::tests::topic_config(1),
                replicas: vec![vec![1]],
            })
            .unwrap();
        reconciler.reconcile(&Applied {
            index: 2,
            metadata: metadata.clone(),
        });
        let topic = broker.topic("t").unwrap();
        assert_eq!(topic.id(), Some(id));
        let records: Vec<crate::broker::NewRecord> = (0..10u8)
            .map(|i| crate::broker::NewRecord {
                partition: Some(0),
                value: vec![i].into(),
                ..Default::default()
            })
            .collect();
        topic
            .produce(&records, 1 << 20, mq_wire::api::Acks::Leader, 1)
            .unwrap();
        metadata
            .apply(&Command::DeleteRecords {
                topic: "t".into(),
                topic_id: id,
                partition: 0,
                leader_epoch: 0,
                before: 7,
            })
            .unwrap();
        reconciler.reconcile(&Applied { index: 3, metadata });
        assert_eq!(topic.partitions()[0].log_start(), 7);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_slot_that_comes_here_is_served_only_a_lease_after_and_one_that_leaves_not_at_all() {
        let dir = scratch_dir("slots");
        let (mut reconciler, _broker) = reconciler(&dir);
        let lease = Arc::clone(&reconciler.lease);
        // A lease and a quarter.
        let settle = LEASE + LEASE / 4;
        let mut metadata = this_node_up();
        // `reconcile` stamps when a slot was gained with its own clock: an instant read before
        // it is no later than that stamp, one read after it no earlier, however long a loaded
        // machine pauses this thread in between.
        let start = std::time::Instant::now();
        reconciler.reconcile(&Applied {
            index: 1,
            metadata: metadata.clone(),
        });
        let epoch = |m: &Metadata, slot: u32| m.slots[slot as usize].epoch;
        lease.grant(start, 1, 1);
        assert!(
            lease.check(0, epoch(&metadata, 0), start, 1).is_err(),
            "every slot held at the first reconciliation counts as just gained"
        );
        let later = std::time::Instant::now() + settle;
        lease.grant(later, 1, 1);
        assert_eq!(lease.check(0, epoch(&metadata, 0), later, 1), Ok(()));

        metadata.apply(&node_up(2, Uuid::from_u128(8))).unwrap();
        reconciler.reconcile(&Applied {
            index: 2,
            metadata: metadata.clone(),
        });
        let (kept, gone): (Vec<u32>, Vec<u32>) = (0..crate::cluster::metadata::GROUP_SLOTS)
            .partition(|&i| metadata.slots[i as usize].node == 1);
        assert!(!kept.is_empty() && !gone.is_empty(), "node 2 took a share");
        assert_eq!(
            lease.check(kept[0], epoch(&metadata, kept[0]), later, 2),
            Ok(()),
            "a slot kept stays served"
        );
        let left_at = epoch(&metadata, gone[0]);
        assert!(
            lease.check(gone[0], left_at, later, 2).is_err(),
            "a slot that left is not"
        );

        // Node 2 dies: its slots come back here at a new epoch, and wait to settle.
        metadata
            .apply(&Command::NodeDown { id: 2, now_ms: 0 })
            .unwrap();
        let back_at = epoch(&metadata, gone[0]);
        assert!(back_at > left_at);
        let back = std::time::Instant::now();
        reconciler.reconcile(&Applied { index: 3, metadata });
        lease.grant(back, 3, 3);
        assert!(matches!(
            lease.check(gone[0], back_at, back, 3),
            Err(crate::cluster::coordinator_lease::LeaseLapse::SlotSettling { .. })
        ));
        let settled = std::time::Instant::now() + settle;
        lease.grant(settled, 3, 3);
        assert_eq!(lease.check(gone[0], back_at, settled, 3), Ok(()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
