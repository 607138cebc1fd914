//! [`MemoryLog`]: a partition log held in memory, as a queue of segments whose last one is active.
//! Closed segments are shrunk to fit; eviction drops whole segments from the front and returns
//! their bytes to the node's [`MemoryBudget`].

use super::{
    Evicted, LogError, LogSettings, MemoryBudget, PartitionLog, ReadBatches, Reservation,
    RetentionPolicy, Segment, TimeLookup,
};
use mq_wire::batch::{patch_leader_fields, BatchHeader};
use std::collections::VecDeque;
use std::sync::Arc;

#[derive(Debug)]
pub struct MemoryLog {
    /// Never empty: the last segment is the active one.
    segments: VecDeque<Segment>,
    settings: LogSettings,
    budget: Arc<MemoryBudget>,
    /// Bytes taken from the budget and not yet released.
    accounted_bytes: u64,
    /// The first offset a reader may ask for when records were deleted inside the first segment
    /// (Kafka's DeleteRecords moves the log start to any offset); below the first segment's base
    /// otherwise. See [`PartitionLog::log_start`].
    deleted_before: u64,
}

impl MemoryLog {
    pub fn new(settings: LogSettings, budget: Arc<MemoryBudget>) -> Self {
        Self::starting_at(0, settings, budget)
    }

    /// An empty log whose first record will get offset `log_start` (a partition that came back
    /// empty after a restart must not give out its old offsets again).
    pub fn starting_at(log_start: u64, settings: LogSettings, budget: Arc<MemoryBudget>) -> Self {
        let mut segments = VecDeque::new();
        segments.push_back(Segment::new(log_start, settings.segment_bytes));
        MemoryLog {
            segments,
            settings,
            budget,
            accounted_bytes: 0,
            deleted_before: log_start,
        }
    }

    fn active(&mut self) -> &mut Segment {
        self.segments
            .back_mut()
            .expect("a log always has an active segment")
    }

    /// Closes the active segment and opens an empty one at the log end: a busy one when an
    /// append filled the last (its pages are populated ahead at once, [`super::prefault`]), a
    /// plain one when eviction emptied the log.
    fn roll(&mut self, busy: bool) {
        let end = self.log_end();
        self.active().seal();
        let capacity = self.settings.segment_bytes;
        self.segments.push_back(if busy {
            Segment::rolled(end, capacity)
        } else {
            Segment::new(end, capacity)
        });
    }

    /// Drops the oldest segment; keeps an empty active segment if it was the last.
    fn evict_front(&mut self, evicted: &mut Evicted) {
        if self.segments.len() == 1 {
            self.roll(false);
        }
        if let Some(segment) = self.segments.pop_front() {
            let bytes = segment.len_bytes() as u64;
            evicted.segments += 1;
            evicted.bytes += bytes;
            evicted.records += segment.record_count();
            self.accounted_bytes -= bytes;
            self.budget.release(bytes);
        }
    }

    /// Copies a batch whose offsets are final into the active segment (rolling it when full),
    /// taking its bytes from `reservation`.
    fn store(
        &mut self,
        batch: &[u8],
        header: &BatchHeader,
        reservation: &mut Reservation,
    ) -> Result<(), LogError> {
        let needed = batch.len() as u64;
        if !reservation.take(needed) {
            return Err(LogError::NotReserved {
                reserved: reservation.remaining(),
                needed,
            });
        }
        let segment_bytes = self.settings.segment_bytes;
        if !self.active().fits(batch.len(), segment_bytes) {
            self.roll(true);
        }
        let interval = self.settings.index_interval_bytes;
        self.active().append(batch, header, interval);
        self.accounted_bytes += needed;
        Ok(())
    }

    fn segment_holding(&self, offset: u64) -> Option<usize> {
        let index = self.segments.partition_point(|s| s.base_offset() <= offset);
        index.checked_sub(1)
    }
}

impl PartitionLog for MemoryLog {
    fn append(
        &mut self,
        batch: &mut [u8],
        leader_epoch: u32,
        reservation: &mut Reservation,
    ) -> Result<u64, LogError> {
        let base_offset = self.log_end();
        patch_leader_fields(batch, base_offset, leader_epoch);
        let header = BatchHeader::read(batch)?;
        self.store(batch, &header, reservation)?;
        Ok(base_offset)
    }

