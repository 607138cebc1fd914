//! The seed's consumers: `POST /consume {"topicId","consumerId"}` answers the record at the
//! consumer's committed position, again and again until `POST /commit` advances it by one
//! (at-least-once). A consumer reads every partition of the topic; among the partitions with a record
//! at their position it takes the one whose record is oldest (then the lowest partition), so repeated
//! consumes without a commit give the same record. A position evicted by retention moves up to the
//! log start.

use super::CommittedOffsets;
use crate::broker::{BrokerError, Topic};
use mq_wire::batch::BatchIter;
use parking_lot::Mutex;
use std::collections::HashMap;
use uuid::Uuid;

/// A record handed to a seed consumer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedRecord {
    pub partition: u32,
    pub offset: u64,
    /// `None` for a record produced through Kafka.
    pub id: Option<Uuid>,
    pub value: Vec<u8>,
    pub timestamp: i64,
}

/// At most this many (topic, consumer) pairs are remembered between a `/consume` and its
/// `/commit`: past it the one given longest ago is forgotten, so a client that invents a new
/// `consumerId` for every request cannot grow the map without bound. A forgotten pair's `/commit`
/// commits the record `/consume` would give now (the same one, unless retention moved past it).
pub const MAX_REMEMBERED_SEED_CONSUMERS: usize = 100_000;

type ConsumerKey = (String, String);

/// What each seed consumer was last given, so `/commit` advances that partition.
#[derive(Default)]
pub struct SeedConsumers {
    last_given: Mutex<LastGiven>,
}

/// (topic, consumer) → (partition, offset, when), with the pairs in the order they were given.
#[derive(Default)]
struct LastGiven {
    entries: HashMap<ConsumerKey, (u32, u64, u64)>,
    order: std::collections::BTreeMap<u64, ConsumerKey>,
    next: u64,
}

impl LastGiven {
    fn insert(&mut self, key: ConsumerKey, partition: u32, offset: u64) {
        if let Some((_, _, at)) = self.entries.get(&key) {
            self.order.remove(at);
        } else if self.entries.len() >= MAX_REMEMBERED_SEED_CONSUMERS {
            if let Some((_, oldest)) = self.order.pop_first() {
                self.entries.remove(&oldest);
            }
        }
        self.next += 1;
        self.order.insert(self.next, key.clone());
        self.entries.insert(key, (partition, offset, self.next));
    }

    fn remove(&mut self, key: &ConsumerKey) -> Option<(u32, u64)> {
        let (partition, offset, at) = self.entries.remove(key)?;
        self.order.remove(&at);
        Some((partition, offset))
    }

    fn retain(&mut self, keep: impl Fn(&ConsumerKey) -> bool) {
        self.entries.retain(|key, _| keep(key));
        self.order.retain(|_, key| keep(key));
    }
}

impl SeedConsumers {
    /// The record at the consumer's position, or `NoRecord`.
    pub fn consume(
        &self,
        offsets: &CommittedOffsets,
        topic: &Topic,
        consumer: &str,
        remote: &RemoteReads,
    ) -> Result<SeedRecord, BrokerError> {
        let record = next_record(offsets, topic, consumer, remote)?;
        let key = (topic.name().to_owned(), consumer.to_owned());
        self.last_given
            .lock()
            .insert(key, record.partition, record.offset);
        Ok(record)
    }

    /// Advances the consumer past the record it was last given (or, if it was given none, past the
    /// record `/consume` would give). Returns the partition and the next offset.
    pub fn commit(
        &self,
        offsets: &CommittedOffsets,
        topic: &Topic,
        consumer: &str,
        remote: &RemoteReads,
    ) -> Result<(u32, u64), BrokerError> {
        let (partition, next, expected) = self.plan_commit(offsets, topic, consumer, remote)?;
        if offsets.compare_and_commit(consumer, topic.name(), partition, expected, next) {
            return Ok((partition, next));
        }
        Err(moved(consumer, partition, next - 1))
    }

