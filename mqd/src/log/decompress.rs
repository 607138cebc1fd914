//! Decompression of Kafka batches' records, bounded: records are inflated only up to a budget
//! (at a produce, what a request may carry uncompressed, `limits.max_request_bytes`, summed over
//! the batches of one partition's body), so a few kilobytes of zeros compressed cannot make the
//! node allocate gigabytes. The codecs are Kafka's: gzip, snappy (xerial's framing, or raw as
//! Kafka's Java client also reads), lz4 (the frame format) and zstd.

use bytes::{Buf, Bytes};
use kafka_protocol::records::Compression;
use std::cell::Cell;
use std::io::Read;

/// Decompresses record sets while the total stays within a budget.
pub(crate) struct BoundedDecompressor {
    left: Cell<usize>,
    exceeded: Cell<bool>,
}

/// Kafka's framing of snappy blocks (xerial's `SnappyOutputStream`).
const XERIAL_MAGIC: &[u8] = b"\x82SNAPPY\x00";
const XERIAL_HEADER_LEN: usize = 16;

impl BoundedDecompressor {
    pub fn new(budget: usize) -> Self {
        BoundedDecompressor {
            left: Cell::new(budget),
            exceeded: Cell::new(false),
        }
    }

    /// Whether a batch was refused for going over the budget.
    pub fn exceeded(&self) -> bool {
        self.exceeded.get()
    }

    /// The records of one batch, decompressed (the signature `kafka-protocol`'s decoder takes).
    pub fn decompress(
        &self,
        compressed: &mut Bytes,
        compression: Compression,
    ) -> anyhow::Result<Bytes> {
        let input = compressed.split_to(compressed.remaining());
        if compression == Compression::None {
            self.spend(input.len())?;
            return Ok(input);
        }
        self.inflate(&input, compression)
    }

    /// `input` decompressed with `compression`, counted against the budget.
    pub fn inflate(&self, input: &[u8], compression: Compression) -> anyhow::Result<Bytes> {
        let out = match compression {
            Compression::None => Bytes::copy_from_slice(input),
            Compression::Gzip => self.read_all(flate2::read::MultiGzDecoder::new(input))?,
            Compression::Lz4 => self.read_all(lz4::Decoder::new(input)?)?,
            // zstd's own cap on a frame's window (128 MiB) applies: the window is reserved, and
            // only what the frame really inflates to is touched and counted.
            Compression::Zstd => self.read_all(zstd::stream::read::Decoder::new(input)?)?,
            Compression::Snappy => self.snappy(input)?,
        };
        self.spend(out.len())?;
        Ok(out)
    }

    fn spend(&self, len: usize) -> anyhow::Result<()> {
        let left = self
            .left
            .get()
            .checked_sub(len)
            .ok_or_else(|| self.too_large())?;
        self.left.set(left);
        Ok(())
    }

    fn too_large(&self) -> anyhow::Error {
        self.exceeded.set(true);
        anyhow::anyhow!(
            "the records decompress to more than limits.max_request_bytes allows ({} bytes were left)",
            self.left.get()
        )
    }

    /// Reads at most one byte more than the budget, so that going over is seen, not allocated.
    fn read_all(&self, reader: impl Read) -> anyhow::Result<Bytes> {
        let limit = self.left.get();
        let mut out = Vec::new();
        reader.take(limit as u64 + 1).read_to_end(&mut out)?;
        if out.len() > limit {
            return Err(self.too_large());
        }
        Ok(out.into())
    }

    fn snappy(&self, input: &[u8]) -> anyhow::Result<Bytes> {
        if !input.starts_with(XERIAL_MAGIC) {
            return Ok(self.snappy_block(input, self.left.get())?.into());
        }
        let mut rest = input.get(XERIAL_HEADER_LEN..).unwrap_or_default();
        let mut out = Vec::new();
        while !rest.is_empty() {
            let (len, after) = rest
                .split_first_chunk::<4>()
                .ok_or_else(|| anyhow::anyhow!("a snappy block length is cut short"))?;
            let len = u32::from_be_bytes(*len) as usize;
            let block = after
                .get(..len)
                .ok_or_else(|| anyhow::anyhow!("a snappy block is cut short"))?;
            let inflated = self.snappy_block(block, self.left.get() - out.len())?;
            if out.len() + inflated.len() > self.left.get() {
                return Err(self.too_large());
            }
            out.extend_from_slice(&inflated);
            rest = &after[len..];
        }
        Ok(out.into())
    }

    /// One raw snappy block; its length header is checked against `room` before allocating.
    fn snappy_block(&self, block: &[u8], room: usize) -> anyhow::Result<Vec<u8>> {
        let len = snap::raw::decompress_len(block)?;
        if len > room {
            return Err(self.too_large());
        }
        Ok(snap::raw::Decoder::new().decompress_vec(block)?)
    }
}

/// Every codec a Kafka batch may use, for the tests.
#[cfg(test)]
pub(crate) const EVERY_COMPRESSION: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Snappy,
    Compression::Lz4,
    Compression::Zstd,
];

/// A Kafka producer's batch of `values` (no key, no producer, timestamps 1000, 1001, …),
/// compressed with `compression`, for the tests.
#[cfg(test)]
pub(crate) fn kafka_batch(compression: Compression, values: &[&str]) -> Vec<u8> {
    use kafka_protocol::records::{Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let records: Vec<Record> = values
        .iter()
        .enumerate()
        .map(|(i, v)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: -1,
            producer_id: -1,
            producer_epoch: -1,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            // What the encoder needs to keep records in one batch without a producer.
            sequence: -1 + i as i32,
            timestamp: 1_000 + i as i64,
            key: None,
            value: Some(Bytes::copy_from_slice(v.as_bytes())),
            headers: Default::default(),
        })
        .collect();
    let mut out = bytes::BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression,
    };
    RecordBatchEncoder::encode(&mut out, records.iter(), &options).unwrap();
    out.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::records::RecordBatchDecoder;

    fn batch(compression: Compression, value_len: usize) -> Bytes {
        Bytes::from(kafka_batch(compression, &["\0".repeat(value_len).as_str()]))
    }

    fn decode(mut bytes: Bytes, budget: usize) -> anyhow::Result<usize> {
        let bounded = BoundedDecompressor::new(budget);
        let set = RecordBatchDecoder::decode_with_custom_compression(
            &mut bytes,
            Some(|b: &mut Bytes, c| bounded.decompress(b, c)),
        )?;
        Ok(set.records[0].value.as_ref().map_or(0, Bytes::len))
    }

    #[test]
    fn a_batch_within_the_budget_decompresses_and_one_past_it_is_refused() {
        for compression in EVERY_COMPRESSION {
            // A megabyte of zeros compresses to a few kilobytes at most.
            let bytes = batch(compression, 1 << 20);
            assert!(bytes.len() < (1 << 20) || compression == Compression::None);
            assert_eq!(
                decode(bytes.clone(), 2 << 20).unwrap(),
                1 << 20,
                "{compression:?}"
            );
            let refused = decode(bytes, 64 << 10).unwrap_err().to_string();
            assert!(
                refused.contains("max_request_bytes"),
                "{compression:?}: {refused}"
            );
        }
    }
}
