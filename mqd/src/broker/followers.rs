//! On a partition's leader: how far each follower has copied the log, and what follows from it —
//! the high watermark (the lowest log end among the in-sync replicas, as Kafka's) and which
//! followers should leave or rejoin the ISR.
//!
//! A follower is caught up at a fetch that asks for the leader's log end, or that asks for at least
//! the log end the leader had at the follower's previous fetch (it copied everything it was sent
//! then); Kafka's `lastCaughtUpTimeMs` rule. One that has not been caught up for
//! `replica_lag_max` leaves the ISR; one out of it whose log end reaches the high watermark
//! rejoins.

use std::collections::HashMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
struct Progress {
    log_end: u64,
    /// The follower's own log start, as its last fetch said (it follows the leader's: deleted
    /// records, retention).
    log_start: u64,
    caught_up_at: Instant,
    fetched_at: Instant,
    leader_end_at_fetch: u64,
}

#[derive(Debug)]
pub struct Followers {
    progress: HashMap<u64, Progress>,
    /// When this node began leading at the current epoch: a follower not heard from since gets
    /// `replica_lag_max` from then before it leaves the ISR.
    leading_since: Instant,
}

impl Default for Followers {
    fn default() -> Self {
        Followers::new(Instant::now())
    }
}

impl Followers {
    pub fn new(leading_since: Instant) -> Self {
        Followers {
            progress: HashMap::new(),
            leading_since,
        }
    }

    /// A follower whose log starts at `log_start` asked for records from `fetch_offset` (so it
    /// holds everything below it) while the leader's log ended at `leader_end`.
    pub fn fetched(
        &mut self,
        node: u64,
        (log_start, fetch_offset): (u64, u64),
        leader_end: u64,
        now: Instant,
    ) {
        let since = self.leading_since;
        let progress = self.progress.entry(node).or_insert(Progress {
            log_end: fetch_offset,
            log_start,
            caught_up_at: since,
            fetched_at: now,
            leader_end_at_fetch: leader_end,
        });
        if fetch_offset >= leader_end {
            progress.caught_up_at = now;
        } else if fetch_offset >= progress.leader_end_at_fetch {
            progress.caught_up_at = progress.caught_up_at.max(progress.fetched_at);
        }
        progress.log_end = fetch_offset;
        progress.log_start = log_start;
        progress.fetched_at = now;
        progress.leader_end_at_fetch = leader_end;
    }

    /// Forgets a follower that left the ISR: it rejoins only after fetching again.
    pub fn forget(&mut self, node: u64) {
        self.progress.remove(&node);
    }

    /// The log end a follower reported, if it fetched since this node began leading.
    pub fn log_end(&self, node: u64) -> Option<u64> {
        self.progress.get(&node).map(|p| p.log_end)
    }

    /// The log start a follower reported, if it fetched since this node began leading.
    pub fn log_start(&self, node: u64) -> Option<u64> {
        self.progress.get(&node).map(|p| p.log_start)
    }

    /// The lowest log end among the ISR (`me` at `leader_end`); `None` while an ISR follower has
    /// not fetched yet (nothing can be known committed past what was).
    pub fn high_watermark(&self, me: u64, leader_end: u64, isr: &[u64]) -> Option<u64> {
        isr.iter()
            .filter(|&&n| n != me)
            .try_fold(leader_end, |hw, n| {
                self.progress.get(n).map(|p| hw.min(p.log_end))
            })
    }

    /// ISR followers not caught up within `lag_max` of `now`.
    pub fn lagging(&self, me: u64, isr: &[u64], now: Instant, lag_max: Duration) -> Vec<u64> {
        isr.iter()
            .copied()
            .filter(|&n| n != me)
            .filter(|n| {
                let caught_up = self
                    .progress
                    .get(n)
                    .map_or(self.leading_since, |p| p.caught_up_at);
                now.saturating_duration_since(caught_up) > lag_max
            })
            .collect()
    }

    /// Replicas out of the ISR whose log reaches `high_watermark` and that fetched within
    /// `lag_max`: they may rejoin.
    pub fn caught_up(
        &self,
        replicas: &[u64],
        isr: &[u64],
        high_watermark: u64,
        now: Instant,
        lag_max: Duration,
    ) -> Vec<u64> {
        replicas
            .iter()
            .copied()
            .filter(|n| !isr.contains(n))
            .filter(|n| {
                self.progress.get(n).is_some_and(|p| {
                    p.log_end >= high_watermark
                        && now.saturating_duration_since(p.caught_up_at) <= lag_max
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_high_watermark_is_the_lowest_in_sync_log_end() {
        let start = Instant::now();
        let mut followers = Followers::new(start);
        assert_eq!(followers.high_watermark(1, 100, &[1]), Some(100), "alone");
        assert_eq!(
            followers.high_watermark(1, 100, &[1, 2, 3]),
            None,
            "2 and 3 unheard of"
        );
        followers.fetched(2, (0, 80), 100, start);
        followers.fetched(3, (0, 100), 100, start);
        assert_eq!(followers.high_watermark(1, 100, &[1, 2, 3]), Some(80));
        assert_eq!(
            followers.high_watermark(1, 100, &[1, 3]),
            Some(100),
            "2 out of the ISR"
        );
    }

    #[test]
    fn a_follower_that_stops_catching_up_lags_and_one_that_catches_up_may_rejoin() {
        let start = Instant::now();
        let lag = Duration::from_secs(1);
        let at = |ms| start + Duration::from_millis(ms);
        let mut followers = Followers::new(start);
        followers.fetched(2, (0, 0), 0, at(100));
        followers.fetched(3, (0, 0), 0, at(100));
        // The leader's log grows; 2 keeps up (it asks for what the leader had at its last fetch),
        // 3 keeps asking for offset 0.
        for (i, ms) in [300u64, 600, 900, 1200, 1500].into_iter().enumerate() {
            let end = 100 * (i as u64 + 1);
            followers.fetched(2, (0, end - 100), end, at(ms));
            followers.fetched(3, (0, 0), end, at(ms));
        }
        assert_eq!(followers.lagging(1, &[1, 2, 3], at(1500), lag), vec![3]);
        assert!(followers
            .caught_up(&[1, 2, 3], &[1, 2], 400, at(1500), lag)
            .is_empty());
        followers.fetched(3, (0, 500), 500, at(1600));
        assert_eq!(
            followers.caught_up(&[1, 2, 3], &[1, 2], 400, at(1600), lag),
            vec![3]
        );
        let silent = Followers::new(start);
        assert_eq!(
            silent.lagging(1, &[1, 2], at(1001), lag),
            vec![2],
            "never heard from since this node leads"
        );
        assert!(silent.lagging(1, &[1, 2], at(900), lag).is_empty());
    }
}
