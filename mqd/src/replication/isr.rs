//! The leader's ISR upkeep: every tick, each partition this node leads checks its followers'
//! progress and proposes an ISR change through the controller when one fell behind for
//! `cluster.replica_lag_max` or caught up again (Kafka's AlterPartition). The controller applies
//! it only if this node still leads at the same leader and partition epochs. While an expansion is
//! pending, the joining followers already count for the high watermark (KIP-497's maximal ISR).

use crate::broker::{Broker, Role};
use crate::cluster::metadata::Command;
use crate::cluster::Cluster;
use crate::metrics::Metrics;
use crate::shutdown::ShutdownSignal;
use std::sync::Arc;
use std::time::Duration;

/// How often the ISR of every partition led here is checked.
const TICK: Duration = Duration::from_millis(100);

pub async fn run_isr_upkeep(
    cluster: Arc<Cluster>,
    broker: Arc<Broker>,
    metrics: Arc<Metrics>,
    stop: ShutdownSignal,
) {
    let lag_max = cluster.settings().replica_lag_max.0;
    let mut ticks = tokio::time::interval(TICK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = stop.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = &mut stop => return,
        }
        let applied = cluster.metadata();
        for topic in broker.topics() {
            let Some(record) = applied.metadata.topics.get(topic.name()) else {
                continue;
            };
            for partition in topic.partitions() {
                if partition.role() != Role::Leader {
                    continue;
                }
                let Some(change) = partition.isr_change(lag_max) else {
                    continue;
                };
                let before = partition.replica_set().isr;
                let command = Command::AlterIsr {
                    topic: topic.name().to_owned(),
                    topic_id: record.id,
                    partition: partition.index(),
                    leader: cluster.node_id(),
                    leader_epoch: change.leader_epoch,
                    partition_epoch: change.partition_epoch,
                    isr: change.isr.clone(),
                };
                let outcome = cluster.propose(command).await;
                cluster.sync_local();
                partition.settle_isr();
                match outcome {
                    Ok(_) => {
                        metrics.isr_changed(
                            before.iter().any(|n| !change.isr.contains(n)),
                            change.isr.iter().any(|n| !before.contains(n)),
                        );
                        tracing::info!(
                            topic = topic.name(),
                            partition = partition.index(),
                            from = ?before,
                            to = ?change.isr,
                            "ISR changed"
                        )
                    }
                    Err(error) => tracing::debug!(
                        topic = topic.name(),
                        partition = partition.index(),
                        %error,
                        "ISR change not applied"
                    ),
                }
            }
        }
    }
}
