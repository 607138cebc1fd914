//! One partition hosted on this node: its log, its leader epoch and its high watermark.
//!
//! On a single node this node leads every partition and is its whole ISR, so the high watermark moves
//! to the log end at each append. The cluster will keep the same fields and move the high watermark
//! when followers catch up instead; readers already see only records below it.

use super::offset_lease::OffsetLease;
use super::BrokerError;
use crate::log::{Evicted, PartitionLog, ReadBatches, Reservation, RetentionPolicy};
use mq_wire::api::PartitionInfo;
use mq_wire::batch::{BatchIter, RecordRef};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;

pub struct Partition {
    topic: Arc<str>,
    index: u32,
    leader: u64,
    /// Whether this node leads it: a partition led elsewhere is a placeholder here and refuses
    /// appends and reads (routing sends those to its leader).
    hosted: bool,
    /// Raised by the cluster when this node's leadership of the partition starts anew.
    leader_epoch: AtomicU32,
    /// In a cluster: the offsets this partition may give out before it must make a new ceiling
    /// durable, so that a restart never hands out an offset twice.
    lease: Option<OffsetLease>,
    /// The lock is held only while bytes are copied in or out, never across an `.await`.
    log: RwLock<Box<dyn PartitionLog>>,
    /// Every offset below it may be read; long-polling fetches wait on it. For a partition led
    /// elsewhere: the leader's, as last heard.
    high_watermark: watch::Sender<u64>,
    /// For a partition led elsewhere: the leader's log start, as last heard.
    remote_log_start: AtomicU64,
}

/// A read of a partition, with the bounds seen at that moment.
#[derive(Debug, Default, Clone)]
pub struct PartitionRead {
    pub batches: ReadBatches,
    pub high_watermark: u64,
}

impl PartitionRead {
    /// Whether any record at or after `from` and below the high watermark came back.
    pub fn has_records_from(&self, from: u64) -> bool {
        !self.batches.bytes.is_empty() && from < self.high_watermark
    }

