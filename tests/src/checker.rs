//! The history checker of the fault-injection tests: given what the producers saw acknowledged,
//! what the logs hold at the end, what the group members consumed, which partitions they owned
//! and which offsets the group committed, [`check`] counts every violation of the broker's
//! guarantees, with a few examples of each, so that a test can assert [`Report::ok`] and print
//! the [`Report`] when it fails. Pure code, no I/O.
//!
//! What is checked, and why:
//!
//! - **Durability** (`acks=all`): every acknowledged record is in the final log, at the
//!   partition and offset its acknowledgement named (`acked_missing`, `acked_moved`). Records
//!   below a partition's log start may have been removed by retention: they are counted apart
//!   (`acked_evicted`) and are not a violation.
//! - **One log per partition**: a record is stored once (`stored_twice`, e.g. a retried produce
//!   appended twice), an offset holds one record for everyone who reads it, in the final log and
//!   in what consumers got (`offset_conflicts`, e.g. two leaders that both appended), and the
//!   offsets of a partition are dense (`stored_gaps`, e.g. a truncation that lost the middle of
//!   a log).
//! - **Reads follow the log**: within one generation, a member reads each of its partitions in
//!   strictly increasing offsets without skipping a record that exists (`read_order`); what it
//!   read is still in the log where it read it (`consumed_unknown`: a record read and later lost,
//!   for example an uncommitted write read from a leader that was then truncated;
//!   `consumed_moved`). Records below the log start were evicted after the read
//!   (`consumed_evicted`, not a violation).
//! - **Key order**: the records of one key go to one partition, and one producer's records of a
//!   key are in the order it produced them (`key_order`).
//! - **Group semantics**: a partition has one owner per generation (`double_owners`), nothing
//!   committed is read again (`committed_read_again`: a fetch sent after a commit of the
//!   partition was acknowledged returned a record below it; re-reading what was read but not
//!   committed is at-least-once delivery and allowed), and acknowledged commits never go back
//!   (`commit_regressions`).
//!
//! Values are unique per produced record (`p3-s1234`); keys are shared among records.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// A record a producer saw acknowledged (`acks=all`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acked {
    pub producer: u32,
    pub seq: u64,
    pub key: String,
    pub value: String,
    pub partition: u32,
    pub offset: u64,
}

/// A record of the final read of a partition's log (from log start to high watermark).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub partition: u32,
    pub offset: u64,
    pub key: Option<String>,
    pub value: String,
}

/// A record a group member handed to the application, in the order it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Consumed {
    /// When the fetch that returned it was sent, on the clock `CommitSeen::at` uses.
    pub at: u64,
    pub member: String,
    pub generation: i64,
    pub partition: u32,
    pub offset: u64,
    pub value: String,
}

/// An assignment a member got.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub member: String,
    pub generation: i64,
    pub partitions: Vec<u32>,
}

/// A commit of the group a member saw acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommitSeen {
    /// When the acknowledgement arrived, on the clock `Consumed::at` uses.
    pub at: u64,
    pub partition: u32,
    pub offset: u64,
}

/// Everything a test observed.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub acked: Vec<Acked>,
    pub stored: Vec<Stored>,
    /// In the order each member consumed (the members' lists concatenated is fine).
    pub consumed: Vec<Consumed>,
    pub owned: Vec<Owned>,
    /// In poll order.
    pub commits: Vec<CommitSeen>,
    /// The log start offset of each partition at the final read (absent: 0).
    pub log_starts: BTreeMap<u32, u64>,
}

/// One kind of finding of [`check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    AckedMissing,
    AckedEvicted,
    AckedMoved,
    StoredTwice,
    OffsetConflicts,
    StoredGaps,
    ReadOrder,
    KeyOrder,
    DoubleOwners,
    CommitRegressions,
    CommittedReadAgain,
    ConsumedUnknown,
    ConsumedMoved,
    ConsumedEvicted,
}

impl Kind {
    pub const ALL: [Kind; 14] = [
        Kind::AckedMissing,
        Kind::AckedEvicted,
        Kind::AckedMoved,
        Kind::StoredTwice,
        Kind::OffsetConflicts,
        Kind::StoredGaps,
        Kind::ReadOrder,
        Kind::KeyOrder,
        Kind::DoubleOwners,
        Kind::CommitRegressions,
        Kind::CommittedReadAgain,
        Kind::ConsumedUnknown,
        Kind::ConsumedMoved,
        Kind::ConsumedEvicted,
    ];

    /// Whether a finding of this kind breaks a guarantee (the evicted counts are information).
    pub fn is_violation(self) -> bool {
        !matches!(self, Kind::AckedEvicted | Kind::ConsumedEvicted)
    }

