//! Segment and index lookups, reads across segments, retention and memory accounting of
//! [`MemoryLog`].

use super::*;
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput};
use proptest::prelude::*;
use uuid::Uuid;

fn settings(segment_bytes: usize, index_interval_bytes: usize) -> LogSettings {
    LogSettings {
        segment_bytes,
        index_interval_bytes,
    }
}

fn batch(first_value: u64, count: u64, timestamp: i64, value_len: usize) -> Vec<u8> {
    let mut builder = BatchBuilder::default();
    for i in 0..count {
        let mut value = format!("{:08}", first_value + i).into_bytes();
        value.resize(value_len.max(8), b'.');
        builder.push(&RecordInput {
            id: Uuid::from_u128(u128::from(first_value + i)),
            timestamp,
            key: None,
            value: Some(&value),
            headers: &[],
        });
    }
    builder.finish()
}

fn append(log: &mut MemoryLog, budget: &Arc<MemoryBudget>, mut bytes: Vec<u8>) -> u64 {
    let mut reservation = budget.try_reserve(bytes.len() as u64).unwrap();
    log.append(&mut bytes, 3, &mut reservation).unwrap()
}

/// Every record offset and value number in the batches of a read, from `from` on.
fn records_of(read: &ReadBatches, from: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for batch in BatchIter::new(&read.bytes) {
        let batch = batch.unwrap();
        assert_eq!(batch.header.leader_epoch, 3);
        for record in batch.records() {
            let record = record.unwrap();
            if record.offset >= from {
                let number = std::str::from_utf8(&record.value[..8])
                    .unwrap()
                    .parse()
                    .unwrap();
                out.push((record.offset, number));
            }
        }
    }
    out
}

#[test]
fn appends_get_consecutive_offsets_and_roll_segments() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(4096, 512), Arc::clone(&budget));
    let mut expected_base = 0;
    for i in 0..100 {
        let base = append(&mut log, &budget, batch(i * 10, 10, 1_000, 40));
        assert_eq!(base, expected_base);
        expected_base += 10;
    }
    assert_eq!(log.log_start(), 0);
    assert_eq!(log.log_end(), 1000);
    assert!(log.segment_count() > 5, "segments: {}", log.segment_count());
    assert_eq!(budget.used(), log.size_bytes());
    let read = log.read(0, usize::MAX).unwrap();
    let records = records_of(&read, 0);
    assert_eq!(records.len(), 1000);
    assert!(records
        .iter()
        .enumerate()
        .all(|(i, &(offset, n))| offset == i as u64 && n == i as u64));
}

#[test]
fn reading_from_the_middle_of_a_batch_starts_at_that_batch() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 100), Arc::clone(&budget));
    for i in 0..50 {
        append(&mut log, &budget, batch(i * 7, 7, 1_000, 20));
    }
    for from in [0, 1, 6, 7, 8, 123, 349] {
        let read = log.read(from, 1).unwrap();
        let first = BatchIter::new(&read.bytes).next().unwrap().unwrap();
        assert!(first.header.base_offset <= from && from < first.header.next_offset());
        assert_eq!(
            BatchIter::new(&read.bytes).count(),
            1,
            "max_bytes 1 still gives one batch"
        );
        assert_eq!(records_of(&read, from)[0], (from, from));
    }
}

#[test]
fn max_bytes_bounds_a_read_to_whole_batches() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(1 << 20, 4096), Arc::clone(&budget));
    let one = batch(0, 10, 1, 50);
    let len = one.len();
    for i in 0..10 {
        append(&mut log, &budget, batch(i * 10, 10, 1, 50));
    }
    let read = log.read(0, len * 3 + len / 2).unwrap();
    assert_eq!(read.bytes.len(), len * 3);
}

