//! Consumer groups. Today: committed offsets per (group, topic, partition) and the seed's
//! `/consume` + `/commit` consumers, each a group with one implicit member. The group coordinator
//! (membership, rebalancing, fencing by generation) grows here on the same offset store.

mod offsets;
mod seed_consumer;

pub use offsets::CommittedOffsets;
pub use seed_consumer::SeedConsumers;

/// The consumer-group state of this node.
#[derive(Default)]
pub struct Groups {
    pub offsets: CommittedOffsets,
    pub seed: SeedConsumers,
}

impl Groups {
    /// Forgets everything about a deleted topic, so a topic re-created with the same name starts
    /// from its log start, not from offsets of the old one.
    pub fn forget_topic(&self, topic: &str) {
        self.offsets.forget_topic(topic);
        self.seed.forget_topic(topic);
    }
}