    /// The line [`Report`]'s `Display` prints before the count.
    pub fn label(self) -> &'static str {
        match self {
            Kind::AckedMissing => "acknowledged records missing",
            Kind::AckedEvicted => "acknowledged records evicted by retention (allowed)",
            Kind::AckedMoved => "acknowledged records stored elsewhere",
            Kind::StoredTwice => "records stored twice",
            Kind::OffsetConflicts => "offsets holding two values",
            Kind::StoredGaps => "offsets missing inside stored logs",
            Kind::ReadOrder => "reads out of order or skipping records",
            Kind::KeyOrder => "key order violations",
            Kind::DoubleOwners => "partitions with two owners in one generation",
            Kind::CommitRegressions => "committed offsets going back",
            Kind::CommittedReadAgain => "committed records read again",
            Kind::ConsumedUnknown => "consumed records not in the log",
            Kind::ConsumedMoved => "consumed records stored elsewhere",
            Kind::ConsumedEvicted => "consumed records evicted by retention (allowed)",
        }
    }
}

/// How many examples of each kind a [`Report`] keeps.
const EXAMPLES: usize = 5;

/// What [`check`] found: a count per kind and up to five examples of each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Sizes of the history, for context.
    pub acked: usize,
    pub stored: usize,
    pub consumed: usize,
    /// Acknowledged values not in the final log (and not below the log start).
    pub acked_missing: usize,
    /// Acknowledged values below the log start, gone from the final log: allowed.
    pub acked_evicted: usize,
    /// Acknowledged values stored, but not at the acknowledged (partition, offset).
    pub acked_moved: usize,
    /// Values stored at more than one (partition, offset).
    pub stored_twice: usize,
    /// (partition, offset)s with two different values across stored and consumed records.
    pub offset_conflicts: usize,
    /// Offsets missing between the first and last stored offset of a partition.
    pub stored_gaps: usize,
    /// Consecutive reads of one (member, generation, partition) not increasing, or skipping
    /// stored offsets.
    pub read_order: usize,
    /// A producer's records of a key out of seq order, or keys found in two partitions.
    pub key_order: usize,
    /// (generation, partition)s owned by two members.
    pub double_owners: usize,
    /// Commits lower than an earlier commit of the partition.
    pub commit_regressions: usize,
    /// Values consumed more than once within one generation.
    pub committed_read_again: usize,
    /// Consumed values not in the final log (and not below the log start).
    pub consumed_unknown: usize,
    /// Consumed values stored, but not where they were read.
    pub consumed_moved: usize,
    /// Consumed values below the log start, gone from the final log: allowed.
    pub consumed_evicted: usize,
    /// Up to five examples of each kind found.
    pub examples: BTreeMap<Kind, Vec<String>>,
}

impl Report {
    /// No violation (evictions allowed).
    pub fn ok(&self) -> bool {
        Kind::ALL
            .iter()
            .all(|&kind| !kind.is_violation() || self.count(kind) == 0)
    }

    /// The kinds of violation found.
    pub fn violations(&self) -> Vec<Kind> {
        Kind::ALL
            .into_iter()
            .filter(|&kind| kind.is_violation() && self.count(kind) > 0)
            .collect()
    }

    pub fn count(&self, kind: Kind) -> usize {
        match kind {
            Kind::AckedMissing => self.acked_missing,
            Kind::AckedEvicted => self.acked_evicted,
            Kind::AckedMoved => self.acked_moved,
            Kind::StoredTwice => self.stored_twice,
            Kind::OffsetConflicts => self.offset_conflicts,
            Kind::StoredGaps => self.stored_gaps,
            Kind::ReadOrder => self.read_order,
            Kind::KeyOrder => self.key_order,
            Kind::DoubleOwners => self.double_owners,
            Kind::CommitRegressions => self.commit_regressions,
            Kind::CommittedReadAgain => self.committed_read_again,
            Kind::ConsumedUnknown => self.consumed_unknown,
            Kind::ConsumedMoved => self.consumed_moved,
            Kind::ConsumedEvicted => self.consumed_evicted,
        }
    }

    /// The examples kept for `kind`.
    pub fn examples(&self, kind: Kind) -> &[String] {
        self.examples.get(&kind).map_or(&[], Vec::as_slice)
    }

    fn count_mut(&mut self, kind: Kind) -> &mut usize {
        match kind {
            Kind::AckedMissing => &mut self.acked_missing,
            Kind::AckedEvicted => &mut self.acked_evicted,
            Kind::AckedMoved => &mut self.acked_moved,
            Kind::StoredTwice => &mut self.stored_twice,
            Kind::OffsetConflicts => &mut self.offset_conflicts,
            Kind::StoredGaps => &mut self.stored_gaps,
            Kind::ReadOrder => &mut self.read_order,
            Kind::KeyOrder => &mut self.key_order,
            Kind::DoubleOwners => &mut self.double_owners,
            Kind::CommitRegressions => &mut self.commit_regressions,
            Kind::CommittedReadAgain => &mut self.committed_read_again,
            Kind::ConsumedUnknown => &mut self.consumed_unknown,
            Kind::ConsumedMoved => &mut self.consumed_moved,
            Kind::ConsumedEvicted => &mut self.consumed_evicted,
        }
    }