#[test]
fn out_of_range_reads_are_errors_and_the_end_is_empty() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(4096, 512), Arc::clone(&budget));
    append(&mut log, &budget, batch(0, 5, 1, 10));
    assert!(log.read(5, 100).unwrap().bytes.is_empty());
    assert!(matches!(
        log.read(6, 100),
        Err(LogError::OffsetOutOfRange {
            requested: 6,
            log_start: 0,
            log_end: 5
        })
    ));
}

#[test]
fn retention_by_size_evicts_whole_old_segments_and_releases_memory() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 512), Arc::clone(&budget));
    for i in 0..100 {
        append(&mut log, &budget, batch(i * 4, 4, 1, 64));
    }
    let before = log.size_bytes();
    let policy = RetentionPolicy {
        retention_ms: 0,
        retention_bytes: 8 * 1024,
    };
    let evicted = log.enforce_retention(policy, 10);
    assert!(evicted.segments > 0);
    assert_eq!(log.size_bytes(), before - evicted.bytes);
    assert!(log.size_bytes() >= 8 * 1024 && log.size_bytes() < 8 * 1024 + 2048 + 512);
    assert_eq!(log.log_start(), evicted.records);
    assert_eq!(budget.used(), log.size_bytes());
    assert!(matches!(
        log.read(0, 10),
        Err(LogError::OffsetOutOfRange { .. })
    ));
    assert_eq!(
        records_of(&log.read(log.log_start(), usize::MAX).unwrap(), 0).len() as u64,
        400 - evicted.records
    );
}

#[test]
fn retention_by_age_can_empty_the_log_but_keeps_offsets() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 512), Arc::clone(&budget));
    for i in 0..20 {
        append(&mut log, &budget, batch(i * 4, 4, 1_000 + i as i64, 64));
    }
    let policy = RetentionPolicy {
        retention_ms: 100,
        retention_bytes: 0,
    };
    assert_eq!(log.enforce_retention(policy, 1_100).segments, 0);
    let evicted = log.enforce_retention(policy, 10_000);
    assert_eq!(evicted.records, 80);
    assert_eq!((log.log_start(), log.log_end()), (80, 80));
    assert_eq!(budget.used(), 0);
    assert_eq!(append(&mut log, &budget, batch(80, 1, 10_000, 8)), 80);
}

#[test]
fn offsets_are_found_by_timestamp() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 256), Arc::clone(&budget));
    for i in 0..40 {
        append(
            &mut log,
            &budget,
            batch(i * 5, 5, 1_000 * (i as i64 + 1), 30),
        );
    }
    assert_eq!(by_time(&log, 0), Some((0, 1_000)));
    assert_eq!(by_time(&log, 2_500), Some((10, 3_000)));
    assert_eq!(by_time(&log, 40_000), Some((195, 40_000)));
    assert_eq!(by_time(&log, 40_001), None);
}

#[test]
fn dropping_a_log_returns_its_memory() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 256), Arc::clone(&budget));
    append(&mut log, &budget, batch(0, 10, 1, 100));
    assert!(budget.used() > 0);
    drop(log);
    assert_eq!(budget.used(), 0);
}

proptest! {
    /// Reading from any offset with any byte bound, again and again from the next offset, yields
    /// every record from there to the end exactly once and in order.
    #[test]
    fn chained_reads_see_every_record_once(
        batch_sizes in proptest::collection::vec(1u64..30, 1..60),
        segment_bytes in 512usize..8192,
        index_interval in 1usize..2048,
        max_bytes in 1usize..6000,
        start_pick in any::<u64>(),
    ) {
        let budget = MemoryBudget::new(1 << 30);
        let mut log = MemoryLog::new(settings(segment_bytes, index_interval), Arc::clone(&budget));
        let mut total = 0;
        for count in batch_sizes {
            append(&mut log, &budget, batch(total, count, 5, 16));
            total += count;
        }
        let mut next = start_pick % (total + 1);
        let first = next;
        let mut seen = Vec::new();
        while next < total {
            let read = log.read(next, max_bytes).unwrap();
            let records = records_of(&read, next);
            prop_assert!(!records.is_empty());
            next = records.last().unwrap().0 + 1;
            seen.extend(records);
        }
        let expected: Vec<(u64, u64)> = (first..total).map(|o| (o, o)).collect();
        prop_assert_eq!(seen, expected);
    }
}

