//! Offsets are never reused, even by a node that restarts with its records gone. In a cluster each
//! partition this node leads holds a lease: a ceiling below which it may give out offsets, made
//! durable by the cluster layer (in `data_dir`) before any offset at or past the old ceiling is
//! appended. After a restart the partition's log starts at its last ceiling, so every offset it
//! gives out is above every offset the old process could have acknowledged.

use super::BrokerError;
use mq_wire::batch::BatchHeader;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Offsets reserved at a time: one durable write per this many records of a partition.
pub const LEASE_OFFSETS: u64 = 1 << 20;

/// Where ceilings are kept; implemented by the cluster, which owns `data_dir`.
pub trait OffsetReservations: Send + Sync {
    /// Makes `ceiling` durable for the partition before returning.
    fn reserve(&self, topic: &str, partition: u32, ceiling: u64) -> std::io::Result<()>;
}

pub struct OffsetLease {
    ceiling: AtomicU64,
    reservations: Arc<dyn OffsetReservations>,
}

impl OffsetLease {
    /// A lease whose ceiling is `log_start` (where the log starts): the first append reserves.
    pub fn new(log_start: u64, reservations: Arc<dyn OffsetReservations>) -> Self {
        OffsetLease {
            ceiling: AtomicU64::new(log_start),
            reservations,
        }
    }

    /// Called under the partition's write lock before `batch` is appended at `log_end`: extends
    /// the ceiling past the batch when it would reach it. A failed write refuses the append.
    pub(super) fn cover(
        &self,
        topic: &str,
        partition: u32,
        log_end: u64,
        batch: &[u8],
    ) -> Result<(), BrokerError> {
        let records = BatchHeader::read(batch)
            .map(|h| u64::from(h.last_offset_delta) + 1)
            .map_err(|e| BrokerError::Internal(format!("batch header: {e}")))?;
        self.cover_to(topic, partition, log_end + records)
    }

    /// Extends the ceiling past `needed` (the log end after an append) when it would reach it.
    pub(super) fn cover_to(
        &self,
        topic: &str,
        partition: u32,
        needed: u64,
    ) -> Result<(), BrokerError> {
        if needed <= self.ceiling.load(Ordering::Relaxed) {
            return Ok(());
        }
        let ceiling = needed + LEASE_OFFSETS;
        self.reservations
            .reserve(topic, partition, ceiling)
            .map_err(|e| {
                BrokerError::Internal(format!(
                    "{topic}/{partition}: cannot make the offset ceiling durable: {e}"
                ))
            })?;
        self.ceiling.store(ceiling, Ordering::Relaxed);
        Ok(())
    }
}
