//! A topic's answer to a full node (`limits.memory`), with NATS JetStream's names: `discard = "new"`
//! refuses the produce; `discard = "old"` evicts the topic's own oldest segments, oldest first over
//! all its partitions, until the produce fits (a capped stream). Other topics' records are never
//! touched: a topic can only give up what it holds, and gives up nothing when all it holds would
//! not make room.

use super::Partition;
use crate::log::{Evicted, MemoryBudget, MemoryLimitExceeded, Reservation};
use mq_wire::api::DiscardPolicy;
use std::sync::Arc;

/// Reserves `bytes` for a produce to a topic with `partitions` and `policy`.
pub(super) fn reserve_room(
    budget: &Arc<MemoryBudget>,
    partitions: &[Arc<Partition>],
    policy: DiscardPolicy,
    topic: &str,
    bytes: u64,
) -> Result<Reservation, MemoryLimitExceeded> {
    let mut refused = match budget.try_reserve(bytes) {
        Ok(reservation) => return Ok(reservation),
        Err(refused) => refused,
    };
    if policy == DiscardPolicy::New {
        return Err(refused);
    }
    let mut freed = Evicted::default();
    let reserved = loop {
        // Evict nothing more when even the whole topic would not make room (other topics hold
        // the rest, or took what was freed meanwhile): the produce is refused either way, and
        // the topic keeps what it still has.
        let held: u64 = partitions.iter().map(|p| p.size_bytes()).sum();
        let others = refused.used.saturating_sub(held);
        if others.saturating_add(bytes) > refused.limit {
            break Err(refused);
        }
        let Some(oldest) = partitions
            .iter()
            .filter_map(|p| p.oldest_segment_time().map(|time| (time, p)))
            .min_by_key(|(time, _)| *time)
            .map(|(_, p)| p)
        else {
            break Err(refused);
        };
        freed += oldest.evict_oldest();
        match budget.try_reserve(bytes) {
            Ok(reservation) => break Ok(reservation),
            Err(again) => refused = again,
        }
    };
    if freed.segments > 0 {
        tracing::info!(
            topic,
            segments = freed.segments,
            records = freed.records,
            bytes = freed.bytes,
            "memory full: discard = \"old\" evicted the topic's oldest segments"
        );
    }
    reserved
}
