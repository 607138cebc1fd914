//! One segment: a contiguous run of whole batches in one buffer, with a sparse index from offsets to
//! byte positions (one entry per `index_interval_bytes`), as in Kafka's `.index` files.
//!
//! Records live only as encoded bytes inside the buffer: there is no heap object per record, so the
//! memory a record costs is its encoding plus a share of the index.

use super::{first_record_at_or_after, LogError, TimeLookup};
use mq_wire::batch::{BatchHeader, BatchIter};

/// One sparse-index entry: the first offset of a batch and where the batch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IndexEntry {
    /// Offset relative to the segment's base offset.
    relative_offset: u32,
    position: u32,
}

#[derive(Debug)]
pub struct Segment {
    base_offset: u64,
    next_offset: u64,
    data: Vec<u8>,
    index: Vec<IndexEntry>,
    bytes_since_index: usize,
    max_timestamp: i64,
    /// Wall-clock time of the last append, in ms.
    last_append_ms: i64,
    /// Whether a log rolled to this segment: it is busy from its first byte
    /// ([`super::prefault`]).
    rolled: bool,
    /// How far into the buffer pages were asked to be populated ahead of appends.
    populated_to: usize,
    /// The capacity reserved at creation (`log.segment_bytes`): nothing past it is populated,
    /// even when an oversized batch grew the buffer.
    reserved: usize,
}

/// Which bytes of a segment's buffer to populate ahead of its appends, `ahead` bytes ahead: none
/// unless the segment is busy (a log rolled to it, or it holds `ahead` bytes itself) and what
/// was populated ends less than half that distance past `len`; never past `capacity` (the
/// buffer's, and no more than was reserved for the segment).
fn populate_range(
    ahead: usize,
    rolled: bool,
    len: usize,
    capacity: usize,
    populated_to: usize,
) -> Option<(usize, usize)> {
    let busy = rolled || len >= ahead;
    if ahead == 0 || !busy || len + ahead / 2 < populated_to {
        return None;
    }
    let from = populated_to.max(len);
    let to = (len + ahead).min(capacity);
    (from < to).then_some((from, to))
}

impl Segment {
    /// An empty segment whose first record will get `base_offset`. `capacity` is reserved up front:
    /// untouched pages cost address space, not memory.
    pub fn new(base_offset: u64, capacity: usize) -> Self {
        Segment {
            base_offset,
            next_offset: base_offset,
            data: Vec::with_capacity(capacity),
            index: Vec::new(),
            bytes_since_index: 0,
            max_timestamp: i64::MIN,
            last_append_ms: i64::MIN,
            rolled: false,
            populated_to: 0,
            reserved: capacity,
        }
    }

    /// The segment a log rolls to: as the log filled one segment, it is likely to fill this one,
    /// so its first pages are populated ahead at once ([`super::prefault`]).
    pub fn rolled(base_offset: u64, capacity: usize) -> Self {
        let mut segment = Self::new(base_offset, capacity);
        segment.rolled = true;
        segment.populate_ahead();
        segment
    }

    /// Asks for pages ahead of the append position to be populated ([`populate_range`]).
    fn populate_ahead(&mut self) {
        let range = populate_range(
            super::prefault::ahead(),
            self.rolled,
            self.data.len(),
            self.data.capacity().min(self.reserved),
            self.populated_to,
        );
        if let Some((from, to)) = range {
            if super::prefault::request(self.data.as_ptr(), from, to) {
                self.populated_to = to;
            }
        }
    }

