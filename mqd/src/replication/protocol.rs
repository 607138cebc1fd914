//! What followers and leaders say to each other under `/internal/v1/replica/…`.
//!
//! A fetch asks for every partition a follower copies from one leader. The answer is binary, so
//! batches travel as the log holds them: `head_len u32 LE | head | batches…`, where the head lists
//! each partition's outcome and bounds and how many bytes of batches follow for it, in order.
//! Over HTTP the fetch and the head are JSON, which every version reads; on the replication
//! stream they are postcard ([`Encoding`]), which costs a fraction of JSON's encoding and
//! parsing, paid on every round.

use serde::{de::DeserializeOwned, Deserialize, Serialize};

pub const FETCH_PATH: &str = "/internal/v1/replica/fetch";
pub const EPOCH_PATH: &str = "/internal/v1/replica/epoch_end";

/// How a fetch and its answer's head are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Over HTTP.
    Json,
    /// On the replication stream.
    Postcard,
}

impl Encoding {
    pub fn to_vec<T: Serialize>(self, value: &T) -> Vec<u8> {
        match self {
            Encoding::Json => serde_json::to_vec(value).expect("serializable"),
            Encoding::Postcard => postcard::to_allocvec(value).expect("serializable"),
        }
    }

    pub fn from_slice<T: DeserializeOwned>(self, bytes: &[u8]) -> Result<T, String> {
        match self {
            Encoding::Json => serde_json::from_slice(bytes).map_err(|e| e.to_string()),
            Encoding::Postcard => match postcard::take_from_bytes(bytes) {
                Ok((value, [])) => Ok(value),
                Ok((_, rest)) => Err(format!("{} bytes after the value", rest.len())),
                Err(error) => Err(error.to_string()),
            },
        }
    }
}

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

/// Why a leader did not serve one partition. On the stream, postcard writes a variant by its
/// place in this list: add new ones at the end.
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
    /// Always written (postcard has no field names to skip by); an older version's JSON may
    /// leave it out.
    #[serde(default)]
    pub error: Option<ReplicaError>,
    pub high_watermark: u64,
    pub log_start: u64,
    pub log_end: u64,
    /// Bytes of batches that follow for this partition.
    pub bytes: u32,
}

/// Encodes a fetch answer: the partitions' outcomes, then their batches in the same order. The
/// batches are not copied: the answer is the list of chunks to send one after the other.
pub fn encode_answer(
    encoding: Encoding,
    parts: &[FetchedPartition],
    batches: Vec<Vec<u8>>,
) -> Vec<bytes::Bytes> {
    let encoded = encoding.to_vec(&parts);
    let mut head = Vec::with_capacity(4 + encoded.len());
    head.extend_from_slice(&(encoded.len() as u32).to_le_bytes());
    head.extend_from_slice(&encoded);
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
pub fn decode_answer(
    encoding: Encoding,
    body: &[u8],
) -> Result<Vec<(FetchedPartition, &[u8])>, String> {
    let len_bytes: [u8; 4] = body
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .ok_or("answer shorter than its length prefix")?;
    let head_len = u32::from_le_bytes(len_bytes) as usize;
    let head = body
        .get(4..4 + head_len)
        .ok_or("answer shorter than its head")?;
    let parts: Vec<FetchedPartition> = encoding
        .from_slice(head)
        .map_err(|e| format!("answer's head: {e}"))?;
    let mut at = 4 + head_len;
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
    use proptest::prelude::*;

    fn a_fetch() -> ReplicaFetch {
        ReplicaFetch {
            replica: 2,
            max_wait_ms: 500,
            max_bytes: 16 << 20,
            partitions: vec![FetchPartition {
                topic: "orders".into(),
                partition: 7,
                leader_epoch: 3,
                fetch_offset: 1_000_000,
                log_start: Some(40),
            }],
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The stream's leader decodes whatever an unauthenticated peer sends: random bytes, or a
        /// real fetch damaged, decode or are refused, never panic, and never claim more than
        /// they carry (postcard checks each length against the bytes left).
        #[test]
        fn any_bytes_decode_or_are_refused_without_a_panic(
            noise in proptest::collection::vec(any::<u8>(), 0..64),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
            cut in any::<usize>(),
        ) {
            let _ = Encoding::Postcard.from_slice::<ReplicaFetch>(&noise);
            let _ = decode_answer(Encoding::Postcard, &noise);
            let mut damaged = Encoding::Postcard.to_vec(&a_fetch());
            for (at, mask) in flips {
                let at = at % damaged.len();
                damaged[at] ^= mask;
            }
            damaged.truncate(cut % (damaged.len() + 1));
            if let Ok(fetch) = Encoding::Postcard.from_slice::<ReplicaFetch>(&damaged) {
                let strings: usize = fetch.partitions.iter().map(|p| p.topic.len()).sum();
                prop_assert!(strings <= damaged.len());
            }
        }
    }

    #[test]
    fn an_answer_reads_back_as_written_and_a_short_one_is_refused() {
        let part = |partition, bytes, error| FetchedPartition {
            topic: "t".into(),
            partition,
            error,
            high_watermark: 5,
            log_start: 0,
            log_end: 9,
            bytes,
        };
        for encoding in [Encoding::Json, Encoding::Postcard] {
            let body = encode_answer(
                encoding,
                &[
                    part(0, 3, None),
                    part(1, 0, Some(ReplicaError::Other("why".into()))),
                    part(2, 2, None),
                ],
                vec![vec![1, 2, 3], vec![], vec![4, 5]],
            )
            .concat();
            let read = decode_answer(encoding, &body).unwrap();
            assert_eq!(read.len(), 3);
            assert_eq!(read[0].1, &[1, 2, 3]);
            assert_eq!(read[1].0.error, Some(ReplicaError::Other("why".into())));
            assert!(read[1].1.is_empty());
            assert_eq!(read[2].1, &[4, 5]);
            assert_eq!(read[2].0.high_watermark, 5);
            assert!(decode_answer(encoding, &body[..body.len() - 1]).is_err());
            assert!(decode_answer(encoding, &[1, 0]).is_err());
        }
    }

    #[test]
    fn a_fetch_reads_back_in_both_encodings_and_json_without_optional_fields_too() {
        let fetch = a_fetch();
        for encoding in [Encoding::Json, Encoding::Postcard] {
            let read: ReplicaFetch = encoding.from_slice(&encoding.to_vec(&fetch)).unwrap();
            assert_eq!(read.partitions[0].fetch_offset, 1_000_000);
            assert_eq!(read.partitions[0].log_start, Some(40));
            assert!(encoding.from_slice::<ReplicaFetch>(b"\xff").is_err());
            let mut longer = encoding.to_vec(&fetch);
            longer.push(0);
            assert!(encoding.from_slice::<ReplicaFetch>(&longer).is_err());
        }
        // An answer's head from a version that left `error` out when there was none.
        let older: FetchedPartition = Encoding::Json
            .from_slice(br#"{"topic":"t","partition":0,"high_watermark":1,"log_start":0,"log_end":1,"bytes":0}"#)
            .unwrap();
        assert_eq!(older.error, None);
    }
}
