//! The checker's own tests: a clean history passes, and for each kind of violation a history
//! breaking exactly that property is reported with exactly that count.

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
