//! Cluster status: the nodes, their roles and health. A single node reports itself alone.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    /// A node running alone: no `[cluster]` section, it owns every partition.
    Standalone,
    /// The node leading the metadata Raft group.
    Controller,
    /// A cluster node that is not the controller.
    #[serde(alias = "follower")]
    Broker,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeStatus {
    pub id: u64,
    /// Where the node's HTTP API listens.
    pub address: String,
    pub role: NodeRole,
    /// `ok`, or why the node is not serving.
    pub health: String,
    /// `alive` or `down` as the controller last decided; `unknown` for a configured node that
    /// never reported.
    #[serde(default = "alive")]
    pub state: String,
    /// When the node entered `state` (RFC 3339), when the cluster knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Partitions this node leads.
    #[serde(default)]
    pub partitions_led: u32,
    /// Partition copies this node holds as a follower.
    #[serde(default)]
    pub partitions_followed: u32,
}

fn alive() -> String {
    "alive".to_owned()
}

/// `GET /v1/cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterStatus {
    /// The node that answered.
    pub node_id: u64,
    /// The controller as the answering node knows it (itself when standalone); absent while no
    /// controller is elected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<u64>,
    pub nodes: Vec<NodeStatus>,
    /// Partitions with fewer in-sync replicas than replicas.
    #[serde(default)]
    pub under_replicated_partitions: u32,
    /// Partitions whose leader is down and no in-sync replica can take over: they refuse
    /// produce and fetch until it comes back.
    #[serde(default)]
    pub offline_partitions: u32,
}
