//! The HTTP API: routes, handlers (one file per area) and error mapping. Handlers translate between
//! the JSON wire types of [`mq_wire::api`] and the broker; they hold no state of their own.
//!
//! | path | file |
//! |---|---|
//! | `/v1/topics…` create, list, describe, delete | [`topics`] |
//! | `/v1/topics/{topic}/records`, `…/partitions/{p}/records` produce, fetch | [`records`] |
//! | `/v1/topics/{topic}/offsets` list offsets | [`offsets`] |
//! | `/v1/groups…` join, heartbeat, leave, group fetch, commit, describe, list, delete, reset | [`groups`] |
//! | `/v1/cluster` nodes, roles, health | [`cluster`] |
//! | `/metrics` Prometheus text | [`observe`] |
//! | `/health`, `/topics`, `/produce`, `/consume`, `/commit` (the seed's) | [`seed`] |

mod cluster;
mod error;
mod extract;
mod groups;
pub mod listener;
mod observe;
mod offsets;
mod records;
mod seed;
pub mod timeouts;
mod topics;

pub use error::ApiError;

use crate::broker::Broker;
use crate::group::Groups;
use crate::shutdown::ShutdownSignal;
use axum::routing::{delete, get, post};
use axum::Router;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The address this node's API listens on, as clients reach it.
    pub advertised: String,
    pub broker: Arc<Broker>,
    pub groups: Arc<Groups>,
    pub shutdown: ShutdownSignal,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/health", get(seed::health))
        .route("/topics", post(seed::create_topic))
        .route("/produce", post(seed::produce))
        .route("/consume", post(seed::consume))
        .route("/commit", post(seed::commit))
        .route("/v1/topics", post(topics::create).get(topics::list))
        .route(
            "/v1/topics/{topic}",
            get(topics::describe).delete(topics::delete),
        )
        .route("/v1/topics/{topic}/records", post(records::produce))
        .route(
            "/v1/topics/{topic}/partitions/{partition}/records",
            get(records::fetch).post(records::produce_to_partition),
        )
        .route("/v1/topics/{topic}/offsets", get(offsets::list))
        .route("/v1/cluster", get(cluster::status))
        .route("/v1/groups", get(groups::list))
        .route(
            "/v1/groups/{group}",
            get(groups::describe).delete(groups::delete),
        )
        .route("/v1/groups/{group}/members", post(groups::join))
        .route("/v1/groups/{group}/members/{member}", delete(groups::leave))
        .route("/v1/groups/{group}/heartbeat", post(groups::heartbeat))
        .route("/v1/groups/{group}/fetch", post(groups::fetch))
        .route("/v1/groups/{group}/offsets", post(groups::commit))
        .route(
            "/v1/groups/{group}/offsets/reset",
            post(groups::reset_offsets),
        )
        .route("/metrics", get(observe::metrics))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::record,
        ))
        .layer(axum::middleware::from_fn(timeouts::track_request))
        .with_state(state)
}