#[test]
fn a_record_stamped_in_the_future_cannot_pin_retention() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(1024, 256), Arc::clone(&budget));
    append(&mut log, &budget, batch(0, 4, i64::MAX / 2, 300));
    append(&mut log, &budget, batch(4, 4, 1, 300));
    let policy = RetentionPolicy {
        retention_ms: 1000,
        retention_bytes: 0,
    };
    let later = crate::clock::now_ms() + 10_000;
    assert_eq!(
        log.enforce_retention(policy, later).records,
        8,
        "aged by append time, not the claimed one"
    );
}

#[test]
fn a_follower_copies_batches_as_they_are_and_refuses_a_gap() {
    let budget = MemoryBudget::new(1 << 30);
    let mut leader = MemoryLog::new(settings(4096, 512), Arc::clone(&budget));
    for i in 0..3 {
        append(&mut leader, &budget, batch(i * 10, 10, 1_000, 100));
    }
    let copied = leader.read(0, usize::MAX).unwrap();
    let mut follower = MemoryLog::new(settings(4096, 512), Arc::clone(&budget));
    for batch in BatchIter::new(&copied.bytes) {
        let bytes = batch.unwrap().as_bytes();
        let mut reservation = budget.try_reserve(bytes.len() as u64).unwrap();
        follower.append_replica(bytes, &mut reservation).unwrap();
    }
    let read = follower.read(0, usize::MAX).unwrap();
    assert_eq!(
        read.bytes, copied.bytes,
        "the same bytes, offsets and epochs"
    );
    assert_eq!(follower.log_end(), 30);
    let mut reservation = budget.try_reserve(1 << 20).unwrap();
    let stale = batch(0, 1, 1_000, 100);
    assert!(matches!(
        follower.append_replica(&stale, &mut reservation),
        Err(LogError::NotContiguous { log_end: 30, .. })
    ));
}

#[test]
fn truncation_drops_whole_batches_from_the_one_holding_the_offset() {
    let budget = MemoryBudget::new(1 << 30);
    // Small segments: the truncation crosses segment boundaries.
    let mut log = MemoryLog::new(settings(2048, 256), Arc::clone(&budget));
    for i in 0..20 {
        append(&mut log, &budget, batch(i * 10, 10, 1_000 + i as i64, 100));
    }
    assert!(log.segment_count() > 3);
    let before = budget.used();
    let dropped = log.truncate_to(105).unwrap();
    assert_eq!(
        log.log_end(),
        100,
        "105 is inside the batch 100..110: it goes whole"
    );
    assert_eq!(budget.used(), before - dropped, "the memory is returned");
    assert_eq!(log.size_bytes(), before - dropped);
    let read = log.read(90, usize::MAX).unwrap();
    assert_eq!(records_of(&read, 90).last(), Some(&(99, 99)));
    assert_eq!(by_time(&log, 1_010), None, "no batch stamped 1010 is left");
    // Appending goes on at the new end.
    assert_eq!(append(&mut log, &budget, batch(500, 5, 2_000, 100)), 100);
    let read = log.read(100, usize::MAX).unwrap();
    assert_eq!(records_of(&read, 100)[0], (100, 500));
    assert_eq!(log.truncate_to(1_000).unwrap(), 0, "past the end: nothing");
    log.truncate_to(0).unwrap();
    assert_eq!((log.log_start(), log.log_end()), (0, 0));
    assert_eq!(log.size_bytes(), 0);
}

#[test]
fn a_reset_log_starts_empty_where_it_is_told() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(4096, 512), Arc::clone(&budget));
    append(&mut log, &budget, batch(0, 10, 1_000, 100));
    log.reset_to(5_000);
    assert_eq!(
        (log.log_start(), log.log_end(), log.size_bytes()),
        (5_000, 5_000, 0)
    );
    assert_eq!(budget.used(), 0);
    assert_eq!(append(&mut log, &budget, batch(0, 1, 1_000, 10)), 5_000);
}

