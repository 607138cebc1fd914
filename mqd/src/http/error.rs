//! [`ApiError`]: every failure of a request becomes one JSON body `{"error": {"code", "message"}}`
//! with the status its code always has.

use crate::broker::BrokerError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use mq_wire::{ErrorBody, ErrorCode};

#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }
}

impl From<BrokerError> for ApiError {
    fn from(error: BrokerError) -> Self {
        if matches!(error, BrokerError::Internal(_)) {
            tracing::error!(%error, "request failed");
        }
        ApiError::new(error.code(), error.to_string())
    }
}

impl From<crate::group::GroupError> for ApiError {
    fn from(error: crate::group::GroupError) -> Self {
        match error {
            crate::group::GroupError::Broker(inner) => inner.into(),
            other => ApiError::new(other.code(), other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // An error to a request with a body (a 408 for a slow one among them) also closes the
        // connection: `timeouts::track_request` does that for every such answer.
        (status, Json(ErrorBody::new(self.code, self.message))).into_response()
    }
}

/// The answer for paths no route has.
pub async fn not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!("no endpoint at {}", uri.path()),
    )
}

/// The answer for a known path with a method it does not take.
pub async fn method_not_allowed(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("{} does not take {method}", uri.path()),
    )
}
