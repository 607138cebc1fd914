//! The broker: the topics and partitions this node hosts, and the operations on them that do not
//! depend on the wire format (create, delete, produce, long-poll fetch, list offsets, retention).
//!
//! Every request reaches data through [`Broker::topic`]: that lookup is the one place routing will
//! grow into when partitions live on other nodes.

mod batch_check;
mod dedup;
mod discard;
mod error;
mod followers;
mod leader_epochs;
pub mod offset_lease;
mod partition;
mod produce;
mod producer_window;
mod topic;
pub mod topic_config;

pub use error::BrokerError;
pub use leader_epochs::LeaderEpochs;
pub use partition::{IsrChange, Partition, PartitionRead, ReplicaSet, Role};
pub use produce::{IdSequence, NewRecord, RecordId};
pub use topic::{BatchLimits, Commit, Produced, Topic};

use crate::config::Config;
use crate::log::{Evicted, LogSettings, MemoryBudget, MemoryLog};
use dedup::DedupWindow;
use mq_wire::api::{CreateTopicRequest, PartitionOffset, TopicConfig};
use parking_lot::RwLock;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// Idempotent producers remembered per partition.
const MAX_PRODUCERS_PER_PARTITION: usize = 1024;

/// Where a topic's partitions live: leader, epoch and first offset of each, and where their
/// offset ceilings are kept (in a cluster).
pub struct TopicPlacement {
    /// The topic's id in the cluster's metadata (none on a node alone).
    pub id: Option<uuid::Uuid>,
    pub partitions: Vec<PartitionPlacement>,
    pub reservations: Option<Arc<dyn offset_lease::OffsetReservations>>,
}

pub struct PartitionPlacement {
    pub set: ReplicaSet,
    pub log_start: u64,
}

impl TopicPlacement {
    /// Every partition on `node`, from offset 0: a node alone.
    pub fn local(node: u64, partitions: u32) -> Self {
        TopicPlacement {
            id: None,
            partitions: (0..partitions)
                .map(|_| PartitionPlacement {
                    set: ReplicaSet::single(node),
                    log_start: 0,
                })
                .collect(),
            reservations: None,
        }
    }
}

/// Where to start a list-offsets answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetSpec {
    Earliest,
    Latest,
    Timestamp(i64),
}

pub struct Broker {
    /// Swapped whole by a SIGHUP reload; readers take a snapshot with [`Broker::config`].
    config: RwLock<Arc<Config>>,
    topics: RwLock<BTreeMap<String, Arc<Topic>>>,
    budget: Arc<MemoryBudget>,
    /// Fetches parked in a long poll now (`mq_fetches_waiting`).
    waiting_fetches: AtomicU64,
    /// Bumped at every append to a partition this node leads: followers' fetches wait on it.
    appended: Arc<watch::Sender<u64>>,
    /// Bumped whenever the cluster changed which partitions are here or who leads them.
    placement: watch::Sender<u64>,
}

/// A fetch counted as parked until it is dropped.
struct Parked<'a>(&'a AtomicU64);

impl Drop for Parked<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Broker {
    pub fn new(config: Arc<Config>) -> Self {
        let budget = MemoryBudget::new(config.limits.memory.bytes());
        Broker {
            config: RwLock::new(config),
            topics: RwLock::new(BTreeMap::new()),
            budget,
            waiting_fetches: AtomicU64::new(0),
            appended: Arc::new(watch::Sender::new(0)),
            placement: watch::Sender::new(0),
        }
    }

    /// Tells followers' fetchers that partitions or their leaders changed.
    pub fn placement_changed(&self) {
        self.placement.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that wakes after every [`Broker::placement_changed`].
    pub fn watch_placement(&self) -> watch::Receiver<u64> {
        self.placement.subscribe()
    }

    /// A receiver that wakes at every append on this node.
    pub fn watch_appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// A snapshot of the configuration in force.
    pub fn config(&self) -> Arc<Config> {
        Arc::clone(&self.config.read())
    }

    /// Puts a reloaded configuration in force: limits and topic defaults apply to the next
    /// request; the memory limit at once.
    pub fn set_config(&self, config: Arc<Config>) {
        self.budget.set_limit(config.limits.memory.bytes());
        *self.config.write() = config;
    }

    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.budget
    }

    pub fn node_id(&self) -> u64 {
        self.config.read().node.id
    }