    pub fn base_offset(&self) -> u64 {
        self.base_offset
    }

    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    pub fn len_bytes(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    pub fn record_count(&self) -> u64 {
        self.next_offset - self.base_offset
    }

    /// Newest record timestamp, `i64::MIN` when empty.
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Whether `extra` more bytes would still fit in a segment of `segment_bytes`. An empty segment
    /// takes any batch, so an oversized batch gets a segment of its own.
    pub fn fits(&self, extra: usize, segment_bytes: usize) -> bool {
        self.data.is_empty() || self.data.len() + extra <= segment_bytes
    }

    /// Copies a batch whose base offset is already this segment's next offset.
    pub fn append(&mut self, batch: &[u8], header: &BatchHeader, index_interval_bytes: usize) {
        debug_assert_eq!(header.base_offset, self.next_offset);
        if self.index.is_empty() || self.bytes_since_index >= index_interval_bytes {
            self.index.push(IndexEntry {
                relative_offset: (header.base_offset - self.base_offset) as u32,
                position: self.data.len() as u32,
            });
            self.bytes_since_index = 0;
        }
        self.data.extend_from_slice(batch);
        self.populate_ahead();
        self.bytes_since_index += batch.len();
        self.next_offset = header.next_offset();
        self.max_timestamp = self.max_timestamp.max(header.max_timestamp);
        self.last_append_ms = crate::clock::now_ms();
    }

    /// The time retention ages the segment by: its newest record's timestamp, but never later
    /// than the segment's last append, so a record stamped in the future cannot pin it forever.
    pub fn retention_time(&self) -> i64 {
        self.max_timestamp.min(self.last_append_ms)
    }

    /// Gives back spare capacity once the segment is closed.
    pub fn seal(&mut self) {
        self.data.shrink_to_fit();
        self.index.shrink_to_fit();
        // What was populated past the end went with the spare capacity.
        self.populated_to = self.data.len();
        self.reserved = self.data.len();
    }

    /// Byte position of the batch that holds `offset`: the index gives the last entry at or before
    /// it, then batches are scanned forward from there.
    pub fn position_of(&self, offset: u64) -> Result<usize, LogError> {
        if offset < self.base_offset || offset >= self.next_offset {
            return Err(LogError::OffsetOutOfRange {
                requested: offset,
                log_start: self.base_offset,
                log_end: self.next_offset,
            });
        }
        let relative = (offset - self.base_offset) as u32;
        let entry = match self
            .index
            .partition_point(|e| e.relative_offset <= relative)
        {
            0 => 0,
            n => n - 1,
        };
        let mut position = self.index[entry].position as usize;
        for batch in BatchIter::new(&self.data[position..]) {
            let batch = batch?;
            if batch.header.next_offset() > offset {
                return Ok(position);
            }
            position += batch.as_bytes().len();
        }
        Err(LogError::Corrupt(format!(
            "offset {offset} is below the segment end {} but in no batch",
            self.next_offset
        )))
    }

    /// Appends to `out` whole batches from the one holding `from`, while `out` stays within
    /// `max_bytes` (a first batch always goes in when `out` is empty, so a reader always progresses).
    /// Returns the offset after the last batch copied.
    pub fn copy_from(
        &self,
        from: u64,
        max_bytes: usize,
        out: &mut Vec<u8>,
    ) -> Result<u64, LogError> {
        let start = self.position_of(from)?;
        let mut end = start;
        let mut next = from;
        for batch in BatchIter::new(&self.data[start..]) {
            let batch = batch?;
            let len = batch.as_bytes().len();
            let first_of_read = out.is_empty() && end == start;
            if !first_of_read && out.len() + (end - start) + len > max_bytes {
                break;
            }
            end += len;
            next = batch.header.next_offset();
        }
        out.extend_from_slice(&self.data[start..end]);
        Ok(next)
    }

    /// The first record at offset `from` or later whose timestamp is at or after `timestamp_ms`,
    /// scanning batches whose newest record is late enough (timestamps need not be monotonic,
    /// as in Kafka). `from` is the log start, which may fall inside a batch. A compressed batch
    /// that may hold it is not inflated here, where the caller holds the partition's lock: its
    /// stored bytes are handed back, to be searched outside the lock ([`super::find_by_time`]).
    pub fn time_lookup(&self, timestamp_ms: i64, from: u64) -> TimeLookup {
        if self.max_timestamp < timestamp_ms || self.next_offset <= from {
            return TimeLookup::NotFound;
        }
        for batch in BatchIter::new(&self.data) {
            let Ok(batch) = batch else {
                return TimeLookup::NotFound;
            };
            if batch.header.max_timestamp < timestamp_ms || batch.header.next_offset() <= from {
                continue;
            }
            if batch.header.compression() != 0 {
                return TimeLookup::Compressed {
                    stored: batch.as_bytes().to_vec(),
                    from,
                    resume_at: batch.header.next_offset(),
                };
            }
            if let Some((offset, timestamp)) = first_record_at_or_after(&batch, timestamp_ms, from)
            {
                return TimeLookup::Found { offset, timestamp };
            }
        }
        TimeLookup::NotFound
    }

    /// Cuts the segment back so that it ends before the batch holding `offset` (a follower
    /// dropping what its leader does not have): returns the bytes dropped. The new end is that
    /// batch's base offset, so it may be below `offset` when `offset` falls inside a batch.
    pub fn truncate_to(&mut self, offset: u64) -> Result<usize, LogError> {
        if offset >= self.next_offset {
            return Ok(0);
        }
        let (position, base) = if offset <= self.base_offset {
            (0, self.base_offset)
        } else {
            let position = self.position_of(offset)?;
            let header = mq_wire::batch::BatchHeader::read(&self.data[position..])?;
            (position, header.base_offset)
        };
        let dropped = self.data.len() - position;
        self.data.truncate(position);
        self.index
            .retain(|entry| (entry.position as usize) < position);
        self.bytes_since_index = self
            .index
            .last()
            .map_or(position, |entry| position - entry.position as usize);
        self.next_offset = base;
        self.max_timestamp = BatchIter::new(&self.data)
            .filter_map(Result::ok)
            .map(|batch| batch.header.max_timestamp)
            .max()
            .unwrap_or(i64::MIN);
        Ok(dropped)
    }

    /// Bytes of index entries, for memory accounting.
    pub fn index_bytes(&self) -> usize {
        self.index.len() * std::mem::size_of::<IndexEntry>()
    }
}

#[cfg(test)]
mod tests {
    use super::populate_range;

    const MIB: usize = 1 << 20;

    #[test]
    fn only_a_busy_segment_is_populated_ahead_in_steps_and_never_past_its_capacity() {
        let capacity = 8 * MIB;
        assert_eq!(populate_range(0, true, 0, capacity, 0), None, "turned off");
        assert_eq!(
            populate_range(2 * MIB, false, 100, capacity, 0),
            None,
            "a new partition's few records"
        );
        assert_eq!(
            populate_range(2 * MIB, false, 2 * MIB, capacity, 0),
            Some((2 * MIB, 4 * MIB)),
            "a first segment that took `ahead` bytes is busy"
        );
        assert_eq!(
            populate_range(2 * MIB, true, 0, capacity, 0),
            Some((0, 2 * MIB)),
            "a rolled segment, at once"
        );
        assert_eq!(
            populate_range(2 * MIB, true, MIB / 2, capacity, 2 * MIB),
            None,
            "still more than half the distance populated"
        );
        assert_eq!(
            populate_range(2 * MIB, true, MIB + 1, capacity, 2 * MIB),
            Some((2 * MIB, 3 * MIB + 1)),
            "less than half: the next step, from where the last ended"
        );
        assert_eq!(
            populate_range(2 * MIB, true, 7 * MIB, capacity, 8 * MIB),
            None,
            "populated to the end"
        );
        assert_eq!(
            populate_range(2 * MIB, true, 7 * MIB, capacity, 7 * MIB),
            Some((7 * MIB, capacity)),
            "never past the capacity"
        );
    }
}
