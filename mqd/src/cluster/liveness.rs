//! Liveness: every node reports to the controller each `cluster.heartbeat_interval`; the
//! controller marks a node that has not reported for `cluster.node_session_timeout` down (a Raft
//! command, so every node agrees), and up again when it reports. A report with a new incarnation
//! means the node restarted and lost its records: the `NodeUp` command raises its partitions'
//! leader epochs.
//!
//! A node whose reports stop for two intervals is probed: a refused connection (the process is
//! gone; `kill -9` or a crash) marks it down at once instead of after the whole session timeout,
//! so its partitions get new leaders within about a second. A node that is only slow or paused
//! still accepts connections and keeps its full session.
//!
//! The controller answers each report with its Raft read index, after confirming with a majority
//! that it still leads: that answer renews the node's coordinator lease
//! ([`super::coordinator_lease`]).
//!
//! Sessions live only in the controller's memory, as Kafka's broker heartbeats do: a new
//! controller gives every node a full session from the moment it takes over.

use super::metadata::{Command, NodeState};
use super::{Cluster, ClusterError};
use crate::clock::now_ms;
use crate::shutdown::ShutdownSignal;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Where a node's report goes, under the controller's API address.
pub const HEARTBEAT_PATH: &str = "/internal/v1/cluster/heartbeat";

/// What a node tells the controller about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NodeReport {
    pub id: u64,
    pub addr: String,
    pub incarnation: Uuid,
}

/// The controller's answer to a report: its read index, confirmed with a majority after the
/// report arrived. The reporting node's coordinator lease counts once it has applied it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct ReportAnswer {
    pub read_index: u64,
}

#[derive(Default)]
pub struct Sessions {
    inner: Mutex<SessionsInner>,
}

#[derive(Default)]
struct SessionsInner {
    /// The Raft term these sessions were started in.
    term: u64,
    last_seen: HashMap<u64, Instant>,
    /// When each node last reported (a real report, not the grace a new term gives).
    heard: HashMap<u64, Instant>,
    /// When this node saw `term` begin.
    term_started: Option<Instant>,
}

impl SessionsInner {
    /// A new term starts every session afresh.
    fn observe_term(&mut self, term: u64, now: Instant) {
        if self.term != term || self.term_started.is_none() {
            self.term = term;
            self.term_started = Some(now);
            self.last_seen.clear();
        }
    }
}

impl Sessions {
    fn seen(&self, node: u64, at: Instant) {
        let mut inner = self.inner.lock();
        inner.last_seen.insert(node, at);
        inner.heard.insert(node, at);
    }

    /// Whether `node` reported within `within` of `now`.
    fn heard_within(&self, node: u64, now: Instant, within: Duration) -> bool {
        self.inner
            .lock()
            .heard
            .get(&node)
            .is_some_and(|at| now.saturating_duration_since(*at) <= within)
    }

    /// The nodes among `alive` not heard from for more than `after` (but not yet expired).
    fn quiet(&self, alive: &[u64], now: Instant, after: Duration) -> Vec<u64> {
        let inner = self.inner.lock();
        alive
            .iter()
            .copied()
            .filter(|node| {
                inner
                    .last_seen
                    .get(node)
                    .is_some_and(|seen| now.saturating_duration_since(*seen) > after)
            })
            .collect()
    }

    /// The nodes among `alive` whose session ran out. A new term starts every session afresh.
    fn expired(&self, term: u64, alive: &[u64], now: Instant, timeout: Duration) -> Vec<u64> {
        let mut inner = self.inner.lock();
        inner.observe_term(term, now);
        alive
            .iter()
            .copied()
            .filter(|node| {
                let seen = *inner.last_seen.entry(*node).or_insert(now);
                now.duration_since(seen) > timeout
            })
            .collect()
    }
}

impl Cluster {
    /// Three report intervals: a live node has reported within it.
    fn report_window(&self) -> Duration {
        self.settings.heartbeat_interval.0 * 3
    }

