//! Retention: which whole segments a partition may drop, by age and by size, as Kafka's
//! `retention.ms` and `retention.bytes` do.

/// What a topic keeps. Zero in either field means no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionPolicy {
    /// A segment goes once its newest record is older than this.
    pub retention_ms: u64,
    /// The oldest segments go while the partition would still hold at least this many bytes
    /// without them.
    pub retention_bytes: u64,
}

impl RetentionPolicy {
    /// Whether a segment whose newest record has `max_timestamp` has aged out at `now_ms`.
    pub fn expired(&self, max_timestamp: i64, now_ms: i64) -> bool {
        self.retention_ms > 0
            && max_timestamp.saturating_add(i64::try_from(self.retention_ms).unwrap_or(i64::MAX))
                < now_ms
    }

    /// Whether dropping a segment of `segment_bytes` still leaves `total_bytes` at or above the limit.
    pub fn over_size(&self, total_bytes: u64, segment_bytes: u64) -> bool {
        self.retention_bytes > 0
            && total_bytes.saturating_sub(segment_bytes) >= self.retention_bytes
    }
}

/// What one retention pass removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Evicted {
    pub segments: u32,
    pub bytes: u64,
    pub records: u64,
}

impl std::ops::AddAssign for Evicted {
    fn add_assign(&mut self, other: Evicted) {
        self.segments += other.segments;
        self.bytes += other.bytes;
        self.records += other.records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_no_limit() {
        let keep_all = RetentionPolicy::default();
        assert!(!keep_all.expired(0, i64::MAX));
        assert!(!keep_all.over_size(u64::MAX, 1));
    }

    #[test]
    fn age_and_size_limits() {
        let policy = RetentionPolicy {
            retention_ms: 1000,
            retention_bytes: 100,
        };
        assert!(policy.expired(1000, 2001));
        assert!(!policy.expired(1000, 2000));
        assert!(policy.over_size(150, 50));
        assert!(!policy.over_size(149, 50));
    }
}
