//! Checks a benchmark's records: each sequence number from 0 to N-1 exactly once.

use anyhow::{bail, Result};

pub struct Tracker {
    seen: Vec<u64>,
    expected: u64,
    count: u64,
}

impl Tracker {
    pub fn new(expected: u64) -> Self {
        Tracker {
            seen: vec![0; expected.div_ceil(64) as usize],
            expected,
            count: 0,
        }
    }

    /// Marks a sequence number; a duplicate or one out of range is an error.
    pub fn mark(&mut self, seq: u64) -> Result<()> {
        if seq >= self.expected {
            bail!(
                "received record {seq}, which was never sent (expected 0..{})",
                self.expected
            );
        }
        let (word, bit) = ((seq / 64) as usize, seq % 64);
        if self.seen[word] & (1 << bit) != 0 {
            bail!("record {seq} was received twice");
        }
        self.seen[word] |= 1 << bit;
        self.count += 1;
        Ok(())
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Every record seen, or the first missing one as an error.
    pub fn check_complete(&self) -> Result<()> {
        if self.count == self.expected {
            return Ok(());
        }
        let missing = (0..self.expected)
            .find(|&seq| self.seen[(seq / 64) as usize] & (1 << (seq % 64)) == 0)
            .unwrap_or(self.expected);
        bail!(
            "{} of {} records received: record {missing} is missing",
            self.count,
            self.expected
        )
    }
}

/// The sequence number (bytes 0..8) and send time in ns since the run began (bytes 8..16) of a
/// benchmark record's value.
pub fn stamp(value: &[u8]) -> Option<(u64, u64)> {
    let seq = u64::from_le_bytes(value.get(..8)?.try_into().ok()?);
    let sent = u64::from_le_bytes(value.get(8..16)?.try_into().ok()?);
    Some((seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_and_duplicates_are_errors() {
        let mut tracker = Tracker::new(130);
        for seq in (0..130).filter(|&s| s != 70) {
            tracker.mark(seq).unwrap();
        }
        let missing = tracker.check_complete().unwrap_err().to_string();
        assert!(missing.contains("record 70 is missing"), "{missing}");
        assert!(tracker.mark(5).unwrap_err().to_string().contains("twice"));
        assert!(tracker.mark(130).is_err());
        tracker.mark(70).unwrap();
        tracker.check_complete().unwrap();
    }
}
