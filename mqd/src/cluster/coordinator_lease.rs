//! The coordinator lease: how long this node may still act as the coordinator of the groups its
//! slots hold, without asking anyone. A group's live state (members, generations, positions of
//! the server-side fetch) lives only in its coordinator's memory, so a coordinator that lost its
//! slot without knowing it (it was paused, or cut off, while the controller moved the slot) would
//! go on serving fetches from positions the new coordinator's members have read and committed
//! past. The lease stops it.
//!
//! - **Granted by the controller.** Each liveness report is answered, once the controller has
//!   confirmed its leadership with a majority, with the controller's read index. The lease then
//!   runs for [`CoordinatorLease::duration`] from the moment the report was *sent*, and counts
//!   only once this node has applied that index: every slot move committed before the answer is
//!   then known here.
//! - **Honoured by a new holder.** A node that gains a slot waits one lease duration (from the
//!   moment it applied the move) before it serves that slot's groups: any lease the previous
//!   holder got before the move has run out by then, and any it got after shows it the move.
//!
//! So at no moment do two nodes serve one group. The clocks compared are durations measured on
//! each node from events in a known order (report sent, then move committed, then move applied),
//! so only their rates matter, never their offsets.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// One answered report: sent at `sent`, valid once `index` is applied here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Grant {
    sent: Instant,
    index: u64,
}

/// Why this node may not serve a group's coordinator slot right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseLapse {
    /// No answered report within the lease duration (paused, cut off, no controller).
    Expired,
    /// The slot came here less than a lease duration ago.
    SlotSettling { ready_in: Duration },
}

impl std::fmt::Display for LeaseLapse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LeaseLapse::Expired => write!(
                f,
                "this node has not been confirmed by the controller lately, so it may have lost the group's slot"
            ),
            LeaseLapse::SlotSettling { ready_in } => write!(
                f,
                "the group's slot came to this node a moment ago; it serves the group in {} ms, once the previous coordinator's lease has run out",
                ready_in.as_millis().max(1)
            ),
        }
    }
}

#[derive(Debug)]
pub struct CoordinatorLease {
    duration: Duration,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// The newest grant whose index is applied here.
    current: Option<Grant>,
    /// A newer grant whose index is not applied yet.
    pending: Option<Grant>,
    /// When each slot this node holds came to it (as applied here).
    gained: HashMap<u32, Instant>,
}

impl CoordinatorLease {
    pub fn new(duration: Duration) -> Self {
        CoordinatorLease {
            duration,
            inner: Mutex::new(Inner::default()),
        }
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// The controller answered a report sent at `sent` with its read index `index`.
    pub fn grant(&self, sent: Instant, index: u64, applied: u64) {
        let grant = Grant { sent, index };
        let mut inner = self.inner.lock();
        if index <= applied {
            if inner.current.is_none_or(|c| c.sent < sent) {
                inner.current = Some(grant);
            }
            if inner.pending.is_some_and(|p| p.sent <= sent) {
                inner.pending = None;
            }
        } else if inner.pending.is_none_or(|p| p.sent < sent) {
            inner.pending = Some(grant);
        }
    }

    /// Slot `slot` came to this node at `at` (when the move was applied here).
    pub fn slot_gained(&self, slot: u32, at: Instant) {
        self.inner.lock().gained.insert(slot, at);
    }

    /// Slot `slot` left this node.
    pub fn slot_lost(&self, slot: u32) {
        self.inner.lock().gained.remove(&slot);
    }

    /// Whether this node may serve the groups of `slot` at `now`, having applied `applied`.
    pub fn check(&self, slot: u32, now: Instant, applied: u64) -> Result<(), LeaseLapse> {
        let mut inner = self.inner.lock();
        if let Some(pending) = inner.pending {
            if pending.index <= applied {
                inner.pending = None;
                if inner.current.is_none_or(|c| c.sent < pending.sent) {
                    inner.current = Some(pending);
                }
            }
        }
        let confirmed = inner.current.is_some_and(|c| now < c.sent + self.duration);
        if !confirmed {
            return Err(LeaseLapse::Expired);
        }
        let Some(&gained) = inner.gained.get(&slot) else {
            // Never recorded as gained: not held as far as this node's reconciliation knows.
            return Err(LeaseLapse::SlotSettling {
                ready_in: self.duration,
            });
        };
        let ready = gained + self.duration;
        if now < ready {
            return Err(LeaseLapse::SlotSettling {
                ready_in: ready - now,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEASE: Duration = Duration::from_millis(400);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_grant_counts_from_when_the_report_was_sent_until_the_lease_runs_out() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(3, t0);
        assert_eq!(
            lease.check(3, t0 + ms(500), 10),
            Err(LeaseLapse::Expired),
            "no grant yet"
        );
        lease.grant(t0 + ms(450), 10, 10);
        assert_eq!(lease.check(3, t0 + ms(500), 10), Ok(()));
        assert_eq!(lease.check(3, t0 + ms(849), 10), Ok(()));
        assert_eq!(
            lease.check(3, t0 + ms(850), 10),
            Err(LeaseLapse::Expired),
            "a paused node finds its lease gone when it resumes"
        );
    }

    #[test]
    fn a_grant_counts_only_once_its_index_is_applied_here() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(1, t0);
        lease.grant(t0 + ms(500), 42, 40);
        assert_eq!(
            lease.check(1, t0 + ms(510), 41),
            Err(LeaseLapse::Expired),
            "the answer may name a slot move this node has not applied"
        );
        assert_eq!(lease.check(1, t0 + ms(520), 42), Ok(()));
    }

    #[test]
    fn an_older_grant_still_counts_while_a_newer_one_waits_for_its_index() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(1, t0);
        lease.grant(t0 + ms(500), 5, 5);
        lease.grant(t0 + ms(600), 9, 5);
        assert_eq!(lease.check(1, t0 + ms(850), 5), Ok(()));
        assert_eq!(lease.check(1, t0 + ms(950), 5), Err(LeaseLapse::Expired));
        assert_eq!(lease.check(1, t0 + ms(950), 9), Ok(()));
    }

    #[test]
    fn a_slot_just_gained_waits_a_lease_duration_and_one_never_gained_is_refused() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(7, t0 + ms(1000));
        lease.grant(t0 + ms(1050), 1, 1);
        assert!(matches!(
            lease.check(7, t0 + ms(1100), 1),
            Err(LeaseLapse::SlotSettling { ready_in }) if ready_in == ms(300)
        ));
        assert_eq!(lease.check(7, t0 + ms(1400), 1), Ok(()));
        assert!(matches!(
            lease.check(8, t0 + ms(1400), 1),
            Err(LeaseLapse::SlotSettling { .. })
        ));
        lease.slot_lost(7);
        assert!(lease.check(7, t0 + ms(1400), 1).is_err());
    }
}