#[test]
fn deleting_records_moves_the_log_start_inside_a_batch_and_frees_whole_segments() {
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(2048, 256), Arc::clone(&budget));
    for i in 0..50 {
        append(&mut log, &budget, batch(i * 4, 4, 1_000 + i as i64, 64));
    }
    let (segments, bytes) = (log.segment_count(), log.size_bytes());
    let evicted = log.delete_before(101).unwrap();
    assert!(evicted.segments > 0, "{evicted:?}");
    assert_eq!(log.segment_count(), segments - evicted.segments as usize);
    assert_eq!(log.size_bytes(), bytes - evicted.bytes);
    assert_eq!(budget.used(), log.size_bytes());
    assert_eq!((log.log_start(), log.log_end()), (101, 200));
    assert!(matches!(
        log.read(100, usize::MAX),
        Err(LogError::OffsetOutOfRange {
            requested: 100,
            log_start: 101,
            ..
        })
    ));
    // The batch holding 101 begins at 100: a read gives it whole, readers skip below.
    let read = log.read(101, usize::MAX).unwrap();
    assert_eq!(read.log_start, 101);
    let first = BatchIter::new(&read.bytes).next().unwrap().unwrap();
    assert_eq!(first.header.base_offset, 100);
    assert_eq!(records_of(&read, 101).len(), 99);
    assert_eq!(by_time(&log, 0), Some((101, 1_025)));
    assert_eq!(
        by_time(&log, 1_025),
        Some((101, 1_025)),
        "100 (deleted) shares the timestamp; the first left is 101"
    );
    assert_eq!(by_time(&log, 1_026), Some((104, 1_026)));

    assert_eq!(
        log.delete_before(50).unwrap().segments,
        0,
        "below the start: nothing"
    );
    assert_eq!(log.log_start(), 101);
    assert!(matches!(
        log.delete_before(201),
        Err(LogError::OffsetOutOfRange { requested: 201, .. })
    ));
    // Up to the end: empty, offsets kept, memory back.
    log.delete_before(200).unwrap();
    assert_eq!((log.log_start(), log.log_end()), (200, 200));
    assert_eq!(budget.used(), log.size_bytes());
    assert_eq!(append(&mut log, &budget, batch(200, 1, 5_000, 8)), 200);
    assert_eq!(log.log_start(), 200);
}

#[test]
fn an_empty_replica_starting_inside_a_batch_keeps_that_batch_whole() {
    let budget = MemoryBudget::new(1 << 30);
    let mut leader = MemoryLog::new(settings(2048, 256), Arc::clone(&budget));
    for i in 0..10 {
        append(&mut leader, &budget, batch(i * 4, 4, 1, 16));
    }
    leader.delete_before(22).unwrap();
    let read = leader.read(22, usize::MAX).unwrap();

    let mut follower = MemoryLog::starting_at(22, settings(2048, 256), Arc::clone(&budget));
    for batch in BatchIter::new(&read.bytes) {
        let batch = batch.unwrap();
        let mut reservation = budget.try_reserve(batch.as_bytes().len() as u64).unwrap();
        follower
            .append_replica(batch.as_bytes(), &mut reservation)
            .unwrap();
    }
    assert_eq!(
        (follower.log_start(), follower.log_end()),
        (22, 40),
        "the leader's start, not the batch's"
    );
    assert_eq!(
        records_of(&follower.read(22, usize::MAX).unwrap(), 22),
        records_of(&read, 22)
    );
    // An empty log is not extended backwards by a batch that ends before its start.
    let mut empty = MemoryLog::starting_at(22, settings(2048, 256), Arc::clone(&budget));
    let mut before_start = batch(0, 4, 1, 16);
    patch_leader_fields(&mut before_start, 16, 3);
    let mut reservation = budget.try_reserve(before_start.len() as u64).unwrap();
    assert!(matches!(
        empty.append_replica(&before_start, &mut reservation),
        Err(LogError::NotContiguous {
            base_offset: 16,
            log_end: 22
        })
    ));
    assert_eq!((empty.log_start(), empty.log_end()), (22, 22));
    // A batch that does not reach the follower's end is still refused.
    let mut stray = batch(0, 4, 1, 16);
    patch_leader_fields(&mut stray, 30, 3);
    let mut reservation = budget.try_reserve(stray.len() as u64).unwrap();
    assert!(matches!(
        follower.append_replica(&stray, &mut reservation),
        Err(LogError::NotContiguous { .. })
    ));
}

