//! `GET /v1/cluster`: the nodes of the cluster. Until the cluster lands, a node is standalone and
//! reports itself alone.

use super::AppState;
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
    Json(ClusterStatus {
        node_id,
        nodes: vec![NodeStatus {
            id: node_id,
            address: state.advertised.clone(),
            role: NodeRole::Standalone,
            health: "ok".to_owned(),
        }],
    })
}
