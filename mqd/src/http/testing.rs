//! Test helpers: a whole [`AppState`] on a default config, and one request through the router.

use super::AppState;
use crate::broker::Broker;
use crate::config::Config;
use crate::group::{GroupSettings, Groups};
use crate::metrics::Metrics;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

pub fn state() -> AppState {
    let mut config = Config::default();
    // Refuse a producer's batch ahead of its sequence at once: the fuzz targets send many.
    config.topics.producer_reorder_wait = crate::config::HumanDuration(Duration::ZERO);
    let config = Arc::new(config);
    let (_, shutdown) = crate::shutdown::Shutdown::new();
    AppState {
        metrics: Arc::new(Metrics::new()),
        advertised: "http://127.0.0.1:7171".to_owned(),
        broker: Arc::new(Broker::new(config)),
        groups: Arc::new(Groups::new(GroupSettings {
            default_session_timeout: Duration::from_secs(10),
            min_session_timeout: Duration::from_millis(100),
            max_session_timeout: Duration::from_secs(300),
        })),
        shutdown,
        cluster: None,
    }
}

/// Sends one request through `router`; answers its status and body.
pub async fn call(
    router: &axum::Router,
    method: &str,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let request = Request::builder()
        .method(Method::from_bytes(method.to_uppercase().as_bytes()).unwrap())
        .uri(path)
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, body.to_vec())
}