    /// On a controller that took over a moment ago: waits until every live node has had time to
    /// report to it, so [`Cluster::placeable`] tells the live from the dead (at most three
    /// heartbeat intervals after the term began).
    pub async fn settle_reports(&self) {
        let term = self.raft.metrics().borrow().current_term;
        let started = {
            let mut inner = self.sessions.inner.lock();
            inner.observe_term(term, Instant::now());
            inner.term_started.unwrap_or_else(Instant::now)
        };
        let ready = started + self.report_window();
        tokio::time::sleep_until(ready.into()).await;
    }

    /// Whether the controller may place a new partition on `node`: it reported within three
    /// heartbeat intervals. A node that died a moment ago is still alive in
    /// the metadata until its session runs out, but gets nothing new.
    pub fn placeable(&self, node: u64) -> bool {
        node == self.node_id
            || self
                .sessions
                .heard_within(node, Instant::now(), self.report_window())
    }

    pub fn report(&self) -> NodeReport {
        NodeReport {
            id: self.node_id,
            addr: self.address_of(self.node_id).unwrap_or_default().to_owned(),
            incarnation: self.incarnation,
        }
    }

    /// On the controller: a node reported in. Proposes `NodeUp` when the metadata does not yet
    /// say it is alive as this very process, then confirms its own leadership with a majority and
    /// answers with its read index.
    pub async fn receive_report(&self, report: NodeReport) -> Result<ReportAnswer, ClusterError> {
        if !self.is_controller() {
            return Err(ClusterError::NotController { node: self.node_id });
        }
        if self.address_of(report.id) != Some(report.addr.as_str()) {
            // Not a node of cluster.nodes (or at another address): it gets nothing placed on it.
            return Err(ClusterError::UnknownNode {
                node: report.id,
                addr: report.addr,
            });
        }
        self.sessions.seen(report.id, Instant::now());
        let applied = self.metadata();
        let current = applied.metadata.nodes.get(&report.id).is_some_and(|n| {
            n.state == NodeState::Alive
                && n.incarnation == report.incarnation
                && n.addr == report.addr
        });
        if !current {
            tracing::info!(node = report.id, addr = %report.addr, "node reported in: marking it alive");
            self.propose(Command::NodeUp {
                id: report.id,
                addr: report.addr,
                incarnation: report.incarnation,
                now_ms: now_ms(),
            })
            .await?;
        }
        // A controller that was paused or cut off may have been replaced, and the slots it knows
        // moved since: only a confirmed leader's read index may renew a lease.
        let confirm = tokio::time::timeout(self.lease.duration(), self.raft.ensure_linearizable());
        match confirm.await {
            Ok(Ok(read)) => Ok(ReportAnswer {
                read_index: read.map_or(0, |log_id| log_id.index),
            }),
            Ok(Err(error)) => Err(ClusterError::ControllerUnavailable(error.to_string())),
            Err(_) => Err(ClusterError::ControllerUnavailable(
                "no majority confirmed this controller within a lease".to_owned(),
            )),
        }
    }

    /// Reports to the controller, and on the controller expires silent nodes, every
    /// `heartbeat_interval` until shutdown.
    pub async fn run_liveness(self: Arc<Self>, stop: ShutdownSignal) {
        // Two loops: an expiry pass that probes silent nodes or waits on a proposal for seconds
        // must not hold back this node's own report, whose answer keeps its coordinator lease.
        let reports = self.every_heartbeat(stop.clone(), || async {
            if let Err(error) = self.send_report().await {
                tracing::debug!(%error, "report to the controller failed");
            }
        });
        let expiry = self.every_heartbeat(stop, || async {
            if self.is_controller() {
                self.expire_sessions().await;
            }
        });
        tokio::join!(reports, expiry);
    }