    /// Creates a topic, filling unset settings from the node's defaults.
    pub fn create_topic(&self, request: &CreateTopicRequest) -> Result<Arc<Topic>, BrokerError> {
        if let Some(replication_factor) = request.replication_factor.filter(|&r| r != 1) {
            return Err(BrokerError::InvalidArgument(format!(
                "replication_factor {replication_factor} needs that many nodes; this is a single node, so it must be 1"
            )));
        }
        let single = CreateTopicRequest {
            replication_factor: Some(1),
            min_insync_replicas: Some(request.min_insync_replicas.unwrap_or(1)),
            ..request.clone()
        };
        let config = self.topic_config_for(&single)?;
        let placement = TopicPlacement::local(self.node_id(), config.partitions);
        let mut topics = self.topics.write();
        if topics.contains_key(&request.name) {
            return Err(BrokerError::TopicExists(request.name.clone()));
        }
        let topic = self.build_topic(&request.name, config, &placement);
        topics.insert(request.name.clone(), Arc::clone(&topic));
        tracing::info!(topic = %request.name, partitions = topic.partition_count(), "topic created");
        Ok(topic)
    }

    /// Checks a creation request against the name rules and this node's limits and fills unset
    /// settings from its defaults; `replication_factor` is the caller's to check.
    pub fn topic_config_for(
        &self,
        request: &CreateTopicRequest,
    ) -> Result<TopicConfig, BrokerError> {
        validate_topic_name(&request.name)?;
        let defaults = self.config();
        let partitions = request
            .partitions
            .unwrap_or(defaults.topics.default_partitions);
        let max = defaults.limits.max_partitions_per_topic;
        if partitions == 0 || partitions > max {
            return Err(BrokerError::InvalidArgument(format!(
                "partitions must be between 1 and {max} (limits.max_partitions_per_topic), not {partitions}"
            )));
        }
        let topics = self.topics.read();
        if topics.contains_key(&request.name) {
            return Err(BrokerError::TopicExists(request.name.clone()));
        }
        let max_topics = defaults.limits.max_topics;
        if topics.len() as u64 >= u64::from(max_topics) {
            return Err(BrokerError::LimitExceeded(format!(
                "this node holds {max_topics} topics already (limits.max_topics)"
            )));
        }
        let hosted: u64 = topics
            .values()
            .map(|t| u64::from(t.partition_count()))
            .sum();
        let max_partitions = defaults.limits.max_partitions;
        if hosted + u64::from(partitions) > u64::from(max_partitions) {
            return Err(BrokerError::LimitExceeded(format!(
                "this node hosts {hosted} partitions; {partitions} more would pass limits.max_partitions ({max_partitions})"
            )));
        }
        let replication_factor = request
            .replication_factor
            .unwrap_or(defaults.topics.default_replication_factor);
        if replication_factor == 0 {
            return Err(BrokerError::InvalidArgument(
                "replication_factor must be at least 1".to_owned(),
            ));
        }
        let min_insync_replicas = request.min_insync_replicas.unwrap_or_else(|| {
            defaults
                .topics
                .default_min_insync_replicas
                .min(replication_factor)
        });
        if min_insync_replicas == 0 || min_insync_replicas > replication_factor {
            return Err(BrokerError::InvalidArgument(format!(
                "min_insync_replicas must be between 1 and replication_factor ({replication_factor}), not {min_insync_replicas}"
            )));
        }
        Ok(TopicConfig {
            partitions,
            replication_factor,
            min_insync_replicas,
            unclean_leader_election: request.unclean_leader_election.unwrap_or(false),
            retention_ms: request
                .retention_ms
                .unwrap_or(defaults.log.retention.as_millis()),
            retention_bytes: request
                .retention_bytes
                .unwrap_or(defaults.log.retention_bytes.0),
            segment_bytes: defaults.log.segment_bytes.0,
            discard: request.discard.unwrap_or_default(),
        })
    }

    /// Puts a topic the cluster decided on in place on this node, replacing one of the same name:
    /// no limit is checked here, the controller checked them when it was created.
    pub fn install_topic(&self, name: &str, config: TopicConfig, placement: &TopicPlacement) {
        let topic = self.build_topic(name, config, placement);
        self.topics.write().insert(name.to_owned(), topic);
    }

    fn build_topic(
        &self,
        name: &str,
        config: TopicConfig,
        placement: &TopicPlacement,
    ) -> Arc<Topic> {
        let defaults = self.config();
        let name: Arc<str> = Arc::from(name);
        let settings = LogSettings {
            segment_bytes: config.segment_bytes as usize,
            index_interval_bytes: defaults.log.index_interval_bytes.0 as usize,
        };
        let partitions: Vec<Arc<Partition>> = (0..config.partitions)
            .map(|index| {
                let at = &placement.partitions[index as usize];
                let log = MemoryLog::starting_at(at.log_start, settings, Arc::clone(&self.budget));
                let lease = placement
                    .reservations
                    .as_ref()
                    .map(|r| offset_lease::OffsetLease::new(at.log_start, Arc::clone(r)));
                let partition = Partition::new(
                    Arc::clone(&name),
                    index,
                    self.node_id(),
                    at.set.clone(),
                    config.min_insync_replicas,
                    Box::new(log),
                    lease,
                    Arc::clone(&self.appended),
                );
                Arc::new(partition)
            })
            .collect();
        let dedup = DedupWindow::new(
            defaults.topics.dedup_window.as_millis(),
            defaults.topics.dedup_window_records,
        );
        let producer_windows = (0..partitions.len())
            .map(|_| {
                parking_lot::Mutex::new(producer_window::ProducerWindow::new(
                    defaults.topics.dedup_window.as_millis(),
                    MAX_PRODUCERS_PER_PARTITION,
                ))
            })
            .collect();
        Arc::new(Topic::new(
            name,
            placement.id,
            config,
            partitions,
            dedup,
            producer_windows,
            Arc::clone(&self.budget),
        ))
    }

