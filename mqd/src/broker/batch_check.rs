//! Checking a binary produce body (record batches back to back, in either encoding) before
//! anything of it is appended: each batch's length, CRC and records (a compressed Kafka batch's
//! inflated within the body's budget), each record's size, and the body's record count. Checked
//! once per request, however often the append waits for a producer's earlier batches.

use super::topic::BatchLimits;
use super::BrokerError;
use crate::log::{InflateError, Inflater};
use mq_wire::batch::{BatchError, BatchHeader, BatchView};

/// A body that passed [`check_batches`]: where each batch starts, its header, and its records'
/// key and value bytes.
#[derive(Debug)]
pub(super) struct CheckedBody {
    pub spans: Vec<(usize, BatchHeader, u64)>,
}

pub(super) fn check_batches(body: &[u8], limits: &BatchLimits) -> Result<CheckedBody, BrokerError> {
    let mut spans = Vec::new();
    let mut at = 0usize;
    let mut records = 0usize;
    let inflater = Inflater::new(limits.max_inflated_bytes);
    while at < body.len() {
        let invalid = |source| BrokerError::InvalidBatch { at, source };
        let (batch, _) = BatchView::parse(&body[at..]).map_err(invalid)?;
        // A compressed Kafka batch is stored as it came; its records are checked inflated.
        let inflated;
        let checked = if batch.header.compression() != 0 {
            inflated = inflater.inflate(&batch).map_err(|error| match error {
                InflateError::TooLarge { max } => BrokerError::InflatesTooLarge { at, max },
                InflateError::Invalid(source) => invalid(source),
            })?;
            BatchView::parse(&inflated).map_err(invalid)?.0
        } else {
            batch
        };
        // One pass over the records: the batch's own checks, the size limit, the payload.
        let mut too_large = None;
        let mut payload = 0u64;
        checked
            .validate_visiting(|index, record| {
                payload += record.payload_len() as u64;
                if too_large.is_some() {
                    return;
                }
                let size = record.payload_len()
                    + record
                        .headers()
                        .map(|h| h.key.len() + h.value.len())
                        .sum::<usize>();
                if size as u64 > limits.max_record_bytes {
                    too_large = Some((index as usize, size));
                }
            })
            .map_err(invalid)?;
        if batch.header.record_count == 0 {
            return Err(invalid(BatchError::CountMismatch {
                declared: 0,
                found: 0,
            }));
        }
        if let Some((index, size)) = too_large {
            return Err(BrokerError::RecordTooLarge {
                index: records + index,
                size,
                max: limits.max_record_bytes,
            });
        }
        records += batch.header.record_count as usize;
        spans.push((at, batch.header, payload));
        at += batch.header.batch_len as usize;
    }
    if records > limits.max_batch_records as usize {
        return Err(BrokerError::TooManyRecords {
            count: records,
            max: limits.max_batch_records,
        });
    }
    Ok(CheckedBody { spans })
}
