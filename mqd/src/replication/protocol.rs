//! What followers and leaders say to each other under `/internal/v1/replica/…`.
//!
//! A fetch asks, in JSON, for every partition a follower copies from one leader. The answer is
//! binary, so batches travel as the log holds them: `json_len u32 LE | json | batches…`, where
//! the JSON lists each partition's outcome and bounds and how many bytes of batches follow for it,
//! in order.

use serde::{Deserialize, Serialize};

pub const FETCH_PATH: &str = "/internal/v1/replica/fetch";
pub const EPOCH_PATH: &str = "/internal/v1/replica/epoch_end";

/// A follower's fetch from one leader.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicaFetch {
    /// The follower's node id.
    pub replica: u64,
    /// How long the leader may wait for new records when none is there yet.
    pub max_wait_ms: u64,
    /// Bytes of batches in the whole answer, at most (one batch always goes).
    pub max_bytes: u64,
    pub partitions: Vec<FetchPartition>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchPartition {
    pub topic: String,
    pub partition: u32,
    /// The leader epoch the follower knows: the leader refuses any other.
    pub leader_epoch: u32,
    /// The follower's log end: it holds everything below.
    pub fetch_offset: u64,
    /// The follower's own log start (Kafka's follower `log_start_offset`): a leader that deleted
    /// records answers at once a follower still starting below, and waits for it to catch up
    /// before it answers the delete. Absent from a node that does not send it (an older
    /// version): never answered early, never counted as caught up.
    #[serde(default)]
    pub log_start: Option<u64>,
}

/// Why a leader did not serve one partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaError {
    /// This node does not lead it (or leads it at a newer epoch than the follower knows).
    NotLeader,
    /// The follower knows an older leader epoch: it must catch up with the metadata.
    StaleEpoch,
    /// The fetch offset is outside the leader's log.
    OffsetOutOfRange,
    UnknownTopic,
    Other(String),
}

/// One partition of a fetch answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FetchedPartition {
    pub topic: String,
    pub partition: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ReplicaError>,
    pub high_watermark: u64,
    pub log_start: u64,
    pub log_end: u64,
    /// Bytes of batches that follow for this partition.
    pub bytes: u32,
}

/// Encodes a fetch answer: the partitions' outcomes, then their batches in the same order. The
/// batches are not copied: the answer is the list of chunks to send one after the other.
pub fn encode_answer(parts: &[FetchedPartition], batches: Vec<Vec<u8>>) -> Vec<bytes::Bytes> {
    let json = serde_json::to_vec(parts).expect("serializable");
    let mut head = Vec::with_capacity(4 + json.len());
    head.extend_from_slice(&(json.len() as u32).to_le_bytes());
    head.extend_from_slice(&json);
    let mut chunks = Vec::with_capacity(1 + batches.len());
    chunks.push(bytes::Bytes::from(head));
    chunks.extend(
        batches
            .into_iter()
            .filter(|b| !b.is_empty())
            .map(bytes::Bytes::from),
    );
    chunks
}

/// Reads a fetch answer back: each partition's outcome with its batches.
pub fn decode_answer(body: &[u8]) -> Result<Vec<(FetchedPartition, &[u8])>, String> {
    let len_bytes: [u8; 4] = body
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("answer shorter than its length prefix")?;
    let json_len = u32::from_le_bytes(len_bytes) as usize;
    let json = body
        .get(4..4 + json_len)
        .ok_or("answer shorter than its JSON part")?;
    let parts: Vec<FetchedPartition> =
        serde_json::from_slice(json).map_err(|e| format!("answer JSON: {e}"))?;
    let mut at = 4 + json_len;
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let end = at + part.bytes as usize;
        let bytes = body.get(at..end).ok_or("answer shorter than its batches")?;
        at = end;
        out.push((part, bytes));
    }
    Ok(out)
}

/// A follower asks where its newest epoch ended in the leader's log (KIP-101's
/// OffsetForLeaderEpoch).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochQuery {
    pub partitions: Vec<EpochAsk>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochAsk {
    pub topic: String,
    pub partition: u32,
    /// The leader epoch the follower knows.
    pub leader_epoch: u32,
    /// The epoch asked about: the follower's newest.
    pub epoch: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochAnswer {
    pub partitions: Vec<EpochEnd>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochEnd {
    pub topic: String,
    pub partition: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ReplicaError>,
    /// The leader's largest epoch at or below the one asked, and where it ended; `None` when the
    /// leader has no epoch that old.
    pub end: Option<(u32, u64)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_back_as_written_and_a_short_one_is_refused() {
        let part = |partition, bytes| FetchedPartition {
            topic: "t".into(),
            partition,
            error: None,
            high_watermark: 5,
            log_start: 0,
            log_end: 9,
            bytes,
        };
        let body = encode_answer(
            &[part(0, 3), part(1, 0), part(2, 2)],
            vec![vec![1, 2, 3], vec![], vec![4, 5]],
        )
        .concat();
        let read = decode_answer(&body).unwrap();
        assert_eq!(read.len(), 3);
        assert_eq!(read[0].1, &[1, 2, 3]);
        assert!(read[1].1.is_empty());
        assert_eq!(read[2].1, &[4, 5]);
        assert!(decode_answer(&body[..body.len() - 1]).is_err());
        assert!(decode_answer(&[1, 0]).is_err());
    }
}
