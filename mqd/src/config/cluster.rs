//! `[cluster]`: the nodes that form one cluster. Every node's file has the same section; only
//! `[node]` differs. A file without it is a cluster of one, exactly the single node of before.

use super::HumanDuration;
use serde::Deserialize;
use std::collections::HashSet;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Every node of the cluster, this one included.
    pub nodes: Vec<ClusterNode>,
    /// How often the controller (the Raft leader) sends heartbeats to the other nodes.
    #[serde(default = "default_heartbeat_interval")]
    pub heartbeat_interval: HumanDuration,
    /// A node that hears no heartbeat for a random time between this and twice this starts an
    /// election.
    #[serde(default = "default_election_timeout")]
    pub election_timeout: HumanDuration,
    /// A node that has not reported to the controller for this long is marked down.
    #[serde(default = "default_node_session_timeout")]
    pub node_session_timeout: HumanDuration,
    /// A follower that has not caught up with its leader for this long leaves the ISR (Kafka's
    /// `replica.lag.time.max.ms`).
    #[serde(default = "default_replica_lag_max")]
    pub replica_lag_max: HumanDuration,
    /// How long an `acks=all` produce waits for the in-sync replicas before it answers
    /// `504 replication_timeout`.
    #[serde(default = "default_replication_timeout")]
    pub replication_timeout: HumanDuration,
    /// The local IP address this node's connections to other nodes start from (on a host with
    /// several); the system picks one when absent.
    #[serde(default)]
    pub source_address: Option<std::net::IpAddr>,
}

fn default_replica_lag_max() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

fn default_replication_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(10))
}

/// One `{ id, addr, kafka }` of `cluster.nodes`: the address other nodes and clients reach it at,
/// and, when it runs a Kafka listener, the `host:port` Kafka clients reach that at.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterNode {
    pub id: u64,
    pub addr: String,
    #[serde(default)]
    pub kafka: Option<String>,
}

fn default_heartbeat_interval() -> HumanDuration {
    HumanDuration(Duration::from_millis(250))
}

fn default_election_timeout() -> HumanDuration {
    HumanDuration(Duration::from_millis(1000))
}

fn default_node_session_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(3))
}

impl ClusterConfig {
    /// Refuses a cluster that cannot work: returns the key and why.
    pub fn validate(&self, node_id: u64) -> Result<(), (&'static str, String)> {
        if self.nodes.is_empty() {
            return Err(("cluster.nodes", "must list at least this node".to_owned()));
        }
        let mut ids = HashSet::new();
        let mut addrs = HashSet::new();
        for node in &self.nodes {
            if !ids.insert(node.id) {
                return Err((
                    "cluster.nodes",
                    format!("node id {} is listed twice", node.id),
                ));
            }
            if !valid_addr(&node.addr) {
                return Err((
                    "cluster.nodes",
                    format!(
                        "node {}: `{}` is not a host:port address",
                        node.id, node.addr
                    ),
                ));
            }
            if let Some(kafka) = node.kafka.as_deref().filter(|a| !valid_addr(a)) {
                return Err((
                    "cluster.nodes",
                    format!(
                        "node {}: kafka `{kafka}` is not a host:port address",
                        node.id
                    ),
                ));
            }
            if !addrs.insert(node.addr.to_ascii_lowercase()) {
                return Err((
                    "cluster.nodes",
                    format!("address {} is listed twice", node.addr),
                ));
            }
        }
        if !ids.contains(&node_id) {
            return Err((
                "node.id",
                format!("node {node_id} is not one of cluster.nodes"),
            ));
        }
        if self.heartbeat_interval.is_zero() {
            return Err((
                "cluster.heartbeat_interval",
                "must be more than 0s".to_owned(),
            ));
        }
        if self.election_timeout.0 <= self.heartbeat_interval.0 * 2 {
            return Err((
                "cluster.election_timeout",
                "must be more than twice cluster.heartbeat_interval".to_owned(),
            ));
        }
        if self.replica_lag_max.is_zero() {
            return Err(("cluster.replica_lag_max", "must be more than 0s".to_owned()));
        }
        if self.replication_timeout.is_zero() {
            return Err((
                "cluster.replication_timeout",
                "must be more than 0s".to_owned(),
            ));
        }
        if self.node_session_timeout.0 <= self.heartbeat_interval.0 {
            return Err((
                "cluster.node_session_timeout",
                "must be more than cluster.heartbeat_interval".to_owned(),
            ));
        }
        Ok(())
    }

    /// This node's entry.
    pub fn node(&self, id: u64) -> Option<&ClusterNode> {
        self.nodes.iter().find(|node| node.id == id)
    }
}

/// `host:port` with a port number.
fn valid_addr(addr: &str) -> bool {
    match addr.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}
