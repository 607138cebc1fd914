//! The follower's side of a partition: finding where its log diverged from a new leader's and
//! cutting it there (KIP-101/KIP-279), starting over at the leader's log start, and copying the
//! leader's batches unchanged (taking its log start and high watermark with them).

use super::{delete_records, Partition, Role, Stored};
use crate::broker::BrokerError;
use crate::log::Reservation;
use mq_wire::batch::{BatchHeader, BatchIter};
use std::sync::atomic::Ordering;

/// What a follower's copy of some batches gave: the producer state they carried, for the
/// topic's idempotence windows.
#[derive(Debug, Default)]
pub struct Replicated {
    pub headers: Vec<BatchHeader>,
    /// Ids their producers chose, with their offsets (batches marked `CHOSEN_IDS`).
    pub chosen_ids: Vec<(uuid::Uuid, u64)>,
}

impl Partition {
    /// On a follower: whether it must find where its log diverged before copying more, and the
    /// newest epoch it holds records of.
    pub fn divergence_check(&self) -> Option<Option<u32>> {
        if !self.needs_truncation.load(Ordering::Acquire) {
            return None;
        }
        Some(self.stored.read().epochs.last_epoch())
    }

    /// On a follower: the leader answered that `asked` ended at `leader_end` in its log (its
    /// largest epoch at or below `asked` being `leader_epoch`; `None`: the leader has no epoch that
    /// old). Truncates this log to where both agree (KIP-279: the end of that epoch here too).
    /// An answer got at another leader epoch than the current one is ignored (the question is
    /// asked again of the new leader).
    pub fn truncate_diverged(
        &self,
        asked_at_epoch: u32,
        answer: Option<(u32, u64)>,
    ) -> Result<u64, BrokerError> {
        // Locks in the order `apply_placement` takes them: placement, then the log.
        let placement = self.placement.read();
        let mut stored = self.stored.write();
        if placement.0 != Role::Follower || placement.1.leader_epoch != asked_at_epoch {
            return Ok(stored.log.log_end());
        }
        let Stored { log, epochs } = &mut *stored;
        let here = log.log_end();
        let to = match answer {
            Some((epoch, leader_end)) => {
                let local_end = epochs.end_offset_for(epoch, here).map_or(here, |(_, e)| e);
                leader_end.min(local_end)
            }
            // The leader holds no epoch this old (it restarted empty): nothing here is shared.
            None => log.log_start(),
        };
        if to < here {
            log.truncate_to(to)
                .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
            epochs.truncate_to(log.log_end());
            tracing::warn!(
                topic = %self.topic,
                partition = self.index,
                from = here,
                to = log.log_end(),
                "follower truncated the records its new leader does not have"
            );
        }
        let end = log.log_end();
        drop(stored);
        // Still under the placement lock: a newer epoch's `needs_truncation` is not cleared here.
        self.needs_truncation.store(false, Ordering::Release);
        self.replica_high_watermark.fetch_min(end, Ordering::AcqRel);
        drop(placement);
        Ok(end)
    }

    /// On a follower: its log ends before the leader's log start (it came back empty, or retention
    /// passed it): start over, empty, at the leader's log start.
    /// Ignored unless it still follows at `fetched_at_epoch` (it may have been elected meanwhile).
    pub fn restart_at(&self, log_start: u64, fetched_at_epoch: u32) {
        let placement = self.placement.read();
        if placement.0 != Role::Follower || placement.1.leader_epoch != fetched_at_epoch {
            return;
        }
        let mut stored = self.stored.write();
        stored.log.reset_to(log_start);
        stored.epochs.clear();
        drop(stored);
        self.replica_high_watermark
            .store(log_start, Ordering::Release);
    }

    /// On a follower: appends batches copied from the leader, unchanged, and takes the leader's
    /// bounds (its own high watermark never passes its own log end).
    /// Batches fetched at another leader epoch than the current one (the placement changed while
    /// the fetch was in flight) are dropped: the next round settles divergence first.
    pub fn append_replicated(
        &self,
        batches: &[u8],
        reservation: &mut Reservation,
        fetched_at_epoch: u32,
        leader_log_start: u64,
        leader_high_watermark: u64,
    ) -> Result<Replicated, BrokerError> {
        let mut replicated = Replicated::default();
        let end = {
            let placement = self.placement.read();
            let mut stored = self.stored.write();
            if placement.0 != Role::Follower
                || placement.1.leader_epoch != fetched_at_epoch
                || self.needs_truncation.load(Ordering::Acquire)
            {
                return Ok(replicated);
            }
            drop(placement);
            let Stored { log, epochs } = &mut *stored;
            for batch in BatchIter::new(batches) {
                let batch = batch.map_err(|source| BrokerError::InvalidBatch { at: 0, source })?;
                let header = batch.header;
                if header.next_offset() <= log.log_end() {
                    continue;
                }
                if let Some(lease) = &self.lease {
                    lease.cover_to(&self.topic, self.index, header.next_offset())?;
                }
                log.append_replica(batch.as_bytes(), reservation)
                    .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
                epochs.assign(header.leader_epoch, header.base_offset);
                if header.producer_id >= 0 {
                    replicated.headers.push(header);
                }
                if header.attributes & mq_wire::batch::CHOSEN_IDS != 0 {
                    replicated.chosen_ids.extend(
                        batch
                            .records()
                            .filter_map(Result::ok)
                            .filter_map(|r| Some((r.id?, r.offset))),
                    );
                }
            }
            delete_records::follow_log_start(&mut **log, leader_log_start);
            tracing::trace!(topic = %self.topic, partition = self.index, end = log.log_end(), epoch = fetched_at_epoch, "copied");
            log.log_end()
        };
        self.replica_high_watermark
            .store(leader_high_watermark.min(end), Ordering::Release);
        self.set_remote_bounds(leader_log_start, leader_high_watermark);
        Ok(replicated)
    }

    /// This replica's own log start (on a follower, where its copy begins).
    pub fn local_log_start(&self) -> u64 {
        self.stored.read().log.log_start()
    }

    /// What a fetch from the leader would have set: the high watermark the leader reported.
    #[cfg(test)]
    pub(crate) fn set_replica_high_watermark(&self, high_watermark: u64) {
        self.replica_high_watermark
            .store(high_watermark, Ordering::Release);
    }
}