    fn append_replica(
        &mut self,
        batch: &[u8],
        reservation: &mut Reservation,
    ) -> Result<(), LogError> {
        let header = BatchHeader::read(batch)?;
        let log_end = self.log_end();
        if self.log_start() == log_end
            && header.base_offset < log_end
            && log_end < header.next_offset()
        {
            // An empty follower starting where its leader deleted records inside a batch: the
            // batch is kept whole, its records below the start are not readable.
            self.reset_to(header.base_offset);
            self.deleted_before = log_end;
            return self.store(batch, &header, reservation);
        }
        if header.base_offset != log_end {
            return Err(LogError::NotContiguous {
                base_offset: header.base_offset,
                log_end,
            });
        }
        self.store(batch, &header, reservation)
    }

    fn truncate_to(&mut self, offset: u64) -> Result<u64, LogError> {
        let mut dropped = 0u64;
        while self.segments.len() > 1
            && self
                .segments
                .back()
                .is_some_and(|s| s.base_offset() >= offset)
        {
            let segment = self.segments.pop_back().expect("more than one segment");
            dropped += segment.len_bytes() as u64;
        }
        dropped += self.active().truncate_to(offset)? as u64;
        self.accounted_bytes -= dropped;
        self.budget.release(dropped);
        self.deleted_before = self.deleted_before.min(self.log_end());
        Ok(dropped)
    }

    fn reset_to(&mut self, log_start: u64) {
        self.budget.release(self.accounted_bytes);
        self.accounted_bytes = 0;
        self.segments.clear();
        self.segments
            .push_back(Segment::new(log_start, self.settings.segment_bytes));
        self.deleted_before = log_start;
    }

    fn delete_before(&mut self, offset: u64) -> Result<Evicted, LogError> {
        let (log_start, log_end) = (self.log_start(), self.log_end());
        if offset > log_end {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start,
                log_end,
            });
        }
        let mut evicted = Evicted::default();
        if offset <= log_start {
            return Ok(evicted);
        }
        while self
            .segments
            .front()
            .is_some_and(|s| !s.is_empty() && s.next_offset() <= offset)
        {
            self.evict_front(&mut evicted);
        }
        self.deleted_before = offset;
        Ok(evicted)
    }

    fn read(&self, from: u64, max_bytes: usize) -> Result<ReadBatches, LogError> {
        let (log_start, log_end) = (self.log_start(), self.log_end());
        let mut read = ReadBatches {
            bytes: Vec::new(),
            log_start,
            log_end,
        };
        if from < log_start || from > log_end {
            return Err(LogError::OffsetOutOfRange {
                requested: from,
                log_start,
                log_end,
            });
        }
        if from == log_end {
            return Ok(read);
        }
        let first = self.segment_holding(from).unwrap_or(0);
        let mut next = from;
        for segment in self.segments.range(first..) {
            if next >= segment.next_offset() {
                continue;
            }
            next = segment.copy_from(next, max_bytes, &mut read.bytes)?;
            if next < segment.next_offset() {
                break;
            }
        }
        Ok(read)
    }

    fn log_start(&self) -> u64 {
        let first = self.segments.front().map_or(0, Segment::base_offset);
        first.max(self.deleted_before)
    }

    fn log_end(&self) -> u64 {
        self.segments.back().map_or(0, Segment::next_offset)
    }

    fn size_bytes(&self) -> u64 {
        self.accounted_bytes
    }

    fn segment_count(&self) -> usize {
        self.segments.len()
    }

    fn time_lookup(&self, timestamp_ms: i64, from: u64) -> TimeLookup {
        let from = from.max(self.log_start());
        self.segments
            .iter()
            .map(|segment| segment.time_lookup(timestamp_ms, from))
            .find(|step| *step != TimeLookup::NotFound)
            .unwrap_or(TimeLookup::NotFound)
    }

    fn enforce_retention(&mut self, policy: RetentionPolicy, now_ms: i64) -> Evicted {
        let mut evicted = Evicted::default();
        while let Some(oldest) = self.segments.front() {
            if oldest.is_empty() {
                break;
            }
            let aged_out = policy.expired(oldest.retention_time(), now_ms);
            let too_big = policy.over_size(self.accounted_bytes, oldest.len_bytes() as u64);
            if !(aged_out || too_big) {
                break;
            }
            self.evict_front(&mut evicted);
        }
        evicted
    }

    fn oldest_segment_time(&self) -> Option<i64> {
        self.segments
            .front()
            .filter(|segment| !segment.is_empty())
            .map(Segment::retention_time)
    }

    fn evict_oldest(&mut self) -> Evicted {
        let mut evicted = Evicted::default();
        if self.segments.front().is_some_and(|s| !s.is_empty()) {
            self.evict_front(&mut evicted);
        }
        evicted
    }
}

impl Drop for MemoryLog {
    fn drop(&mut self) {
        self.budget.release(self.accounted_bytes);
    }
}

#[cfg(test)]
mod tests;