    /// Runs `step` every `heartbeat_interval` (a late one is not made up) until shutdown.
    async fn every_heartbeat<F, Fut>(&self, stop: ShutdownSignal, mut step: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let mut ticks = tokio::time::interval(self.settings.heartbeat_interval.0);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let stop = stop.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stop => return,
            }
            tokio::select! {
                _ = step() => {}
                _ = &mut stop => return,
            }
        }
    }

    /// Reports to the controller; its answer renews the coordinator lease, counted from now.
    async fn send_report(&self) -> Result<(), ClusterError> {
        let report = self.report();
        let sent = Instant::now();
        let answer = match self.controller() {
            None => return Err(ClusterError::ControllerUnavailable("none elected".into())),
            Some(id) if id == self.node_id => self.receive_report(report).await?,
            Some(id) => {
                let addr = self.address_of(id).unwrap_or_default();
                let unavailable =
                    |e: reqwest::Error| ClusterError::ControllerUnavailable(e.to_string());
                self.http
                    .post(format!("http://{addr}{HEARTBEAT_PATH}"))
                    .timeout(self.lease.duration())
                    .json(&report)
                    .send()
                    .await
                    .and_then(|answer| answer.error_for_status())
                    .map_err(unavailable)?
                    .json::<ReportAnswer>()
                    .await
                    .map_err(unavailable)?
            }
        };
        self.lease
            .grant(sent, answer.read_index, self.metadata().index);
        Ok(())
    }

    /// Whether `node`'s address refuses a TCP connection: nothing listens there any more.
    async fn refuses_connections(&self, node: u64) -> bool {
        let Some(addr) = self.address_of(node) else {
            return false;
        };
        let Ok(target) = tokio::net::lookup_host(addr).await.map(|mut a| a.next()) else {
            return false;
        };
        let Some(target) = target else {
            return false;
        };
        let socket = if target.is_ipv4() {
            tokio::net::TcpSocket::new_v4()
        } else {
            tokio::net::TcpSocket::new_v6()
        };
        let Ok(socket) = socket else {
            return false;
        };
        if let Some(source) = self.settings.source_address {
            if socket.bind(std::net::SocketAddr::new(source, 0)).is_err() {
                return false;
            }
        }
        match tokio::time::timeout(Duration::from_millis(200), socket.connect(target)).await {
            Ok(Err(error)) => error.kind() == std::io::ErrorKind::ConnectionRefused,
            _ => false,
        }
    }

    async fn expire_sessions(&self) {
        let term = self.raft.metrics().borrow().current_term;
        let applied = self.metadata();
        let alive: Vec<u64> = applied
            .metadata
            .live_nodes()
            .into_iter()
            .filter(|&id| id != self.node_id)
            .collect();
        let timeout = self.settings.node_session_timeout.0;
        let now = Instant::now();
        let mut gone = self.sessions.expired(term, &alive, now, timeout);
        let expired = gone.len();
        let quiet = self
            .sessions
            .quiet(&alive, now, self.settings.heartbeat_interval.0 * 2);
        for node in quiet {
            if !gone.contains(&node) && self.refuses_connections(node).await {
                tracing::warn!(
                    node,
                    "node stopped reporting and refuses connections: marking it down"
                );
                gone.push(node);
            }
        }
        for (index, node) in gone.into_iter().enumerate() {
            if index < expired {
                tracing::warn!(
                    node,
                    timeout = ?timeout,
                    "node missed its session (cluster.node_session_timeout): marking it down"
                );
            }
            let down = Command::NodeDown {
                id: node,
                now_ms: now_ms(),
            };
            if let Err(error) = self.propose(down).await {
                tracing::warn!(node, %error, "could not mark the node down");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_silent_node_expires_and_a_new_term_restarts_every_session() {
        let sessions = Sessions::default();
        let start = Instant::now();
        let timeout = Duration::from_secs(3);
        assert!(sessions.expired(1, &[2, 3], start, timeout).is_empty());
        sessions.seen(2, start + Duration::from_secs(2));
        let later = start + Duration::from_secs(4);
        assert_eq!(sessions.expired(1, &[2, 3], later, timeout), vec![3]);
        assert!(
            sessions.expired(2, &[2, 3], later, timeout).is_empty(),
            "a new controller gives every node a full session"
        );
        let second = Duration::from_secs(1);
        assert!(sessions.heard_within(2, start + Duration::from_millis(2500), second));
        assert!(
            !sessions.heard_within(3, later, second),
            "the grace of a new term is not a report"
        );
    }
}
