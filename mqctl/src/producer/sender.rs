//! One partition's sender: sends its batches with up to `window` requests in flight, in sequence
//! order, and keeps that order through failures, as Kafka's idempotent
//! producer does.
//!
//! The broker takes a producer's batch only when its sequence is the next one (`409
//! out_of_order_sequence` otherwise), so batches in flight behind one that failed are refused
//! rather than stored out of order. On any failure the sender lets the window drain, then resends
//! what failed one batch at a time, in order, with retries, before it pipelines again. A batch
//! that fails for good leaves a gap in the sequences: the sender starts a new producer epoch, and
//! every batch not yet sent in it is stamped with the new epoch and sequences from 0. A batch
//! refused because one record is too large is resent record by record, so only that record's line
//! fails.

use super::{Outcome, ProducerProgress, Sealed};
use crate::{Client, ClientError};
use futures_util::stream::{FuturesOrdered, StreamExt};
use mq_wire::api::Acks;
use mq_wire::batch::{restamp_producer, BatchBuilder, BatchHeader, RecordInput};
use mq_wire::ErrorCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// Most requests one partition may have in flight (Kafka's idempotent producer allows five).
pub const MAX_IN_FLIGHT_PER_PARTITION: usize = 5;

/// One partition's sender: what its requests share, and what only the sender loop uses.
pub struct SenderContext {
    pub shared: Shared,
    /// Requests this partition may have in flight.
    pub window: usize,
    pub in_flight: Arc<Semaphore>,
    pub batches: mpsc::Receiver<Sealed>,
}

/// The producer epoch batches go out with now, and the next sequence in it once it is not the
/// first (the producer stamps epoch 0's batches as it seals them).
#[derive(Debug, Clone, Copy, Default)]
struct Stamp {
    epoch: i16,
    next_sequence: i32,
}

impl Stamp {
    /// `batch` as it must go out: unchanged when it was stamped in the current epoch, else
    /// restamped with the current epoch and the next sequence.
    fn apply(&mut self, batch: Sealed) -> Sealed {
        let Ok(header) = BatchHeader::read(&batch.bytes) else {
            return batch;
        };
        if header.producer_epoch == self.epoch {
            return batch;
        }
        let mut bytes = batch.bytes.to_vec();
        restamp_producer(&mut bytes, self.epoch, self.next_sequence);
        self.next_sequence = self.next_sequence.wrapping_add(header.record_count as i32);
        Sealed {
            bytes: bytes::Bytes::from(bytes),
            ..batch
        }
    }

    /// A batch failed for good: its sequences will never be stored, so the batches after it go
    /// out in a new epoch.
    fn gap(&mut self) {
        self.epoch = self.epoch.wrapping_add(1).max(1);
        self.next_sequence = 0;
    }
}

type InFlight = futures_util::future::BoxFuture<
    'static,
    (Sealed, Result<(), ClientError>, OwnedSemaphorePermit),
>;

pub async fn send_batches(context: SenderContext) {
    let SenderContext {
        shared,
        window: most,
        in_flight,
        mut batches,
    } = context;
    let context_ref = Arc::new(shared);
    let mut stamp = Stamp::default();
    let mut window: FuturesOrdered<InFlight> = FuturesOrdered::new();
    let mut input_open = true;
    // A batch taken from the queue that found no free permit while requests were in flight.
    let mut held: Option<Sealed> = None;
    loop {
        // Fill the window while batches are there; wait for one only when nothing is in flight.
        // A permit (the producer's limit over all partitions) is waited for only with nothing in
        // flight here: a sender that waited while holding permits whose requests it does not
        // poll could starve every other sender, and itself.
        while window.len() < most {
            let batch = match held.take() {
                Some(batch) => batch,
                None if !input_open => break,
                None if window.is_empty() => match batches.recv().await {
                    Some(batch) => batch,
                    None => {
                        input_open = false;
                        break;
                    }
                },
                None => match batches.try_recv() {
                    Ok(batch) => batch,
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => {
                        input_open = false;
                        break;
                    }
                },
            };
            if failed_unsent(&context_ref, &batch) {
                continue;
            }
            let permit = if window.is_empty() {
                match Arc::clone(&in_flight).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                }
            } else {
                match Arc::clone(&in_flight).try_acquire_owned() {
                    Ok(permit) => permit,
                    Err(TryAcquireError::NoPermits) => {
                        held = Some(batch);
                        break;
                    }
                    Err(TryAcquireError::Closed) => return,
                }
            };
            let batch = stamp.apply(batch);
            let shared = Arc::clone(&context_ref);
            window.push_back(Box::pin(async move {
                let sent = shared.send_once(&batch).await;
                (batch, sent, permit)
            }));
        }
        let Some((batch, sent, permit)) = window.next().await else {
            if input_open || held.is_some() {
                continue;
            }
            return;
        };
        drop(permit);
        match sent {
            Ok(()) => context_ref.acknowledged(&batch),
            Err(error) => {
                // Everything in flight behind it was sent out of turn: let it come back, then
                // resend in order.
                let mut again = vec![(batch, error)];
                while let Some((batch, sent, permit)) = window.next().await {
                    drop(permit);
                    match sent {
                        Ok(()) => context_ref.acknowledged(&batch),
                        Err(error) => again.push((batch, error)),
                    }
                }
                for (batch, error) in again {
                    let Ok(_permit) = in_flight.acquire().await else {
                        return;
                    };
                    context_ref.recover(&mut stamp, batch, error).await;
                }
            }
        }
    }
}

/// What a partition's requests need, in flight and when resent.
pub struct Shared {
    pub client: Client,
    pub acks: Acks,
    pub topic: String,
    pub partition: u32,
    pub retries: u32,
    pub outcomes: mpsc::UnboundedSender<Outcome>,
    pub progress: Arc<ProducerProgress>,
}

