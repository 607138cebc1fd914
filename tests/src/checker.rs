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
mod tests {
    use super::*;

    /// The partition of each key in the clean history.
    fn partition_of(key: &str) -> u32 {
        match key {
            "a" | "c" => 0,
            _ => 1,
        }
    }

    /// Appends a record to its key's partition: stored, and acknowledged unless `acked` is false.
    fn produce(history: &mut History, producer: u32, seq: u64, key: &str, acked: bool) {
        let partition = partition_of(key);
        let offset = history
            .stored
            .iter()
            .filter(|r| r.partition == partition)
            .count() as u64;
        let value = format!("p{producer}-s{seq}");
        history.stored.push(Stored {
            partition,
            offset,
            key: Some(key.to_string()),
            value: value.clone(),
        });
        if acked {
            history.acked.push(Acked {
                producer,
                seq,
                key: key.to_string(),
                value,
                partition,
                offset,
            });
        }
    }

    fn value_at(history: &History, partition: u32, offset: u64) -> String {
        history
            .stored
            .iter()
            .find(|r| (r.partition, r.offset) == (partition, offset))
            .map(|r| r.value.clone())
            .expect("a stored record there")
    }

    fn consume(history: &mut History, member: &str, generation: i64, partition: u32, offset: u64) {
        let value = value_at(history, partition, offset);
        let at = (history.consumed.len() + history.commits.len()) as u64;
        history.consumed.push(Consumed {
            at,
            member: member.to_string(),
            generation,
            partition,
            offset,
            value,
        });
    }

    fn own(history: &mut History, member: &str, generation: i64, partitions: &[u32]) {
        history.owned.push(Owned {
            member: member.to_string(),
            generation,
            partitions: partitions.to_vec(),
        });
    }

    fn commit(history: &mut History, partition: u32, offset: u64) {
        let at = (history.consumed.len() + history.commits.len()) as u64;
        history.commits.push(CommitSeen {
            at,
            partition,
            offset,
        });
    }

    /// Two producers, four keys on two partitions, one record whose acknowledgement was lost,
    /// and a group whose second generation re-reads one record of the first (allowed).
    ///
    /// Partition 0: p1-s0 (a), p2-s0 (c), p1-s2 (a), p2-s1 (c) (stored in another order than
    /// produced: the order across producers is free).
    /// Partition 1: p1-s1 (b), p2-s2 (d), p1-s3 (b), p3-s0 (e, not acknowledged).
    fn clean() -> History {
        let mut h = History::default();
        produce(&mut h, 1, 0, "a", true);
        produce(&mut h, 2, 0, "c", true);
        produce(&mut h, 1, 1, "b", true);
        produce(&mut h, 2, 1, "c", true);
        produce(&mut h, 1, 2, "a", true);
        produce(&mut h, 2, 2, "d", true);
        produce(&mut h, 1, 3, "b", true);
        produce(&mut h, 3, 0, "e", false);
        swap_stored(&mut h, (0, 2), (0, 3));
        h.log_starts = BTreeMap::from([(0, 0), (1, 0)]);

        own(&mut h, "m1", 1, &[0, 1]);
        consume(&mut h, "m1", 1, 0, 0);
        consume(&mut h, "m1", 1, 1, 0);
        consume(&mut h, "m1", 1, 0, 1);
        consume(&mut h, "m1", 1, 1, 1);
        commit(&mut h, 0, 2);
        commit(&mut h, 1, 1);
        own(&mut h, "m1", 2, &[0]);
        own(&mut h, "m2", 2, &[1]);
        consume(&mut h, "m1", 2, 0, 2);
        consume(&mut h, "m2", 2, 1, 1);
        consume(&mut h, "m1", 2, 0, 3);
        consume(&mut h, "m2", 2, 1, 2);
        consume(&mut h, "m2", 2, 1, 3);
        commit(&mut h, 0, 2);
        commit(&mut h, 1, 4);
        commit(&mut h, 0, 4);
        h
    }

    fn swap_stored(h: &mut History, x: (u32, u64), y: (u32, u64)) {
        let position = |h: &History, at: (u32, u64)| {
            h.stored
                .iter()
                .position(|r| (r.partition, r.offset) == at)
                .unwrap()
        };
        let (i, j) = (position(h, x), position(h, y));
        h.stored[i].offset = y.1;
        h.stored[j].offset = x.1;
        for acked in &mut h.acked {
            if acked.value == h.stored[i].value {
                acked.offset = y.1;
            } else if acked.value == h.stored[j].value {
                acked.offset = x.1;
            }
        }
    }

