//! Forwarding: a request that another node serves (a partition it leads, a group it coordinates,
//! an admin change for the controller) is sent on to it whole, and its answer comes back
//! unchanged. A forwarded request carries [`FORWARDED_BY`], and a node never forwards such a
//! request again: if its own map disagrees it answers `not_leader` (or `not_controller`,
//! `not_coordinator`), so two nodes with different maps cannot bounce a request between them.
//!
//! A request is sent once: when the other node does not answer in time, the caller is told the
//! outcome is unknown, never retried behind its back.

use super::Cluster;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use bytes::Bytes;
use std::time::Duration;

/// The header a forwarding node adds, with its id.
pub const FORWARDED_BY: &str = "x-mq-forwarded-by";

/// Why a request could not be forwarded.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    #[error("node {node} ({addr}) is unreachable: {reason}")]
    Unreachable {
        node: u64,
        addr: String,
        reason: String,
    },
    #[error("node {node} did not answer within {timeout:?}; the request may or may not have been applied")]
    NoAnswer { node: u64, timeout: Duration },
    #[error("node {node} is not in the cluster configuration")]
    UnknownNode { node: u64 },
}

/// Request headers worth passing on (the body's type, what the client accepts).
const PASSED_HEADERS: [&str; 3] = ["content-type", "accept", "user-agent"];

/// Answer headers never passed back: they describe the other connection, not the answer.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "date",
];

pub struct Outgoing<'a> {
    pub method: Method,
    /// Path and query, as the client sent them.
    pub path_and_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
}

impl Cluster {
    /// Sends `request` to `node` and returns its answer as it came.
    pub async fn forward(
        &self,
        node: u64,
        request: Outgoing<'_>,
    ) -> Result<Response<Body>, ForwardError> {
        let addr = self
            .address_of(node)
            .ok_or(ForwardError::UnknownNode { node })?
            .to_owned();
        let mut outgoing = self
            .http
            .request(
                request.method,
                format!("http://{addr}{}", request.path_and_query),
            )
            .timeout(request.timeout)
            .header(FORWARDED_BY, self.node_id.to_string())
            .body(request.body);
        for name in PASSED_HEADERS {
            if let Some(value) = request.headers.get(name) {
                outgoing = outgoing.header(name, value);
            }
        }
        let answer = outgoing.send().await.map_err(|e| {
            if e.is_connect() {
                ForwardError::Unreachable {
                    node,
                    addr: addr.clone(),
                    reason: e.to_string(),
                }
            } else {
                ForwardError::NoAnswer {
                    node,
                    timeout: request.timeout,
                }
            }
        })?;
        let status = StatusCode::from_u16(answer.status().as_u16())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut headers = HeaderMap::new();
        for (name, value) in answer.headers() {
            if HOP_BY_HOP.contains(&name.as_str()) {
                continue;
            }
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.append(name, value);
            }
        }
        let body = answer.bytes().await.map_err(|_| ForwardError::NoAnswer {
            node,
            timeout: request.timeout,
        })?;
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}
