//! The leader's side: answers followers' fetches (long-polling until some partition has records
//! for them) and their questions about where an epoch ended.

use super::protocol::{
    encode_answer, Encoding, EpochAnswer, EpochEnd, EpochQuery, FetchedPartition, ReplicaError,
    ReplicaFetch,
};
use crate::broker::{Broker, BrokerError};
use std::time::Duration;
use tokio::time::Instant;

/// The longest a follower's fetch is held waiting for records.
const MAX_WAIT: Duration = Duration::from_secs(2);

fn replica_error(error: &BrokerError) -> ReplicaError {
    match error {
        BrokerError::NotLeader { .. } => ReplicaError::NotLeader,
        BrokerError::OffsetOutOfRange { .. } => ReplicaError::OffsetOutOfRange,
        BrokerError::UnknownTopic(_) | BrokerError::UnknownPartition { .. } => {
            ReplicaError::UnknownTopic
        }
        other => ReplicaError::Other(other.to_string()),
    }
}

/// Whether a follower whose fetch said its log starts at `follower` must be answered at once
/// to learn that the leader's now starts at `leader` (records deleted, or retention). A follower
/// that does not say (an older version) is not: it would be answered at once forever.
fn starts_below(follower: Option<u64>, leader: u64) -> bool {
    follower.is_some_and(|start| start < leader)
}

/// Reads once for every partition of the fetch: their outcomes, their batches, and whether any
/// had records or an error (either answers at once).
fn read_all(broker: &Broker, fetch: &ReplicaFetch) -> (Vec<FetchedPartition>, Vec<Vec<u8>>, bool) {
    let mut parts = Vec::with_capacity(fetch.partitions.len());
    let mut batches = Vec::with_capacity(fetch.partitions.len());
    let mut budget = fetch.max_bytes as usize;
    let mut ready = false;
    for asked in &fetch.partitions {
        let mut part = FetchedPartition {
            topic: asked.topic.clone(),
            partition: asked.partition,
            error: None,
            high_watermark: 0,
            log_start: 0,
            log_end: 0,
            bytes: 0,
        };
        let mut bytes = Vec::new();
        let partition = broker
            .topic(&asked.topic)
            .and_then(|t| t.partition(asked.partition).cloned());
        match partition {
            Err(error) => part.error = Some(replica_error(&error)),
            Ok(partition) => {
                let epoch = partition.leader_epoch();
                if asked.leader_epoch < epoch {
                    part.error = Some(ReplicaError::StaleEpoch);
                } else if asked.leader_epoch > epoch {
                    part.error = Some(ReplicaError::NotLeader);
                } else {
                    let at = (asked.log_start.unwrap_or(0), asked.fetch_offset);
                    match partition.serve_follower(fetch.replica, at, budget) {
                        Ok(read) => {
                            // A follower still starting below records deleted here learns of
                            // it now, not at the end of a long poll.
                            ready |= starts_below(asked.log_start, read.batches.log_start);
                            part.log_start = read.batches.log_start;
                            part.log_end = read.batches.log_end;
                            part.high_watermark = read.high_watermark;
                            budget = budget.saturating_sub(read.batches.bytes.len());
                            bytes = read.batches.bytes;
                        }
                        Err(error) => {
                            if let BrokerError::OffsetOutOfRange {
                                log_start, log_end, ..
                            } = &error
                            {
                                part.log_start = *log_start;
                                part.log_end = *log_end;
                            }
                            part.high_watermark = partition.high_watermark();
                            part.error = Some(replica_error(&error));
                        }
                    }
                }
            }
        }
        ready |= part.error.is_some() || !bytes.is_empty();
        part.bytes = bytes.len() as u32;
        parts.push(part);
        batches.push(bytes);
    }
    (parts, batches, ready)
}

/// Answers a follower's fetch: at once when a partition has records for it (or an error), else
/// when an append arrives, or after its `max_wait_ms` with nothing. The answer's head is written
/// in `encoding`, the one the fetch came in.
pub async fn serve_fetch(
    broker: &Broker,
    fetch: ReplicaFetch,
    encoding: Encoding,
) -> Vec<bytes::Bytes> {
    let wait = Duration::from_millis(fetch.max_wait_ms).min(MAX_WAIT);
    let deadline = Instant::now() + wait;
    let mut appends = broker.watch_appends();
    loop {
        appends.borrow_and_update();
        let (parts, batches, ready) = read_all(broker, &fetch);
        if ready || Instant::now() >= deadline {
            return encode_answer(encoding, &parts, batches);
        }
        tokio::select! {
            changed = appends.changed() => if changed.is_err() {
                return encode_answer(encoding, &parts, batches);
            },
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Answers where each asked epoch ended in this node's logs.
pub fn serve_epochs(broker: &Broker, query: &EpochQuery) -> EpochAnswer {
    let partitions = query
        .partitions
        .iter()
        .map(|ask| {
            let mut answer = EpochEnd {
                topic: ask.topic.clone(),
                partition: ask.partition,
                error: None,
                end: None,
            };
            let partition = broker
                .topic(&ask.topic)
                .and_then(|t| t.partition(ask.partition).cloned());
            match partition {
                Err(error) => answer.error = Some(replica_error(&error)),
                Ok(partition) => {
                    let epoch = partition.leader_epoch();
                    if ask.leader_epoch < epoch {
                        answer.error = Some(ReplicaError::StaleEpoch);
                    } else if ask.leader_epoch > epoch {
                        answer.error = Some(ReplicaError::NotLeader);
                    } else {
                        match partition
                            .on_leader_epochs(|epochs, end| epochs.end_offset_for(ask.epoch, end))
                        {
                            Ok(end) => answer.end = end,
                            Err(error) => answer.error = Some(replica_error(&error)),
                        }
                    }
                }
            }
            answer
        })
        .collect();
    EpochAnswer { partitions }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replication::protocol::FetchPartition;

    #[test]
    fn only_a_follower_that_says_it_starts_below_is_answered_at_once() {
        assert!(starts_below(Some(0), 60));
        assert!(!starts_below(Some(60), 60));
        assert!(
            !starts_below(Some(70), 60),
            "its own retention went further"
        );
        assert!(!starts_below(None, 60), "an older follower says nothing");
        let older: FetchPartition = serde_json::from_str(
            r#"{"topic":"t","partition":0,"leader_epoch":1,"fetch_offset":5}"#,
        )
        .unwrap();
        assert_eq!(older.log_start, None);
    }
}