    fn remove_stored(h: &mut History, partition: u32, offset: u64) -> String {
        let i = h
            .stored
            .iter()
            .position(|r| (r.partition, r.offset) == (partition, offset))
            .unwrap();
        h.stored.remove(i).value
    }

    /// Checks `h` and asserts that `kind` is the only violation found.
    fn only(h: &History, kind: Kind) -> Report {
        let report = check(h);
        assert!(!report.ok(), "{kind:?} not found:\n{report}");
        assert_eq!(report.violations(), vec![kind], "\n{report}");
        assert!(!report.examples(kind).is_empty());
        let line = format!("{}: {}\n", kind.label(), report.count(kind));
        assert!(report.to_string().contains(&line), "{report}");
        report
    }

    #[test]
    fn a_clean_history_passes() {
        let h = clean();
        let report = check(&h);
        assert!(report.ok(), "\n{report}");
        assert!(report.violations().is_empty());
        assert_eq!((report.acked, report.stored, report.consumed), (7, 8, 9));
        assert_eq!(report.acked_evicted + report.consumed_evicted, 0);
        let text = report.to_string();
        assert!(text.contains("acknowledged records missing: 0\n"), "{text}");
        assert_eq!(text.lines().count(), 1 + Kind::ALL.len(), "{text}");
    }

    #[test]
    fn a_lost_acknowledged_record_is_missing() {
        let mut h = clean();
        // The end of partition 0 is gone, with the read of it.
        let lost = remove_stored(&mut h, 0, 3);
        h.consumed.retain(|r| r.value != lost);
        let report = only(&h, Kind::AckedMissing);
        assert_eq!(report.acked_missing, 1);
        assert!(report
            .to_string()
            .contains("acknowledged records missing: 1\n"));
        assert!(report.examples(Kind::AckedMissing)[0].contains(&lost));
    }

    #[test]
    fn records_below_the_log_start_may_be_evicted() {
        let mut h = clean();
        remove_stored(&mut h, 0, 0);
        remove_stored(&mut h, 0, 1);
        h.log_starts.insert(0, 2);
        let report = check(&h);
        assert!(report.ok(), "\n{report}");
        assert_eq!(report.acked_evicted, 2);
        assert_eq!(report.consumed_evicted, 2);
        // Without the log start, the same history loses acknowledged records.
        h.log_starts.insert(0, 0);
        let report = check(&h);
        assert_eq!(report.acked_missing, 2, "\n{report}");
        assert_eq!(report.consumed_unknown, 2, "\n{report}");
    }

    #[test]
    fn an_acknowledged_record_stored_elsewhere_moved() {
        let mut h = clean();
        // p1-s0 was acknowledged at 0/1, but is stored at 0/0.
        h.acked[0].offset = 1;
        let report = only(&h, Kind::AckedMoved);
        assert_eq!(report.acked_moved, 1);
    }

    #[test]
    fn a_record_appended_twice_is_stored_twice() {
        let mut h = clean();
        let duplicate = value_at(&h, 1, 0);
        h.stored.push(Stored {
            partition: 1,
            offset: 4,
            key: Some("b".into()),
            value: duplicate,
        });
        let report = only(&h, Kind::StoredTwice);
        assert_eq!(report.stored_twice, 1);
    }

    #[test]
    fn two_values_at_one_offset_conflict() {
        let mut h = clean();
        h.stored.push(Stored {
            partition: 0,
            offset: 3,
            key: Some("c".into()),
            value: "p9-s0".into(),
        });
        let report = only(&h, Kind::OffsetConflicts);
        assert_eq!(report.offset_conflicts, 1);

        // A consumer that read another value at an offset conflicts with the log too.
        let mut h = clean();
        h.consumed[0].value = "p9-s0".into();
        let report = check(&h);
        assert_eq!(report.offset_conflicts, 1, "\n{report}");
    }

    #[test]
    fn a_hole_in_a_log_is_a_gap() {
        let mut h = clean();
        h.stored.push(Stored {
            partition: 1,
            offset: 6,
            key: Some("e".into()),
            value: "p3-s1".into(),
        });
        let report = only(&h, Kind::StoredGaps);
        assert_eq!(report.stored_gaps, 2, "offsets 4 and 5");
    }

