//! The binary path of the API: request and answer bodies that are record batches
//! ([`crate::batch`]) themselves, under their own content type, so the broker appends a produce
//! body with one copy and answers a fetch with the bytes its segments hold.
//!
//! - Produce: `POST /v1/topics/{topic}/partitions/{p}/records` with
//!   `Content-Type: application/vnd.mq.batch` and one or more batches back to back. The answer is
//!   JSON ([`crate::api::BatchProduceResponse`]).
//! - Fetch: `GET /v1/topics/{topic}/partitions/{p}/records?offset=…` with
//!   `Accept: application/vnd.mq.batch` answers whole batches back to back (the first may start
//!   before `offset`: skip records below it); the partition's bounds come in the headers
//!   [`HEADER_LOG_START`], [`HEADER_LOG_END`], [`HEADER_HIGH_WATERMARK`], [`HEADER_NEXT_OFFSET`].
//! - Group fetch: `POST /v1/groups/{group}/fetch` with `Accept: application/vnd.mq.frames` answers
//!   a run of [`Frame`]s, one per partition with data; generation and rebalance flag come in the
//!   headers [`HEADER_GENERATION`] and [`HEADER_REBALANCE`].

/// Content type of a body made of record batches.
pub const BATCH_CONTENT_TYPE: &str = "application/vnd.mq.batch";
/// Content type of a body made of frames (batches of several partitions).
pub const FRAMES_CONTENT_TYPE: &str = "application/vnd.mq.frames";

pub const HEADER_LOG_START: &str = "mq-log-start";
pub const HEADER_LOG_END: &str = "mq-log-end";
pub const HEADER_HIGH_WATERMARK: &str = "mq-high-watermark";
pub const HEADER_NEXT_OFFSET: &str = "mq-next-offset";
pub const HEADER_GENERATION: &str = "mq-generation";
/// On a binary produce: `0`, `1` or `all` (also `?acks=`); `all` when absent.
pub const HEADER_ACKS: &str = "mq-acks";
pub const HEADER_REBALANCE: &str = "mq-rebalance";

/// Batches of one partition inside a frames body:
/// `topic_len u16 | topic | partition u32 | from u64 | high_watermark u64 | next_offset u64 | len u32 |
/// batches`
/// (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub topic: &'a str,
    pub partition: u32,
    /// The first offset meant: records below it in the first batch were read before.
    pub from: u64,
    pub high_watermark: u64,
    /// Where the member's position stands after this frame.
    pub next_offset: u64,
    pub batches: &'a [u8],
}

/// Why a frames body could not be read.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("malformed frame at byte {0}")]
pub struct FrameError(pub usize);

impl Frame<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.topic.len() as u16).to_le_bytes());
        out.extend_from_slice(self.topic.as_bytes());
        out.extend_from_slice(&self.partition.to_le_bytes());
        out.extend_from_slice(&self.from.to_le_bytes());
        out.extend_from_slice(&self.high_watermark.to_le_bytes());
        out.extend_from_slice(&self.next_offset.to_le_bytes());
        out.extend_from_slice(&(self.batches.len() as u32).to_le_bytes());
        out.extend_from_slice(self.batches);
    }
}

/// Splits a frames body into its frames, checking every length.
pub fn decode_frames(mut bytes: &[u8]) -> Result<Vec<Frame<'_>>, FrameError> {
    let total = bytes.len();
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let at = total - bytes.len();
        let error = FrameError(at);
        let topic_len =
            u16::from_le_bytes(bytes.get(..2).ok_or(error)?.try_into().map_err(|_| error)?)
                as usize;
        let rest = &bytes[2..];
        let topic = std::str::from_utf8(rest.get(..topic_len).ok_or(error)?).map_err(|_| error)?;
        let rest = &rest[topic_len..];
        let fixed = rest.get(..32).ok_or(error)?;
        let partition = u32::from_le_bytes(fixed[..4].try_into().map_err(|_| error)?);
        let from = u64::from_le_bytes(fixed[4..12].try_into().map_err(|_| error)?);
        let high_watermark = u64::from_le_bytes(fixed[12..20].try_into().map_err(|_| error)?);
        let next_offset = u64::from_le_bytes(fixed[20..28].try_into().map_err(|_| error)?);
        let len = u32::from_le_bytes(fixed[28..32].try_into().map_err(|_| error)?) as usize;
        let rest = &rest[32..];
        let batches = rest.get(..len).ok_or(error)?;
        frames.push(Frame {
            topic,
            partition,
            from,
            high_watermark,
            next_offset,
            batches,
        });
        bytes = &rest[len..];
    }
    Ok(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_truncation_is_an_error() {
        let mut body = Vec::new();
        for (topic, partition) in [("a", 0u32), ("orders", 7)] {
            Frame {
                topic,
                partition,
                from: 3,
                high_watermark: 9,
                next_offset: 5,
                batches: b"xyz",
            }
            .encode(&mut body);
        }
        let frames = decode_frames(&body).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(
            (frames[1].topic, frames[1].partition, frames[1].batches),
            ("orders", 7, &b"xyz"[..])
        );
        for cut in 0..body.len() {
            let _ = decode_frames(&body[..cut]);
        }
        assert!(decode_frames(&body[..body.len() - 1]).is_err());
    }
}
