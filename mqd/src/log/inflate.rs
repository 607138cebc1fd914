//! Compressed Kafka batches are stored as their producers sent them; this inflates one into its
//! uncompressed equivalent (same header, codec bits cleared, records decompressed, new length
//! and CRC) for whoever needs its records: the append's validation, HTTP and group fetches
//! (their clients read records, and mq's binary clients carry no codecs), time lookups, and a
//! Kafka fetch that must cut a batch at the high watermark. A Kafka fetch of whole batches and
//! replication hand the stored bytes on untouched.

use super::decompress::BoundedDecompressor;
use super::LogError;
use kafka_protocol::records::Compression;
use mq_wire::batch::{BatchError, BatchIter, BatchView};

/// A stored batch was checked to inflate within `limits.max_request_bytes` at its append; reading
/// it back is bounded by this only so that a corrupt one cannot ask for everything.
const STORED_INFLATE_BOUND: usize = 1 << 40;

/// Why a compressed batch was not inflated.
#[derive(Debug, thiserror::Error)]
pub enum InflateError {
    #[error("the records decompress to more than the {max} bytes allowed")]
    TooLarge { max: usize },
    #[error(transparent)]
    Invalid(#[from] BatchError),
}

/// Decompresses the records of compressed Kafka batches within one budget.
pub struct Inflater {
    decompressor: BoundedDecompressor,
    budget: usize,
}

impl Inflater {
    /// An inflater that decompresses at most `budget` bytes in all.
    pub fn new(budget: usize) -> Self {
        Inflater {
            decompressor: BoundedDecompressor::new(budget),
            budget,
        }
    }

    /// `batch` (compressed) as an uncompressed batch, its CRC checked first.
    pub fn inflate(&self, batch: &BatchView<'_>) -> Result<Vec<u8>, InflateError> {
        batch.check_crc()?;
        let codec = match batch.header.compression() {
            1 => Compression::Gzip,
            2 => Compression::Snappy,
            3 => Compression::Lz4,
            4 => Compression::Zstd,
            _ => return Err(BatchError::KafkaAttributes(batch.header.attributes).into()),
        };
        let records = self
            .decompressor
            .inflate(batch.record_bytes(), codec)
            .map_err(|e| {
                if self.decompressor.exceeded() {
                    InflateError::TooLarge { max: self.budget }
                } else {
                    BatchError::Inflate(e.to_string()).into()
                }
            })?;
        Ok(batch.uncompressed_with(&records)?)
    }
}

/// `bytes` (whole stored batches) with every compressed Kafka batch inflated: `bytes` itself,
/// unmoved, when it holds none. Inflated bytes pass `max_bytes` by one batch at most: the
/// batches after the one that passes it are left out (the first batch always comes back, so a
/// reader progresses), because a few kilobytes stored may inflate to a request's worth.
pub fn inflate_stored(bytes: Vec<u8>, max_bytes: usize) -> Result<Vec<u8>, LogError> {
    let compressed = BatchIter::new(&bytes)
        .filter_map(Result::ok)
        .any(|batch| batch.header.compression() != 0);
    if !compressed {
        return Ok(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len().min(max_bytes));
    for batch in BatchIter::new(&bytes) {
        if !out.is_empty() && out.len() >= max_bytes {
            break;
        }
        let batch = batch?;
        if batch.header.compression() == 0 {
            out.extend_from_slice(batch.as_bytes());
            continue;
        }
        out.extend_from_slice(&inflate_stored_batch(&batch)?);
    }
    Ok(out)
}

/// One stored compressed batch inflated (a time lookup, a Kafka fetch cutting it).
pub fn inflate_stored_batch(batch: &BatchView<'_>) -> Result<Vec<u8>, LogError> {
    Inflater::new(STORED_INFLATE_BOUND)
        .inflate(batch)
        .map_err(|e| LogError::Corrupt(format!("a stored compressed batch: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::decompress::{kafka_batch, EVERY_COMPRESSION};
    use super::*;

    #[test]
    fn each_codecs_batch_inflates_to_the_uncompressed_one() {
        let plain = kafka_batch(Compression::None, &["one", "two", "three"]);
        for compression in EVERY_COMPRESSION {
            let stored = kafka_batch(compression, &["one", "two", "three"]);
            let mut run = plain.clone();
            run.extend_from_slice(&stored);
            let inflated = inflate_stored(run, usize::MAX).unwrap();
            let batches: Vec<BatchView<'_>> =
                BatchIter::new(&inflated).map(Result::unwrap).collect();
            assert_eq!(batches.len(), 2);
            assert_eq!(batches[1].as_bytes(), &plain[..], "{compression:?}");
            batches[1].validate().unwrap();
            let values: Vec<&[u8]> = batches[1].records().map(|r| r.unwrap().value).collect();
            assert_eq!(values, vec![&b"one"[..], b"two", b"three"]);
        }
    }

    #[test]
    fn a_read_inflates_past_max_bytes_by_one_batch_at_most() {
        let zeros = "0".repeat(100_000);
        let one = kafka_batch(Compression::Zstd, &[&zeros]);
        let run: Vec<u8> = (0..10).flat_map(|_| one.clone()).collect();
        assert!(run.len() < 10_000, "ten batches of 100 kB, compressed");
        let first_only = inflate_stored(run.clone(), 1).unwrap();
        assert_eq!(BatchIter::new(&first_only).count(), 1);
        let three = inflate_stored(run.clone(), 250_000).unwrap();
        assert_eq!(BatchIter::new(&three).count(), 3);
        let all = inflate_stored(run, usize::MAX).unwrap();
        assert_eq!(BatchIter::new(&all).count(), 10);
    }

    #[test]
    fn a_batch_past_the_budget_or_damaged_is_refused_and_a_run_without_one_is_not_copied() {
        let zeros = "0".repeat(100_000);
        let stored = kafka_batch(Compression::Zstd, &[&zeros]);
        let (view, _) = BatchView::parse(&stored).unwrap();
        assert!(Inflater::new(200_000).inflate(&view).is_ok());
        assert!(matches!(
            Inflater::new(50_000).inflate(&view),
            Err(InflateError::TooLarge { max: 50_000 })
        ));
        let mut damaged = stored.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 0xff;
        let (view, _) = BatchView::parse(&damaged).unwrap();
        assert!(matches!(
            Inflater::new(200_000).inflate(&view),
            Err(InflateError::Invalid(BatchError::BadCrc { .. }))
        ));
        let plain = kafka_batch(Compression::None, &["a"]);
        let pointer = plain.as_ptr();
        let returned = inflate_stored(plain, 1).unwrap();
        assert_eq!(returned.as_ptr(), pointer);
    }
}