impl Shared {
    /// One attempt.
    async fn send_once(&self, batch: &Sealed) -> Result<(), ClientError> {
        self.client
            .produce_batches(&self.topic, self.partition, batch.bytes.clone(), self.acks)
            .await
            .map(|_| ())
    }

    fn acknowledged(&self, batch: &Sealed) {
        self.progress
            .acknowledged_records
            .fetch_add(batch.records, Ordering::Relaxed);
        self.progress
            .acknowledged_bytes
            .fetch_add(batch.payload, Ordering::Relaxed);
    }

    /// Resends a batch whose first attempt failed with `error`, alone, until it is acknowledged
    /// or fails for good (then its lines are reported and the epoch moves on).
    async fn recover(&self, stamp: &mut Stamp, batch: Sealed, error: ClientError) {
        if self.progress.halted().is_some() {
            fail(self, batch.lines, &error);
            return;
        }
        let batch = stamp.apply(batch);
        let outcome = match self.resend(stamp, batch, Some(error)).await {
            Ok(()) => return,
            Err(failed) => failed,
        };
        let (batch, error) = outcome;
        if batch.records > 1 && error.code() == Some(ErrorCode::RecordTooLarge) {
            for single in split(&batch) {
                if failed_unsent(self, &single) {
                    continue;
                }
                let single = stamp.apply(single);
                if let Err((single, error)) = self.resend(stamp, single, None).await {
                    fail(self, single.lines, &error);
                    stamp.gap();
                }
            }
            return;
        }
        fail(self, batch.lines, &error);
        stamp.gap();
    }

    /// Sends `batch` until acknowledged, retrying retriable errors (`first_error` counts as the
    /// first attempt). An out-of-order refusal of a batch sent alone means the broker lost this
    /// producer's earlier batches (a leader lost under `acks=1`): the batch goes again in a new
    /// epoch.
    async fn resend(
        &self,
        stamp: &mut Stamp,
        mut batch: Sealed,
        first_error: Option<ClientError>,
    ) -> Result<(), (Sealed, ClientError)> {
        let mut attempt = 0u32;
        // Out-of-order refusals are not retries: the first came from being sent out of turn,
        // the second (sent alone) starts a new epoch; a third is an error.
        let mut out_of_turn = 0u32;
        let mut last = first_error;
        loop {
            if let Some(error) = last.take() {
                if error.code() == Some(ErrorCode::OutOfOrderSequence) && out_of_turn < 2 {
                    out_of_turn += 1;
                    if out_of_turn == 2 {
                        stamp.gap();
                        batch = stamp.apply(batch);
                    }
                } else if attempt < self.retries && retriable(&error) {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
                } else {
                    if halts(&error) {
                        let _ = self.progress.halted.set(error.to_string());
                    }
                    return Err((batch, error));
                }
            }
            match self.send_once(&batch).await {
                Ok(()) => {
                    self.acknowledged(&batch);
                    return Ok(());
                }
                Err(error) => last = Some(error),
            }
        }
    }
}

/// Once the producer has halted, a batch fails without being sent; says whether this one did.
fn failed_unsent(shared: &Shared, batch: &Sealed) -> bool {
    let Some(reason) = shared.progress.halted() else {
        return false;
    };
    let _ = shared.outcomes.send(Outcome::Failed {
        lines: batch.lines.clone(),
        error: format!("not sent: {reason}"),
    });
    true
}

fn fail(shared: &Shared, lines: Vec<u64>, error: &ClientError) {
    let _ = shared.outcomes.send(Outcome::Failed {
        lines,
        error: error.to_string(),
    });
}

/// A batch as single-record batches, record i keeping the batch's epoch and sequence
/// `base_sequence + i`, so the broker's idempotence still recognises each one.
fn split(batch: &Sealed) -> Vec<Sealed> {
    let Ok((view, _)) = mq_wire::batch::BatchView::parse(&batch.bytes) else {
        return Vec::new();
    };
    let header = view.header;
    view.records()
        .filter_map(Result::ok)
        .zip(&batch.lines)
        .enumerate()
        .map(|(index, (record, &line))| {
            let headers: Vec<(&str, &[u8])> = record.headers().map(|h| (h.key, h.value)).collect();
            let mut builder = BatchBuilder::default();
            builder.set_producer(
                header.producer_id,
                header.producer_epoch,
                header.base_sequence.wrapping_add(index as i32),
            );
            builder.push(&RecordInput {
                // The producer's own batches always carry ids.
                id: record.id.unwrap_or_else(uuid::Uuid::now_v7),
                timestamp: record.timestamp,
                key: record.key,
                value: record.value_or_null(),
                headers: &headers,
            });
            Sealed {
                bytes: bytes::Bytes::from(builder.finish()),
                records: 1,
                lines: vec![line],
                payload: record.payload_len() as u64,
            }
        })
        .collect()
}

/// Errors that may pass: the node unreachable or overloaded.
fn retriable(error: &ClientError) -> bool {
    if halts(error) {
        return false;
    }
    match error {
        // Batches carry the producer id and sequence: a resend is deduplicated.
        ClientError::Unreachable { .. } | ClientError::NoAnswer { .. } => true,
        ClientError::Decode { status, .. } => *status >= 500,
        ClientError::Api { status, .. } => *status >= 500,
        ClientError::BadServer(_) => false,
    }
}

/// A full node: retrying every remaining batch with back-off would take minutes to fail a large
/// input, so the first refusal ends the run (retention frees room on its own schedule, not
/// within a retry's back-off).
fn halts(error: &ClientError) -> bool {
    error.code() == Some(ErrorCode::MemoryLimitExceeded)
}