    /// Counts `n` findings of `kind`, keeping the example (built only while fewer than five are
    /// kept).
    fn found(&mut self, kind: Kind, n: usize, example: impl FnOnce() -> String) {
        *self.count_mut(kind) += n;
        let examples = self.examples.entry(kind).or_default();
        if examples.len() < EXAMPLES {
            examples.push(example());
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "history: {} acknowledged, {} stored, {} consumed",
            self.acked, self.stored, self.consumed
        )?;
        for kind in Kind::ALL {
            writeln!(f, "{}: {}", kind.label(), self.count(kind))?;
            for example in self.examples(kind) {
                writeln!(f, "    e.g. {example}")?;
            }
        }
        Ok(())
    }
}

/// Checks a history, see the module documentation.
pub fn check(history: &History) -> Report {
    let mut report = Report {
        acked: history.acked.len(),
        stored: history.stored.len(),
        consumed: history.consumed.len(),
        ..Report::default()
    };
    let log_start = |partition: u32| history.log_starts.get(&partition).copied().unwrap_or(0);

    // Where each value is stored, and the stored offsets of each partition.
    let mut stored_at: BTreeMap<&str, BTreeSet<(u32, u64)>> = BTreeMap::new();
    let mut offsets: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    for record in &history.stored {
        stored_at
            .entry(&record.value)
            .or_default()
            .insert((record.partition, record.offset));
        offsets
            .entry(record.partition)
            .or_default()
            .insert(record.offset);
    }

    // Durability of acknowledged records.
    for acked in &history.acked {
        let at = (acked.partition, acked.offset);
        match stored_at.get(acked.value.as_str()) {
            None if acked.offset < log_start(acked.partition) => {
                report.found(Kind::AckedEvicted, 1, || describe_acked(acked))
            }
            None => report.found(Kind::AckedMissing, 1, || describe_acked(acked)),
            Some(places) if !places.contains(&at) => report.found(Kind::AckedMoved, 1, || {
                format!(
                    "{} stored at {}",
                    describe_acked(acked),
                    places_text(places)
                )
            }),
            Some(_) => {}
        }
    }

    // One place per value, one value per place, dense offsets.
    for (value, places) in &stored_at {
        if places.len() > 1 {
            report.found(Kind::StoredTwice, 1, || {
                format!("{value:?} stored at {}", places_text(places))
            });
        }
    }
    let mut values_at: BTreeMap<(u32, u64), BTreeSet<&str>> = BTreeMap::new();
    let seen = history
        .stored
        .iter()
        .map(|r| (r.partition, r.offset, r.value.as_str()))
        .chain(
            history
                .consumed
                .iter()
                .map(|r| (r.partition, r.offset, r.value.as_str())),
        );
    for (partition, offset, value) in seen {
        values_at
            .entry((partition, offset))
            .or_default()
            .insert(value);
    }
    for ((partition, offset), values) in &values_at {
        if values.len() > 1 {
            report.found(Kind::OffsetConflicts, 1, || {
                format!("partition {partition} offset {offset} holds {values:?}")
            });
        }
    }
    for (partition, offsets) in &offsets {
        let mut previous: Option<u64> = None;
        for &offset in offsets {
            if let Some(previous) = previous.filter(|&p| offset > p + 1) {
                report.found(Kind::StoredGaps, (offset - previous - 1) as usize, || {
                    format!(
                        "partition {partition}: offsets {}..={} missing",
                        previous + 1,
                        offset - 1
                    )
                });
            }
            previous = Some(offset);
        }
    }

    // Reads follow the log.
    let mut last_read: BTreeMap<(&str, i64, u32), u64> = BTreeMap::new();
    for read in &history.consumed {
        let stream = (read.member.as_str(), read.generation, read.partition);
        if let Some(&previous) = last_read.get(&stream) {
            let skipped = || {
                offsets
                    .get(&read.partition)
                    .and_then(|stored| stored.range(previous + 1..read.offset).next())
                    .is_some()
            };
            if read.offset <= previous || skipped() {
                report.found(Kind::ReadOrder, 1, || {
                    format!(
                        "{} in generation {} read partition {} offset {} after {}",
                        read.member, read.generation, read.partition, read.offset, previous
                    )
                });
            }
        }
        last_read.insert(stream, read.offset);

        match stored_at.get(read.value.as_str()) {
            None if read.offset < log_start(read.partition) => {
                report.found(Kind::ConsumedEvicted, 1, || describe_consumed(read))
            }
            None => report.found(Kind::ConsumedUnknown, 1, || describe_consumed(read)),
            Some(places) if !places.contains(&(read.partition, read.offset)) => {
                report.found(Kind::ConsumedMoved, 1, || {
                    format!(
                        "{} stored at {}",
                        describe_consumed(read),
                        places_text(places)
                    )
                })
            }
            Some(_) => {}
        }
    }

    // Key order: one partition per key (acknowledged and stored records), and each producer's
    // records of a key in seq order along the log.
    let mut key_partitions: BTreeMap<&str, BTreeSet<u32>> = BTreeMap::new();
    let mut by_key: BTreeMap<&str, Vec<&Acked>> = BTreeMap::new();
    for acked in &history.acked {
        key_partitions
            .entry(&acked.key)
            .or_default()
            .insert(acked.partition);
        by_key.entry(&acked.key).or_default().push(acked);
    }
    for stored in &history.stored {
        if let Some(key) = &stored.key {
            key_partitions
                .entry(key)
                .or_default()
                .insert(stored.partition);
        }
    }
    for (key, partitions) in &key_partitions {
        if partitions.len() > 1 {
            report.found(Kind::KeyOrder, 1, || {
                format!("key {key:?} in partitions {partitions:?}")
            });
        }
    }
    for (key, records) in &mut by_key {
        records.sort_by_key(|r| (r.partition, r.offset));
        let mut highest: BTreeMap<u32, &Acked> = BTreeMap::new();
        for &record in records.iter() {
            match highest.get(&record.producer) {
                Some(before) if record.seq < before.seq => {
                    report.found(Kind::KeyOrder, 1, || {
                        format!(
                            "key {key:?}: producer {} seq {} at partition {} offset {} after seq {} at offset {}",
                            record.producer, record.seq, record.partition, record.offset,
                            before.seq, before.offset
                        )
                    });
                }
                _ => {
                    highest.insert(record.producer, record);
                }
            }
        }
    }

    // Group semantics.
    let mut owners: BTreeMap<(i64, u32), BTreeSet<&str>> = BTreeMap::new();
    for owned in &history.owned {
        for &partition in &owned.partitions {
            owners
                .entry((owned.generation, partition))
                .or_default()
                .insert(&owned.member);
        }
    }
    for ((generation, partition), members) in &owners {
        if members.len() > 1 {
            report.found(Kind::DoubleOwners, 1, || {
                format!("generation {generation} partition {partition} owned by {members:?}")
            });
        }
    }

    let mut highest_commit: BTreeMap<u32, u64> = BTreeMap::new();
    for commit in &history.commits {
        let highest = highest_commit.entry(commit.partition).or_insert(0);
        if commit.offset < *highest {
            let before = *highest;
            report.found(Kind::CommitRegressions, 1, || {
                format!(
                    "partition {} committed {} after {}",
                    commit.partition, commit.offset, before
                )
            });
        } else {
            *highest = commit.offset;
        }
    }

    // Per partition, the acknowledged commits in time order with the highest offset so far.
    let mut acknowledged: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
    let mut commits: Vec<&CommitSeen> = history.commits.iter().collect();
    commits.sort_by_key(|c| c.at);
    for commit in commits {
        let line = acknowledged.entry(commit.partition).or_default();
        let highest = line.last().map_or(0, |&(_, o)| o).max(commit.offset);
        line.push((commit.at, highest));
    }
    for read in &history.consumed {
        let Some(line) = acknowledged.get(&read.partition) else {
            continue;
        };
        let before = line.partition_point(|&(at, _)| at < read.at);
        let Some(&(_, committed)) = before.checked_sub(1).and_then(|i| line.get(i)) else {
            continue;
        };
        if read.offset < committed {
            report.found(Kind::CommittedReadAgain, 1, || {
                format!(
                    "{:?} read by {} in generation {} at {}/{}, after offset {} of the partition was committed",
                    read.value, read.member, read.generation, read.partition, read.offset, committed
                )
            });
        }
    }

    report
}

fn describe_acked(acked: &Acked) -> String {
    format!(
        "{:?} (producer {} seq {} key {:?}) acknowledged at partition {} offset {}",
        acked.value, acked.producer, acked.seq, acked.key, acked.partition, acked.offset
    )
}

fn describe_consumed(read: &Consumed) -> String {
    format!(
        "{:?} read by {} in generation {} at partition {} offset {}",
        read.value, read.member, read.generation, read.partition, read.offset
    )
}

fn places_text(places: &BTreeSet<(u32, u64)>) -> String {
    let places: Vec<String> = places
        .iter()
        .map(|(partition, offset)| format!("{partition}/{offset}"))
        .collect();
    places.join(", ")
}

#[cfg(test)]
mod tests;