/// A look-up by time, as the broker runs it.
fn by_time(log: &MemoryLog, timestamp_ms: i64) -> Option<(u64, i64)> {
    crate::log::find_by_time(timestamp_ms, |from| log.time_lookup(timestamp_ms, from))
}

#[test]
fn a_time_lookup_searches_compressed_batches_and_looks_on_past_them() {
    use crate::log::decompress::kafka_batch;
    use kafka_protocol::records::Compression;
    let budget = MemoryBudget::new(1 << 30);
    let mut log = MemoryLog::new(settings(1 << 20, 512), Arc::clone(&budget));
    // Offsets 0..3 stamped 1000..1002 (zstd), then 3..6 stamped 1000..1002 (lz4), then 6..8
    // stamped 5000 (mq's own batch, uncompressed).
    append(
        &mut log,
        &budget,
        kafka_batch(Compression::Zstd, &["a", "b", "c"]),
    );
    append(
        &mut log,
        &budget,
        kafka_batch(Compression::Lz4, &["d", "e", "f"]),
    );
    append(&mut log, &budget, batch(6, 2, 5_000, 10));
    let step = log.time_lookup(1_001, 0);
    assert!(
        matches!(step, TimeLookup::Compressed { resume_at: 3, .. }),
        "the lock holder hands the compressed batch out instead of inflating it: {step:?}"
    );
    assert_eq!(by_time(&log, 1_001), Some((1, 1_001)));
    assert_eq!(by_time(&log, 1_002), Some((2, 1_002)));
    assert_eq!(by_time(&log, 4_000), Some((6, 5_000)));
    assert_eq!(by_time(&log, 5_001), None);
    // With the first batch deleted up to offset 2, a record stamped 1000 is first found in the
    // second compressed batch, past the first one's matches below the log start.
    log.delete_before(2).unwrap();
    assert_eq!(by_time(&log, 1_001), Some((2, 1_002)));
    log.delete_before(3).unwrap();
    assert_eq!(by_time(&log, 1_000), Some((3, 1_000)));
}

#[test]
fn a_match_in_a_batch_replaced_while_it_was_searched_is_not_returned() {
    use crate::log::decompress::kafka_batch;
    use crate::log::{find_by_time, TimeLookup};
    use kafka_protocol::records::Compression;
    // What the log held when the search began: offsets 0..2 stamped 1000, 1001 (zstd).
    let before = kafka_batch(Compression::Zstd, &["a", "b"]);
    // What a truncation and a new copy left in its place: offsets 10..12 stamped 1000..1002.
    let mut after = kafka_batch(Compression::Zstd, &["x", "y", "z"]);
    mq_wire::batch::patch_leader_fields(&mut after, 10, 1);
    let step = |stored: &Vec<u8>, resume_at| TimeLookup::Compressed {
        stored: stored.clone(),
        from: 0,
        resume_at,
    };
    let mut steps = vec![step(&after, 13), step(&after, 13), step(&before, 2)];
    let found = find_by_time(1_001, |_| steps.pop().expect("no more steps than needed"));
    assert_eq!(
        found,
        Some((11, 1_001)),
        "the record found in the replaced batch (offset 1) is not answered"
    );
    assert!(steps.is_empty(), "the new batch was confirmed too");
}
