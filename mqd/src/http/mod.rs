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
//! | `/v1/openapi.json` this API's OpenAPI document | [`openapi`] |
//! | `/internal/v1/…` what cluster nodes ask each other (not public) | [`internal`] |
//!
//! In a cluster, [`routing`] sends each request to the node that serves it before a handler runs,
//! and [`spread`] serves the requests that touch partitions on several nodes.
//! | `/health`, `/topics`, `/produce`, `/consume`, `/commit` (the seed's) | [`seed`] |

#[cfg(test)]
mod batch_fuzz_tests;
mod cluster;
pub(crate) mod delete_records;
mod error;
mod extract;
pub(crate) mod groups;
pub mod internal;
pub mod listener;
mod observe;
mod offsets;
pub mod openapi;
pub(crate) mod records;
mod routing;
mod seed;
mod spread;
#[cfg(test)]
pub(crate) mod testing;
pub mod timeouts;
pub(crate) mod topics;

pub use error::ApiError;

use crate::broker::Broker;
use crate::cluster::Cluster;
use crate::group::Groups;
use crate::shutdown::ShutdownSignal;
use axum::Router;
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The address this node's API listens on, as clients reach it.
    pub advertised: String,
    pub broker: Arc<Broker>,
    pub groups: Arc<Groups>,
    pub shutdown: ShutdownSignal,
    /// The cluster this node belongs to; `None` for a node alone.
    pub cluster: Option<Arc<Cluster>>,
}

/// How long an answer waits for the in-sync replicas (an `acks=all` produce, a delete of
/// records): `cluster.replication_timeout`; 10 s on a node alone, where there are none to wait for.
pub(crate) fn replication_timeout(state: &AppState) -> std::time::Duration {
    state
        .cluster
        .as_ref()
        .map_or(std::time::Duration::from_secs(10), |c| {
            c.settings().replication_timeout.0
        })
}

/// Every route, each taken from its handler's `#[utoipa::path]` (method, path and documentation in
/// one place): the router serves them and [`openapi::document`] describes them.
fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(seed::health))
        .routes(routes!(seed::create_topic))
        .routes(routes!(seed::produce))
        .routes(routes!(seed::consume))
        .routes(routes!(seed::commit))
        .routes(routes!(topics::create, topics::list))
        .routes(routes!(topics::describe, topics::delete))
        .routes(routes!(topics::alter_config))
        .routes(routes!(records::produce))
        .routes(routes!(
            records::fetch,
            records::produce_to_partition,
            delete_records::delete
        ))
        .routes(routes!(offsets::list))
        .routes(routes!(cluster::status))
        .routes(routes!(groups::list))
        .routes(routes!(groups::describe, groups::delete))
        .routes(routes!(groups::join))
        .routes(routes!(groups::leave))
        .routes(routes!(groups::heartbeat))
        .routes(routes!(groups::fetch))
        .routes(routes!(groups::commit))
        .routes(routes!(groups::reset_offsets))
        .routes(routes!(groups::coordinator))
        .routes(routes!(observe::metrics))
        .routes(routes!(openapi::serve))
}

pub fn router(state: AppState) -> Router {
    let (routes, _) = routes().split_for_parts();
    let max_body = state.broker.config().limits.max_request_bytes.0 as usize;
    routes
        .merge(internal::routes(max_body))
        .fallback(error::not_found)
        .method_not_allowed_fallback(error::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            routing::route,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::record,
        ))
        .layer(axum::middleware::from_fn(timeouts::track_request))
        .with_state(state)
}
