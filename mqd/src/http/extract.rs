//! Request extractors that fail with [`ApiError`]s instead of axum's plain-text rejections:
//! [`ApiJson`] (content type, body size limit, JSON syntax vs shape), [`ApiQuery`] and [`ApiPath`].

use super::error::ApiError;
use super::timeouts::BodyDeadline;
use super::AppState;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use http_body_util::BodyExt;
use mq_wire::ErrorCode;
use serde::de::DeserializeOwned;

/// A JSON body. A `Content-Type` other than JSON gets 415; a body over `limits.max_request_bytes`
/// gets 413 (at once when `Content-Length` says so, else as soon as the limit is passed while
/// reading); broken JSON gets 400 `malformed_json`; JSON of the wrong shape gets 400
/// `invalid_request` naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        check_json_content_type(request.headers())?;
        let RawBody { bytes, .. } = RawBody::from_request(request, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A body of any content type, read whole under `limits.max_request_bytes` (413 past it, at once
/// when `Content-Length` says so). Endpoints that take JSON or binary batches dispatch on
/// `content_type`.
pub struct RawBody {
    pub content_type: String,
    /// Mutable, so a batch body can be patched (offsets, leader epoch) where it lies.
    pub bytes: bytes::BytesMut,
}

impl RawBody {
    /// Whether the body is record batches rather than JSON.
    pub fn is_batches(&self) -> bool {
        self.content_type == mq_wire::binary::BATCH_CONTENT_TYPE
    }

    /// The body as JSON, with the JSON content-type rule.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if !is_json(&self.content_type) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!(
                    "this endpoint reads application/json or {}, not `{}`",
                    mq_wire::binary::BATCH_CONTENT_TYPE,
                    self.content_type
                ),
            ));
        }
        parse_json(&self.bytes)
    }
}

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let config = state.broker.config();
        let limit = config.limits.max_request_bytes.0;
        let pace = BodyDeadline::start(
            config.limits.body_read_timeout.0,
            config.limits.body_min_rate.0,
        );
        let content_type = content_type_of(request.headers());
        let declared = declared_length(request.headers());
        if let Some(declared) = declared.filter(|&n| n > limit) {
            return Err(too_large(declared, limit));
        }
        let bytes = read_limited(
            request.into_body(),
            limit as usize,
            declared.unwrap_or(0) as usize,
            pace,
        )
        .await?;
        Ok(RawBody {
            content_type,
            bytes,
        })
    }
}

/// How much of an oversized body is read and thrown away before answering 413, and for how long:
/// a client still sending when the server closes sees a broken pipe instead of the answer, so the
/// server keeps reading a little while (a "lingering close", as nginx does), within bounds.
const DRAIN_MAX_BYTES: usize = 8 * 1024 * 1024;
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads a whole body of at most `limit` bytes, frame by frame, into one buffer sized from
/// `Content-Length` when given (so a large batch body is not copied again as the buffer grows).
/// A body slower than `pace` allows gets 408 `request_timeout`.
async fn read_limited(
    mut body: axum::body::Body,
    limit: usize,
    expected: usize,
    pace: BodyDeadline,
) -> Result<bytes::BytesMut, ApiError> {
    let mut collected = bytes::BytesMut::with_capacity(expected.min(limit));
    loop {
        let Some(frame) = pace.within(collected.len(), body.frame()).await else {
            return Err(ApiError::new(
                ErrorCode::RequestTimeout,
                format!(
                    "the request body came slower than limits.body_min_rate after \
                     limits.body_read_timeout ({} bytes received)",
                    collected.len()
                ),
            ));
        };
        let Some(frame) = frame else {
            break;
        };
        let frame = frame
            .map_err(|e| ApiError::invalid(format!("could not read the request body: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if collected.len() + data.len() > limit {
            let _ = tokio::time::timeout(DRAIN_MAX_TIME, async {
                let mut drained = 0;
                while let Some(Ok(frame)) = body.frame().await {
                    drained += frame.data_ref().map_or(0, |d| d.len());
                    if drained > DRAIN_MAX_BYTES {
                        break;
                    }
                }
            })
            .await;
            return Err(too_large_unknown(limit as u64));
        }
        collected.extend_from_slice(&data);
    }
    Ok(collected)
}

/// The body length a request's `Content-Length` declares, if it has one (hyper has checked it).
pub(super) fn declared_length(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

/// The media type of a request without its parameters, lower-cased ("" when absent).
fn content_type_of(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// JSON endpoints take `application/json`, `…+json`, or no content type at all.
fn is_json(essence: &str) -> bool {
    essence.is_empty() || essence == "application/json" || essence.ends_with("+json")
}

fn check_json_content_type(headers: &axum::http::HeaderMap) -> Result<(), ApiError> {
    let essence = content_type_of(headers);
    if is_json(&essence) {
        Ok(())
    } else {
        Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!("this endpoint reads application/json, not `{essence}`"),
        ))
    }
}

fn too_large(declared: u64, limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!(
            "the body is {declared} bytes, over the limit of {limit} (limits.max_request_bytes)"
        ),
    )
}

fn too_large_unknown(limit: u64) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("the body is over the limit of {limit} bytes (limits.max_request_bytes)"),
    )
}

/// Parses JSON, telling broken syntax from a wrong shape, and naming the field at fault.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError::new(
                    ErrorCode::MalformedJson,
                    format!("the body is not valid JSON: {inner}"),
                )
            }
            _ if path == "." => ApiError::invalid(format!("invalid request body: {inner}")),
            _ => ApiError::invalid(format!("invalid field `{path}`: {inner}")),
        }
    })?;
    deserializer.end().map_err(|e| {
        ApiError::new(
            ErrorCode::MalformedJson,
            format!("trailing characters after the JSON body: {e}"),
        )
    })?;
    Ok(value)
}

/// A query string, with 400 `invalid_request` for unknown or ill-typed parameters.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}

/// Path parameters, with 400 `invalid_request` when one does not parse (a partition that is not a
/// number, say).
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|rejection| ApiError::invalid(rejection.body_text()))
    }
}
