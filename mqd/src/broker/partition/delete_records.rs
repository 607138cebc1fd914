//! Deleting a partition's records below an offset (Kafka's DeleteRecords): the leader moves its
//! log start, and each follower moves its own to the leader's as it copies, so that a follower
//! that becomes leader does not serve deleted records again. As Kafka's, the answer waits until
//! every in-sync follower says (in its fetch) that its log starts there too.

use super::{Partition, Role};
use crate::broker::BrokerError;
use crate::log::{Evicted, PartitionLog};
use std::time::Duration;

impl Partition {
    /// On the leader: deletes every record below `before` (at most the high watermark: what is
    /// not committed is not deleted) and returns the new log start, with the leader epoch it
    /// deleted at. Followers take it with their next fetch, which it wakes;
    /// [`Self::wait_followers_log_start`] waits for them.
    pub fn delete_records_before(&self, before: u64) -> Result<(u64, u32), BrokerError> {
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return Err(self.not_leader(placement.1.leader));
        }
        let high_watermark = self.high_watermark();
        let mut stored = self.stored.write();
        let log = &mut stored.log;
        if before > high_watermark {
            return Err(BrokerError::OffsetOutOfRange {
                topic: self.topic.to_string(),
                partition: self.index,
                requested: before,
                log_start: log.log_start(),
                log_end: high_watermark,
            });
        }
        let evicted = log
            .delete_before(before)
            .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
        let log_start = log.log_start();
        drop(stored);
        let leader_epoch = placement.1.leader_epoch;
        drop(placement);
        tracing::info!(topic = %self.topic, partition = self.index, log_start, segments = evicted.segments, bytes = evicted.bytes, "records deleted");
        // Followers long-polling for records answer now, with the new log start.
        self.appended.send_modify(|n| *n = n.wrapping_add(1));
        Ok((log_start, leader_epoch))
    }

    /// On the leader: waits until every in-sync follower's log starts at `log_start` or later,
    /// and every follower being taken into the ISR (it may be elected once that applies), as
    /// Kafka's DeleteRecords waits for the replicas' low watermark, so that the follower elected
    /// next does not serve the deleted records. Wakes at every follower fetch and placement
    /// change. Fails with `not_leader` when leadership moves meanwhile, `replication_timeout`
    /// past `timeout` (the leader has deleted them).
    pub async fn wait_followers_log_start(
        &self,
        log_start: u64,
        timeout: Duration,
    ) -> Result<(), BrokerError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let fetched = self.followers_fetched.notified();
            tokio::pin!(fetched);
            fetched.as_mut().enable();
            let Some(behind) = self.follower_starting_below(log_start)? else {
                return Ok(());
            };
            tracing::trace!(topic = %self.topic, partition = self.index, log_start, behind, "waiting for a follower to take the log start");
            if tokio::time::timeout_at(deadline, fetched).await.is_err() {
                return match self.follower_starting_below(log_start)? {
                    None => Ok(()),
                    Some(_) => Err(BrokerError::DeleteNotReplicated {
                        topic: self.topic.to_string(),
                        partition: self.index,
                        log_start,
                        waited_ms: timeout.as_millis() as u64,
                    }),
                };
            }
        }
    }

    /// An in-sync (or joining) follower whose log, as its last fetch said, starts below
    /// `log_start`; `not_leader` when this node no longer leads.
    fn follower_starting_below(&self, log_start: u64) -> Result<Option<u64>, BrokerError> {
        let joining = self.joining.lock().clone();
        let placement = self.placement.read();
        if placement.0 != Role::Leader {
            return Err(self.not_leader(placement.1.leader));
        }
        let followers = self.followers.lock();
        Ok(placement
            .1
            .isr
            .iter()
            .chain(&joining)
            .copied()
            .find(|&node| {
                node != self.node
                    && followers
                        .log_start(node)
                        .is_none_or(|start| start < log_start)
            }))
    }
}

/// On a follower: moves its log start up to its leader's (never past its own log end; what it
/// lacks past that it copies from the leader's log start anyway).
pub(super) fn follow_log_start(log: &mut dyn PartitionLog, leader_log_start: u64) -> Evicted {
    let target = leader_log_start.min(log.log_end());
    if target <= log.log_start() {
        return Evicted::default();
    }
    log.delete_before(target).unwrap_or_default()
}
