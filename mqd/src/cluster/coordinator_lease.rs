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
//! - **Honoured by a new holder.** A node that gains a slot (or gets it back at a new epoch)
//!   waits one lease duration and a quarter (from the moment it applied the move) before it
//!   serves that slot's groups: any lease the previous holder got before the move has run out by
//!   then, and any it got after shows it the move. Until this node's reconciliation has recorded
//!   the slot at its current epoch (and dropped the groups of older epochs), it does not serve it.
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

impl Inner {
    /// Makes a pending grant current once its index is applied.
    fn promote(&mut self, applied: u64) {
        if let Some(pending) = self.pending {
            if pending.index <= applied {
                self.pending = None;
                if self.current.is_none_or(|c| c.sent < pending.sent) {
                    self.current = Some(pending);
                }
            }
        }
    }
}

#[derive(Debug, Default)]
struct Inner {
    /// The newest grant whose index is applied here.
    current: Option<Grant>,
    /// A newer grant whose index is not applied yet.
    pending: Option<Grant>,
    /// When each slot this node holds came to it (as applied here), and at which slot epoch.
    gained: HashMap<u32, (u64, Instant)>,
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

    /// How long a slot just gained waits: a lease, and a quarter more for clocks that tick at
    /// slightly different rates on different machines.
    fn settle(&self) -> Duration {
        self.duration + self.duration / 4
    }

    /// The controller answered a report sent at `sent` with its read index `index`.
    pub fn grant(&self, sent: Instant, index: u64, applied: u64) {
        let grant = Grant { sent, index };
        let mut inner = self.inner.lock();
        // A pending grant applied since counts before a newer one may take its place.
        inner.promote(applied);
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

    /// Slot `slot` came to this node at slot epoch `epoch`, at `at` (when the move was applied
    /// here).
    pub fn slot_gained(&self, slot: u32, epoch: u64, at: Instant) {
        self.inner.lock().gained.insert(slot, (epoch, at));
    }

    /// Slot `slot` left this node.
    pub fn slot_lost(&self, slot: u32) {
        self.inner.lock().gained.remove(&slot);
    }

    /// Whether this node may serve the groups of `slot`, which the metadata it has applied up to
    /// `applied` gives it at slot epoch `epoch`, at `now`.
    pub fn check(
        &self,
        slot: u32,
        epoch: u64,
        now: Instant,
        applied: u64,
    ) -> Result<(), LeaseLapse> {
        let mut inner = self.inner.lock();
        inner.promote(applied);
        let confirmed = inner.current.is_some_and(|c| now < c.sent + self.duration);
        if !confirmed {
            return Err(LeaseLapse::Expired);
        }
        let gained = match inner.gained.get(&slot) {
            Some(&(gained_epoch, at)) if gained_epoch == epoch => at,
            // Not yet recorded at this epoch: the slot moved (perhaps away and back) and this
            // node's reconciliation has not caught up, so groups of an older epoch may still be
            // in memory here.
            _ => {
                return Err(LeaseLapse::SlotSettling {
                    ready_in: self.settle(),
                })
            }
        };
        let ready = gained + self.settle();
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

    /// A lease of 400 ms: a slot gained settles in 500 ms.
    const LEASE: Duration = Duration::from_millis(400);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_grant_counts_from_when_the_report_was_sent_until_the_lease_runs_out() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(3, 1, t0);
        assert_eq!(
            lease.check(3, 1, t0 + ms(500), 10),
            Err(LeaseLapse::Expired),
            "no grant yet"
        );
        lease.grant(t0 + ms(450), 10, 10);
        assert_eq!(lease.check(3, 1, t0 + ms(500), 10), Ok(()));
        assert_eq!(lease.check(3, 1, t0 + ms(849), 10), Ok(()));
        assert_eq!(
            lease.check(3, 1, t0 + ms(850), 10),
            Err(LeaseLapse::Expired),
            "a paused node finds its lease gone when it resumes"
        );
    }

    #[test]
    fn a_grant_counts_only_once_its_index_is_applied_here() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(1, 1, t0);
        lease.grant(t0 + ms(500), 42, 40);
        assert_eq!(
            lease.check(1, 1, t0 + ms(510), 41),
            Err(LeaseLapse::Expired),
            "the answer may name a slot move this node has not applied"
        );
        assert_eq!(lease.check(1, 1, t0 + ms(520), 42), Ok(()));
    }

    #[test]
    fn an_older_grant_still_counts_while_a_newer_one_waits_for_its_index() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(1, 1, t0);
        lease.grant(t0 + ms(500), 5, 5);
        lease.grant(t0 + ms(600), 9, 5);
        assert_eq!(lease.check(1, 1, t0 + ms(850), 5), Ok(()));
        assert_eq!(lease.check(1, 1, t0 + ms(950), 5), Err(LeaseLapse::Expired));
        assert_eq!(lease.check(1, 1, t0 + ms(950), 9), Ok(()));
    }

    #[test]
    fn a_pending_grant_applied_since_is_kept_when_a_newer_one_arrives() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(1, 1, t0);
        lease.grant(t0 + ms(500), 9, 5);
        // Index 9 is applied by now, 12 not yet: the grant sent at 500 must count.
        lease.grant(t0 + ms(600), 12, 9);
        assert_eq!(lease.check(1, 1, t0 + ms(880), 9), Ok(()));
    }

    #[test]
    fn a_slot_gained_waits_a_lease_and_a_quarter_and_only_at_the_epoch_recorded() {
        let lease = CoordinatorLease::new(LEASE);
        let t0 = Instant::now();
        lease.slot_gained(7, 2, t0 + ms(1000));
        lease.grant(t0 + ms(1300), 1, 1);
        assert!(matches!(
            lease.check(7, 2, t0 + ms(1100), 1),
            Err(LeaseLapse::SlotSettling { ready_in }) if ready_in == ms(400)
        ));
        assert_eq!(lease.check(7, 2, t0 + ms(1500), 1), Ok(()));
        assert!(
            matches!(
                lease.check(7, 3, t0 + ms(1500), 1),
                Err(LeaseLapse::SlotSettling { .. })
            ),
            "back at a newer epoch than this node's reconciliation recorded: not served"
        );
        assert!(matches!(
            lease.check(8, 2, t0 + ms(1500), 1),
            Err(LeaseLapse::SlotSettling { .. })
        ));
        lease.slot_lost(7);
        assert!(lease.check(7, 2, t0 + ms(1500), 1).is_err());
    }
}
