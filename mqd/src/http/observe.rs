//! Request metrics: every request is counted by endpoint (the route template, so label values stay
//! few), method and status, and timed; and `GET /metrics` renders them.

use super::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    // A fixed set of label values: a client cannot grow the metrics with made-up methods.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::HEAD => "HEAD",
        _ => "OTHER",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(
        &endpoint,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The node's metrics in OpenMetrics text, ending with `# EOF`.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "Prometheus / OpenMetrics text", body = String,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"))
)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let role = match &state.cluster {
        None => "standalone",
        Some(cluster) if cluster.is_controller() => "controller",
        Some(_) => "broker",
    };
    let text = state.metrics.render(&state.broker, &state.groups, role);
    (
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
}