    /// Hands `visit` each record at or after `from` and below the high watermark, in order, until
    /// it answers false. A corrupt stored batch is an internal error.
    pub fn visit_records(
        &self,
        from: u64,
        mut visit: impl FnMut(RecordRef<'_>) -> bool,
    ) -> Result<(), BrokerError> {
        for batch in BatchIter::new(&self.batches.bytes) {
            let batch = batch.map_err(|e| BrokerError::Internal(format!("corrupt batch: {e}")))?;
            for record in batch.records() {
                let record =
                    record.map_err(|e| BrokerError::Internal(format!("corrupt record: {e}")))?;
                if record.offset < from {
                    continue;
                }
                if record.offset >= self.high_watermark || !visit(record) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }
}

impl Partition {
    pub fn new(
        topic: Arc<str>,
        index: u32,
        leader: u64,
        log: Box<dyn PartitionLog>,
        lease: Option<OffsetLease>,
        hosted: bool,
    ) -> Self {
        let end = log.log_end();
        Partition {
            topic,
            index,
            leader,
            hosted,
            leader_epoch: AtomicU32::new(0),
            lease,
            log: RwLock::new(log),
            high_watermark: watch::Sender::new(end),
            remote_log_start: AtomicU64::new(0),
        }
    }

    pub fn index(&self) -> u32 {
        self.index
    }

    /// The node leading this partition.
    pub fn leader(&self) -> u64 {
        self.leader
    }

    pub fn leader_epoch(&self) -> u32 {
        self.leader_epoch.load(Ordering::Relaxed)
    }

    /// Epochs only rise: a lower one is ignored.
    pub fn raise_leader_epoch(&self, epoch: u32) {
        self.leader_epoch.fetch_max(epoch, Ordering::Relaxed);
    }

    pub fn high_watermark(&self) -> u64 {
        *self.high_watermark.borrow()
    }

    fn check_hosted(&self) -> Result<(), BrokerError> {
        if self.hosted {
            return Ok(());
        }
        Err(BrokerError::NotLeader {
            topic: self.topic.to_string(),
            partition: self.index,
            leader: self.leader,
        })
    }

    /// Appends one encoded batch and returns its base offset.
    pub fn append(
        &self,
        batch: &mut [u8],
        reservation: &mut Reservation,
    ) -> Result<u64, BrokerError> {
        self.check_hosted()?;
        let (base_offset, log_end) = {
            let mut log = self.log.write();
            if let Some(lease) = &self.lease {
                lease.cover(&self.topic, self.index, log.log_end(), batch)?;
            }
            let base = log
                .append(batch, self.leader_epoch(), reservation)
                .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
            (base, log.log_end())
        };
        // The ISR is this node alone: the append is committed. Concurrent appends may publish out
        // of order, so the watermark only ever moves forward.
        self.high_watermark.send_if_modified(|hw| {
            let advance = log_end > *hw;
            if advance {
                *hw = log_end;
            }
            advance
        });
        Ok(base_offset)
    }

    /// Copies whole batches from the one holding `from`, up to `max_bytes`.
    pub fn read(&self, from: u64, max_bytes: usize) -> Result<PartitionRead, BrokerError> {
        self.check_hosted()?;
        let high_watermark = self.high_watermark();
        let batches = self
            .log
            .read()
            .read(from, max_bytes)
            .map_err(|e| BrokerError::from_log(e, &self.topic, self.index))?;
        Ok(PartitionRead {
            batches,
            high_watermark,
        })
    }

    /// A receiver that wakes whenever the high watermark moves.
    pub fn watch_high_watermark(&self) -> watch::Receiver<u64> {
        self.high_watermark.subscribe()
    }

    pub fn log_start(&self) -> u64 {
        if !self.hosted {
            return self.remote_log_start.load(Ordering::Relaxed);
        }
        self.log.read().log_start()
    }

    /// Whether this node leads the partition (else it is a placeholder for the leader's).
    pub fn is_hosted(&self) -> bool {
        self.hosted
    }

    /// For a partition led elsewhere: the bounds its leader just reported. The log start follows
    /// the leader exactly (it moves back when the leader restarted empty); the high watermark only
    /// rises unless the log start passed it.
    pub fn set_remote_bounds(&self, log_start: u64, high_watermark: u64) {
        if self.hosted {
            return;
        }
        self.remote_log_start.store(log_start, Ordering::Relaxed);
        self.high_watermark.send_if_modified(|hw| {
            let moved = *hw != high_watermark;
            *hw = high_watermark;
            moved
        });
    }

    pub fn offset_for_timestamp(&self, timestamp_ms: i64) -> Option<(u64, i64)> {
        self.log.read().offset_for_timestamp(timestamp_ms)
    }

    pub fn enforce_retention(&self, policy: RetentionPolicy, now_ms: i64) -> Evicted {
        self.log.write().enforce_retention(policy, now_ms)
    }

    /// Bytes held by the partition's segments.
    pub fn size_bytes(&self) -> u64 {
        self.log.read().size_bytes()
    }

    pub fn oldest_segment_time(&self) -> Option<i64> {
        self.log.read().oldest_segment_time()
    }

    pub fn evict_oldest(&self) -> Evicted {
        self.log.write().evict_oldest()
    }

    pub fn info(&self) -> PartitionInfo {
        let high_watermark = self.high_watermark();
        let log = self.log.read();
        PartitionInfo {
            partition: self.index,
            leader: self.leader,
            leader_epoch: self.leader_epoch(),
            replicas: vec![self.leader],
            isr: vec![self.leader],
            log_start: log.log_start(),
            log_end: log.log_end(),
            high_watermark,
            bytes: log.size_bytes(),
            segments: log.segment_count() as u32,
        }
    }
}
