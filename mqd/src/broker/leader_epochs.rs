//! The leader epoch cache of one partition replica: at which offset each leader epoch began, as
//! Kafka's `leader-epoch-checkpoint` (KIP-101). A follower that may have diverged asks its leader
//! where its own last epoch ended there, and truncates to that point: records written by a deposed
//! leader that the new one never had are dropped, records both have are kept.

/// `(epoch, start offset)` pairs, both strictly rising.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeaderEpochs {
    entries: Vec<(u32, u64)>,
}

impl LeaderEpochs {
    /// Records that `epoch` begins at `start_offset`; an epoch already known (or older) changes
    /// nothing.
    pub fn assign(&mut self, epoch: u32, start_offset: u64) {
        match self.entries.last() {
            Some(&(last, _)) if last >= epoch => {}
            _ => {
                // A start below an earlier one can only follow a truncation the caller missed.
                self.entries.retain(|&(_, start)| start < start_offset);
                self.entries.push((epoch, start_offset));
            }
        }
    }

    /// The newest epoch this replica holds records of.
    pub fn last_epoch(&self) -> Option<u32> {
        self.entries.last().map(|&(epoch, _)| epoch)
    }

    /// Where `epoch` began, when it is the newest epoch here.
    pub fn start_of_newest(&self, epoch: u32) -> Option<u64> {
        match self.entries.last() {
            Some(&(newest, start)) if newest == epoch => Some(start),
            _ => None,
        }
    }

    /// Kafka's OffsetForLeaderEpoch: the largest epoch at or below `epoch` and the offset where it
    /// ended (the start of the next epoch, or `log_end` for the newest). `None` when every epoch
    /// here is newer than `epoch`.
    pub fn end_offset_for(&self, epoch: u32, log_end: u64) -> Option<(u32, u64)> {
        let after = self.entries.partition_point(|&(e, _)| e <= epoch);
        let (found, _) = *self.entries.get(after.checked_sub(1)?)?;
        let end = self.entries.get(after).map_or(log_end, |&(_, start)| start);
        Some((found, end))
    }

    /// [`LeaderEpochs::end_offset_for`] as Kafka answers a consumer (KIP-320): an epoch older than
    /// every one held (its records are gone) ends where the oldest held began, so that the
    /// consumer does not take the missing history for a truncation. Followers keep `None` there:
    /// to them it means nothing is shared.
    pub fn consumer_end_offset_for(&self, epoch: u32, log_end: u64) -> Option<(u32, u64)> {
        self.end_offset_for(epoch, log_end)
            .or_else(|| self.entries.first().map(|&(_, start)| (epoch, start)))
    }

    /// Forgets epochs that began at or after `log_end` (the log was truncated there).
    pub fn truncate_to(&mut self, log_end: u64) {
        self.entries.retain(|&(_, start)| start < log_end);
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_where_an_epoch_ended_as_kip_101_does() {
        let mut epochs = LeaderEpochs::default();
        epochs.assign(0, 0);
        epochs.assign(0, 50);
        epochs.assign(2, 100);
        epochs.assign(5, 180);
        assert_eq!(epochs.end_offset_for(0, 200), Some((0, 100)));
        assert_eq!(
            epochs.end_offset_for(1, 200),
            Some((0, 100)),
            "1 never led: 0 is the one before"
        );
        assert_eq!(epochs.end_offset_for(3, 200), Some((2, 180)));
        assert_eq!(
            epochs.end_offset_for(5, 200),
            Some((5, 200)),
            "the newest ends at the log end"
        );
        assert_eq!(epochs.end_offset_for(9, 200), Some((5, 200)));
        let mut late = LeaderEpochs::default();
        late.assign(4, 1_000);
        assert_eq!(late.end_offset_for(3, 1_200), None);
        assert_eq!(late.consumer_end_offset_for(3, 1_200), Some((3, 1_000)));
        assert_eq!(late.consumer_end_offset_for(4, 1_200), Some((4, 1_200)));
        assert_eq!(LeaderEpochs::default().consumer_end_offset_for(3, 0), None);
    }

    #[test]
    fn truncation_forgets_the_epochs_it_cut_off() {
        let mut epochs = LeaderEpochs::default();
        epochs.assign(1, 0);
        epochs.assign(2, 100);
        epochs.truncate_to(100);
        assert_eq!(epochs.last_epoch(), Some(1));
        epochs.assign(3, 100);
        assert_eq!(epochs.end_offset_for(2, 150), Some((1, 100)));
    }
}
