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
    Follower,
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
}

/// `GET /v1/cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClusterStatus {
    /// The node that answered.
    pub node_id: u64,
    pub nodes: Vec<NodeStatus>,
}