    /// What a `/commit` moves: the partition, the next offset, and the committed offset it must
    /// still find there (`None`: never committed). The write is the caller's: on this node, or
    /// through a cluster's metadata.
    pub fn plan_commit(
        &self,
        offsets: &CommittedOffsets,
        topic: &Topic,
        consumer: &str,
        remote: &RemoteReads,
    ) -> Result<(u32, u64, Option<u64>), BrokerError> {
        let key = (topic.name().to_owned(), consumer.to_owned());
        let given = self.last_given.lock().remove(&key);
        if let Some((partition, offset)) = given {
            let committed = offsets.get(consumer, topic.name(), partition);
            if position(offsets, topic, consumer, partition)? == offset {
                return Ok((partition, offset + 1, committed));
            }
            // What it was given is gone (evicted) or was committed meanwhile: never commit past a
            // record the consumer did not receive.
            return Err(moved(consumer, partition, offset));
        }
        let record = next_record(offsets, topic, consumer, remote)?;
        let committed = offsets.get(consumer, topic.name(), record.partition);
        Ok((record.partition, record.offset + 1, committed))
    }

    /// The positions `/consume` would read at, per partition: a cluster coordinator reads those of
    /// partitions led elsewhere ahead, then hands them in as [`RemoteReads`].
    pub fn positions(
        &self,
        offsets: &CommittedOffsets,
        topic: &Topic,
        consumer: &str,
    ) -> Result<Vec<(u32, u64)>, BrokerError> {
        topic
            .partitions()
            .iter()
            .filter(|p| !p.is_hosted())
            .map(|p| Ok((p.index(), position(offsets, topic, consumer, p.index())?)))
            .filter(|at: &Result<(u32, u64), BrokerError>| {
                at.as_ref().map_or(true, |(index, at)| {
                    topic.partitions()[*index as usize].high_watermark() > *at
                })
            })
            .collect()
    }

    pub fn forget_topic(&self, topic: &str) {
        self.last_given.lock().retain(|(t, _)| t != topic);
    }

    /// Forgets consumers whose offsets expired.
    pub fn forget_consumers(&self, consumers: &[String]) {
        let gone: std::collections::HashSet<&str> = consumers.iter().map(String::as_str).collect();
        self.last_given
            .lock()
            .retain(|(_, consumer)| !gone.contains(consumer.as_str()));
    }

    /// How many (topic, consumer) pairs are remembered now.
    pub fn remembered(&self) -> usize {
        self.last_given.lock().entries.len()
    }
}

fn moved(consumer: &str, partition: u32, offset: u64) -> BrokerError {
    BrokerError::NoRecord(format!(
        "the record consumer `{consumer}` was given ({partition}/{offset}) is no longer at its position; consume again"
    ))
}

impl super::Groups {
    /// `/consume`: in a cluster, partitions led elsewhere are read from their leaders first.
    pub async fn seed_consume(
        &self,
        broker: &crate::broker::Broker,
        topic: &Topic,
        consumer: &str,
    ) -> Result<SeedRecord, super::GroupError> {
        // A coordinator that lost the consumer's slot without knowing it may read a committed
        // offset the new one has moved past.
        self.check_coordinated_here(consumer)?;
        let remote = self.seed_remote_reads(broker, topic, consumer).await?;
        self.check_coordinated_here(consumer)?;
        Ok(self.seed.consume(&self.offsets, topic, consumer, &remote)?)
    }

    /// `/commit`: in a cluster, the new offset goes through the metadata (this node coordinates
    /// the consumer's group: routing sent the request here).
    pub async fn seed_commit(
        &self,
        broker: &crate::broker::Broker,
        topic: &Topic,
        consumer: &str,
    ) -> Result<(u32, u64), super::GroupError> {
        let remote = self.seed_remote_reads(broker, topic, consumer).await?;
        let Some(cluster) = self.cluster.get() else {
            return Ok(self.seed.commit(&self.offsets, topic, consumer, &remote)?);
        };
        let (partition, next, _) =
            self.seed
                .plan_commit(&self.offsets, topic, consumer, &remote)?;
        let commit = mq_wire::api::OffsetCommit {
            topic: topic.name().to_owned(),
            partition,
            offset: next,
            metadata: None,
        };
        cluster.commit(consumer, vec![commit], None).await?;
        Ok((partition, next))
    }

