//! `GET /v1/cluster`: the nodes of the cluster, their roles, states and the partitions each leads.
//! A node alone reports itself as `standalone`.

use super::AppState;
use crate::cluster::metadata::NodeState;
use axum::extract::State;
use axum::Json;
use mq_wire::api::{ClusterStatus, NodeRole, NodeStatus};

/// The nodes of the cluster, their addresses, roles and health (a standalone node alone).
#[utoipa::path(
    get,
    path = "/v1/cluster",
    tag = "cluster",
    responses((status = 200, description = "The nodes", body = ClusterStatus))
)]
pub async fn status(State(state): State<AppState>) -> Json<ClusterStatus> {
    let node_id = state.broker.node_id();
    let Some(cluster) = &state.cluster else {
        let led = state
            .broker
            .topics()
            .iter()
            .map(|t| t.partition_count())
            .sum();
        return Json(ClusterStatus {
            node_id,
            controller: Some(node_id),
            nodes: vec![NodeStatus {
                id: node_id,
                address: state.advertised.clone(),
                role: NodeRole::Standalone,
                health: "ok".to_owned(),
                state: "alive".to_owned(),
                since: None,
                partitions_led: led,
                partitions_followed: 0,
            }],
            under_replicated_partitions: 0,
            offline_partitions: 0,
        });
    };
    let controller = cluster.controller();
    let applied = cluster.metadata();
    let led = applied.metadata.leader_counts();
    let followed = applied.metadata.follower_counts();
    let (under_replicated, offline) = applied.metadata.replication_health();
    let nodes = cluster
        .settings()
        .nodes
        .iter()
        .map(|configured| {
            let known = applied.metadata.nodes.get(&configured.id);
            let (node_state, since) = match known {
                Some(n) if n.state == NodeState::Alive => ("alive", Some(n.since_ms)),
                Some(n) => ("down", Some(n.since_ms)),
                None => ("unknown", None),
            };
            NodeStatus {
                id: configured.id,
                address: format!("http://{}", configured.addr),
                role: if controller == Some(configured.id) {
                    NodeRole::Controller
                } else {
                    NodeRole::Broker
                },
                health: if node_state == "alive" {
                    "ok"
                } else {
                    node_state
                }
                .to_owned(),
                state: node_state.to_owned(),
                since: since.map(crate::clock::format_ms),
                partitions_led: led.get(&configured.id).copied().unwrap_or(0),
                partitions_followed: followed.get(&configured.id).copied().unwrap_or(0),
            }
        })
        .collect();
    Json(ClusterStatus {
        node_id,
        controller,
        nodes,
        under_replicated_partitions: under_replicated,
        offline_partitions: offline,
    })
}