    #[test]
    fn reading_backwards_is_out_of_order() {
        let mut h = clean();
        // m1 reads partition 0 in generation 2 as 3, 2.
        let i = h
            .consumed
            .iter()
            .position(|r| r.generation == 2 && r.partition == 0)
            .unwrap();
        let j = h
            .consumed
            .iter()
            .rposition(|r| r.generation == 2 && r.partition == 0)
            .unwrap();
        h.consumed.swap(i, j);
        let report = only(&h, Kind::ReadOrder);
        assert_eq!(report.read_order, 1);
    }

    #[test]
    fn skipping_a_stored_record_is_out_of_order() {
        let mut h = clean();
        // m2 reads partition 1 in generation 2 as 1, 3: offset 2 exists.
        h.consumed
            .retain(|r| !(r.generation == 2 && r.partition == 1 && r.offset == 2));
        let report = only(&h, Kind::ReadOrder);
        assert_eq!(report.read_order, 1);

        // Skipping offsets that are not in the log is fine (other checks report their loss).
        remove_stored(&mut h, 1, 2);
        let report = check(&h);
        assert_eq!(report.read_order, 0, "\n{report}");
        assert_eq!(report.stored_gaps, 1, "\n{report}");
    }

    #[test]
    fn a_producer_out_of_order_on_a_key_breaks_key_order() {
        let mut h = clean();
        // Key "a": p1-s0 at 0/0 and p1-s2 at 0/2; make the later one the earlier seq.
        let first = h.acked.iter().position(|r| r.value == "p1-s0").unwrap();
        let second = h.acked.iter().position(|r| r.value == "p1-s2").unwrap();
        h.acked[first].seq = 2;
        h.acked[second].seq = 0;
        let report = only(&h, Kind::KeyOrder);
        assert_eq!(report.key_order, 1);
    }

    #[test]
    fn a_key_in_two_partitions_breaks_key_order() {
        let mut h = clean();
        // Key "a" also lands in partition 1, at its end.
        h.stored.push(Stored {
            partition: 1,
            offset: 4,
            key: Some("a".into()),
            value: "p1-s4".into(),
        });
        h.acked.push(Acked {
            producer: 1,
            seq: 4,
            key: "a".into(),
            value: "p1-s4".into(),
            partition: 1,
            offset: 4,
        });
        let report = only(&h, Kind::KeyOrder);
        assert_eq!(report.key_order, 1);
    }

    #[test]
    fn two_owners_of_a_partition_in_one_generation() {
        let mut h = clean();
        own(&mut h, "m2", 1, &[0]);
        let report = only(&h, Kind::DoubleOwners);
        assert_eq!(report.double_owners, 1);
    }

    #[test]
    fn a_commit_going_back_regresses() {
        let mut h = clean();
        commit(&mut h, 0, 1);
        let report = only(&h, Kind::CommitRegressions);
        assert_eq!(report.commit_regressions, 1);
    }

    #[test]
    fn a_committed_record_read_again() {
        let mut h = clean();
        // m2 is handed 0/1 again after the commit of offset 4 on partition 0 was acknowledged.
        consume(&mut h, "m2", 3, 0, 1);
        let report = only(&h, Kind::CommittedReadAgain);
        assert_eq!(report.committed_read_again, 1);
    }

    #[test]
    fn a_record_read_then_lost_is_unknown() {
        let mut h = clean();
        // The unacknowledged p3-s0 at 1/3 was read, then truncated away.
        remove_stored(&mut h, 1, 3);
        let report = only(&h, Kind::ConsumedUnknown);
        assert_eq!(report.consumed_unknown, 1);
    }

    #[test]
    fn a_record_read_at_another_offset_moved() {
        let mut h = clean();
        // m2 reads the value stored at 1/0 again, at 1/4 (past the end of the final log).
        let value = value_at(&h, 1, 0);
        h.consumed.push(Consumed {
            at: 100,
            member: "m2".into(),
            generation: 2,
            partition: 1,
            offset: 4,
            value,
        });
        let report = only(&h, Kind::ConsumedMoved);
        assert_eq!(report.consumed_moved, 1);
    }
}