    async fn seed_remote_reads(
        &self,
        broker: &crate::broker::Broker,
        topic: &Topic,
        consumer: &str,
    ) -> Result<RemoteReads, super::GroupError> {
        let mut reads = RemoteReads::new();
        let Some(cluster) = self.cluster.get() else {
            return Ok(reads);
        };
        cluster.refresh_bounds(broker).await;
        for (partition, at) in self.seed.positions(&self.offsets, topic, consumer)? {
            let tp = super::TopicPartition::new(topic.name(), partition);
            let read = cluster
                .read(broker, &tp, at, 1, std::time::Duration::ZERO)
                .await;
            reads.insert(partition, read);
        }
        Ok(reads)
    }
}

/// The consumer's position in a partition: its committed offset, moved up to the log start.
fn position(
    offsets: &CommittedOffsets,
    topic: &Topic,
    consumer: &str,
    partition: u32,
) -> Result<u64, BrokerError> {
    let log_start = topic.partition(partition)?.log_start();
    let committed = offsets.get(consumer, topic.name(), partition).unwrap_or(0);
    Ok(committed.max(log_start))
}

/// Reads of partitions this node does not lead, made ahead by the caller (a cluster
/// coordinator): partition → what its leader answered at the consumer's position.
pub type RemoteReads =
    std::collections::HashMap<u32, Result<crate::broker::PartitionRead, BrokerError>>;

fn next_record(
    offsets: &CommittedOffsets,
    topic: &Topic,
    consumer: &str,
    remote: &RemoteReads,
) -> Result<SeedRecord, BrokerError> {
    let mut best: Option<SeedRecord> = None;
    for partition in topic.partitions() {
        let at = position(offsets, topic, consumer, partition.index())?;
        if at >= partition.high_watermark() {
            continue;
        }
        let read = match remote.get(&partition.index()) {
            Some(Ok(read)) => Ok(read.clone()),
            Some(Err(_)) => continue,
            None if !partition.is_hosted() => continue,
            None => partition.read(at, 1),
        };
        let read = match read {
            Ok(read) => read.inflated(1)?,
            // Evicted between the two reads: the next consume sees the new log start.
            Err(BrokerError::OffsetOutOfRange { .. }) => continue,
            Err(other) => return Err(other),
        };
        let found = BatchIter::new(&read.batches.bytes)
            .filter_map(Result::ok)
            .flat_map(|batch| batch.records())
            .filter_map(Result::ok)
            .find(|record| record.offset == at);
        if let Some(record) = found {
            let older = best.as_ref().is_none_or(|b| record.timestamp < b.timestamp);
            if older {
                best = Some(SeedRecord {
                    partition: partition.index(),
                    offset: record.offset,
                    id: record.id,
                    value: record.value.to_vec(),
                    timestamp: record.timestamp,
                });
            }
        }
    }
    best.ok_or_else(|| {
        BrokerError::NoRecord(format!(
            "consumer `{consumer}` has read every record of topic `{}`",
            topic.name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_cap_the_pair_given_longest_ago_is_forgotten() {
        let mut given = LastGiven::default();
        let key = |i: usize| ("t".to_owned(), format!("c{i}"));
        for i in 0..MAX_REMEMBERED_SEED_CONSUMERS {
            given.insert(key(i), 0, i as u64);
        }
        // Consumer 0 consumes again: it is now the most recent.
        given.insert(key(0), 0, 7);
        given.insert(key(MAX_REMEMBERED_SEED_CONSUMERS), 0, 1);
        assert_eq!(given.entries.len(), MAX_REMEMBERED_SEED_CONSUMERS);
        assert_eq!(given.order.len(), MAX_REMEMBERED_SEED_CONSUMERS);
        assert_eq!(given.remove(&key(0)), Some((0, 7)));
        assert_eq!(
            given.remove(&key(1)),
            None,
            "consumer 1 was given longest ago"
        );
        assert_eq!(given.remove(&key(2)), Some((0, 2)));
    }
}
