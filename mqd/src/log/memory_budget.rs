//! The node-wide memory limit for stored records. Produce reserves the bytes of its batches up
//! front, all or nothing, so a request either fits whole or is refused with a clear error before
//! anything is appended; eviction and topic deletion give bytes back.
//!
//! It counts the bytes of stored batches, the part of the broker's memory that grows with data; the
//! process's fixed overhead and in-flight requests are bounded by other limits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Debug)]
pub struct MemoryBudget {
    limit: AtomicU64,
    used: AtomicU64,
}

/// Produce would take the node past its memory limit.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("memory limit reached: {used} of {limit} bytes in use, {requested} more requested")]
pub struct MemoryLimitExceeded {
    pub limit: u64,
    pub used: u64,
    pub requested: u64,
}

impl MemoryBudget {
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(MemoryBudget {
            limit: AtomicU64::new(limit),
            used: AtomicU64::new(0),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Changes the limit (a reload). Data already stored stays; past a lowered limit, produce is
    /// refused until enough is evicted.
    pub fn set_limit(&self, limit: u64) {
        self.limit.store(limit, Ordering::Relaxed);
    }

    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Reserves `bytes`, or refuses without reserving anything.
    pub fn try_reserve(self: &Arc<Self>, bytes: u64) -> Result<Reservation, MemoryLimitExceeded> {
        if bytes == 0 {
            // Nothing to store (a retry whose batches are all duplicates): it fits even past a
            // limit lowered below what is held.
            return Ok(Reservation {
                budget: Arc::clone(self),
                bytes: 0,
            });
        }
        let mut used = self.used.load(Ordering::Relaxed);
        let limit = self.limit();
        loop {
            let wanted = used.saturating_add(bytes);
            if wanted > limit {
                return Err(MemoryLimitExceeded {
                    limit,
                    used,
                    requested: bytes,
                });
            }
            match self
                .used
                .compare_exchange_weak(used, wanted, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    return Ok(Reservation {
                        budget: Arc::clone(self),
                        bytes,
                    })
                }
                Err(actual) => used = actual,
            }
        }
    }

    /// Gives back bytes that stored data no longer uses.
    pub fn release(&self, bytes: u64) {
        self.used.fetch_sub(bytes, Ordering::AcqRel);
    }
}

/// Bytes reserved for one produce. Stores [`Reservation::take`] what they keep; whatever is left
/// when the reservation drops goes back to the budget.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Reservation {
    pub fn remaining(&self) -> u64 {
        self.bytes
    }

    /// Moves `bytes` out of the reservation into a store's keeping (the store releases them to the
    /// budget when it evicts them). Returns false, taking nothing, if fewer are reserved.
    pub fn take(&mut self, bytes: u64) -> bool {
        if bytes > self.bytes {
            return false;
        }
        self.bytes -= bytes;
        true
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bytes > 0 {
            self.budget.release(self.bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_up_to_the_limit_and_refuses_past_it() {
        let budget = MemoryBudget::new(100);
        let first = budget.try_reserve(60).unwrap();
        let refused = budget.try_reserve(41).unwrap_err();
        assert_eq!(
            refused,
            MemoryLimitExceeded {
                limit: 100,
                used: 60,
                requested: 41
            }
        );
        let second = budget.try_reserve(40).unwrap();
        assert_eq!(budget.used(), 100);
        drop((first, second));
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn taken_bytes_stay_used_until_released() {
        let budget = MemoryBudget::new(100);
        let mut reservation = budget.try_reserve(50).unwrap();
        assert!(reservation.take(30));
        assert!(!reservation.take(30));
        drop(reservation);
        assert_eq!(budget.used(), 30);
        budget.release(30);
        assert_eq!(budget.used(), 0);
    }
}
