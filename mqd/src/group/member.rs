//! One member of a consumer group: what it reads, what it owns, what it was last told, and where
//! it is in each partition it owns.

use super::TopicPartition;
use mq_wire::api::OffsetReset;
use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

pub(super) struct Member {
    pub id: String,
    pub client_id: Option<String>,
    /// A static member's name (Kafka's `group.instance.id`): kept across its restarts.
    pub instance_id: Option<String>,
    pub topics: Vec<String>,
    pub session_timeout: Duration,
    pub last_seen: Instant,
    pub offset_reset: OffsetReset,
    /// The generation last delivered to the member (join or heartbeat answer); its requests must
    /// carry it.
    pub delivered_generation: u64,
    /// The target assignment delivered with that generation. A heartbeat with that generation
    /// acknowledges it: the member has let go of owned partitions outside it.
    pub delivered_target: BTreeSet<TopicPartition>,
    /// Partitions the member owns now: no other member owns them.
    pub owned: BTreeSet<TopicPartition>,
    /// Next offset to hand out per owned partition (starts at the committed offset).
    pub positions: HashMap<TopicPartition, u64>,
    /// Rotates the partition a group fetch starts with, for fairness.
    pub fetch_rotation: usize,
    /// A Kafka member (classic protocol): the partitions its last SyncGroup handed it, which
    /// are all it reads until it rejoins.
    pub synced: BTreeSet<TopicPartition>,
    /// A Kafka member: the assignor it chose and its own metadata for it, as DescribeGroups
    /// answers them.
    pub client_protocol: Option<ClientProtocol>,
}

/// A Kafka member's protocol (client-side assignor) as its JoinGroup named it, and the metadata
/// bytes it sent with it (its subscription, in the client's own version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientProtocol {
    pub name: String,
    pub metadata: bytes::Bytes,
}

impl ClientProtocol {
    /// At most this much metadata is kept per member (a subscription is tens of bytes; more is
    /// not remembered, and DescribeGroups shows the subscription as the coordinator knows it).
    pub const MAX_METADATA_BYTES: usize = 64 * 1024;
}

impl Member {
    pub fn expired(&self, now: Instant) -> bool {
        now.duration_since(self.last_seen) > self.session_timeout
    }

    /// Gives up a partition: no longer owned, position forgotten.
    pub fn release(&mut self, tp: &TopicPartition) {
        self.owned.remove(tp);
        self.positions.remove(tp);
    }
}