    /// Deletes a topic; its memory returns to the budget once in-flight requests let go of it.
    pub fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        match self.topics.write().remove(name) {
            Some(_) => {
                tracing::info!(topic = %name, "topic deleted");
                Ok(())
            }
            None => Err(BrokerError::UnknownTopic(name.to_owned())),
        }
    }

    pub fn topic(&self, name: &str) -> Result<Arc<Topic>, BrokerError> {
        self.topics
            .read()
            .get(name)
            .cloned()
            .ok_or_else(|| BrokerError::UnknownTopic(name.to_owned()))
    }

    /// Fetches waiting in a long poll for records now.
    pub fn waiting_fetches(&self) -> u64 {
        self.waiting_fetches.load(Ordering::Relaxed)
    }

    pub fn topics(&self) -> Vec<Arc<Topic>> {
        self.topics.read().values().cloned().collect()
    }

    /// Reads from `from` (the log start when `None`), waiting up to `max_wait` for a record to arrive
    /// when there is none yet. Returns early when `stop` resolves (shutdown).
    pub async fn fetch(
        &self,
        partition: &Partition,
        from: Option<u64>,
        max_bytes: usize,
        max_wait: Duration,
        stop: impl std::future::Future<Output = ()>,
    ) -> Result<(u64, PartitionRead), BrokerError> {
        let from = from.unwrap_or_else(|| partition.log_start());
        let deadline = Instant::now() + max_wait;
        let mut watermark = partition.watch_high_watermark();
        tokio::pin!(stop);
        let mut parked = None;
        loop {
            watermark.borrow_and_update();
            let read = partition.read(from, max_bytes)?;
            if read.has_records_from(from) || Instant::now() >= deadline {
                return Ok((from, read));
            }
            parked.get_or_insert_with(|| {
                self.waiting_fetches.fetch_add(1, Ordering::Relaxed);
                Parked(&self.waiting_fetches)
            });
            tokio::select! {
                changed = watermark.changed() => if changed.is_err() { return Ok((from, read)) },
                _ = tokio::time::sleep_until(deadline) => {}
                _ = &mut stop => return Ok((from, read)),
            }
        }
    }

    /// Offsets of the partitions of `topic` (or just `only`) for `spec`.
    pub fn list_offsets(
        &self,
        topic: &Topic,
        spec: OffsetSpec,
        only: Option<u32>,
    ) -> Result<Vec<PartitionOffset>, BrokerError> {
        let partitions: Vec<&Arc<Partition>> = match only {
            Some(index) => vec![topic.partition(index)?],
            None => topic.partitions().iter().collect(),
        };
        partitions
            .into_iter()
            .map(|partition| {
                let (offset, timestamp) = match spec {
                    OffsetSpec::Earliest => (partition.log_start(), None),
                    OffsetSpec::Latest => (partition.latest()?, None),
                    OffsetSpec::Timestamp(ts) => match partition.offset_for_timestamp(ts)? {
                        Some((offset, found)) => (offset, Some(found)),
                        None => (partition.high_watermark(), None),
                    },
                };
                Ok(PartitionOffset {
                    partition: partition.index(),
                    offset,
                    timestamp,
                })
            })
            .collect()
    }

    /// One retention pass over every partition.
    pub fn enforce_retention(&self, now_ms: i64) -> Evicted {
        let mut total = Evicted::default();
        for topic in self.topics() {
            let policy = topic.retention();
            for partition in topic.partitions() {
                let evicted = partition.enforce_retention(policy, now_ms);
                if evicted.segments > 0 {
                    tracing::info!(
                        topic = topic.name(),
                        partition = partition.index(),
                        segments = evicted.segments,
                        records = evicted.records,
                        bytes = evicted.bytes,
                        "retention evicted segments"
                    );
                }
                total += evicted;
            }
        }
        total
    }
}

/// Kafka's rule: 1 to 249 of `[A-Za-z0-9._-]`, and not `.` or `..`.
fn validate_topic_name(name: &str) -> Result<(), BrokerError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name.len() > 249 {
        Some("it is longer than 249 characters")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are reserved")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only letters, digits, `.`, `_` and `-` are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(BrokerError::InvalidTopicName {
            name: name.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
