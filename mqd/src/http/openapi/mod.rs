//! The API's machine-readable contract: `GET /v1/openapi.json`, an OpenAPI 3.1 document generated
//! from the handlers' own `#[utoipa::path]` annotations and the wire types' `ToSchema` derives (the
//! `openapi` feature of `mq-wire`). The router and the document come from the same
//! [`super::routes`], so a route cannot exist without its documentation.
//!
//! On top of what the annotations say, [`error_codes`] narrows each error response to the codes its
//! description names (each checked against [`mq_wire::ErrorCode::http_status`]) and adds the 503
//! every connection can get; [`params`] holds the path parameters shared by several endpoints.

mod error_codes;
mod params;
#[cfg(test)]
mod tests;

pub use params::{AcksParam, GroupParam, MemberParams, PartitionParams, TopicParam};

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use mq_wire::api::{BatchProduceResponse, ProduceResponse};
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::RefOr;
use utoipa::OpenApi;

/// The document's fixed parts; the paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "mqd HTTP API",
        description = "The broker's HTTP API. Every error answers `{\"error\": {\"code\", \"message\"}}`; \
            each code always comes with the same status. Prose reference: docs/API.md.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = "topics", description = "Create, list, describe and delete topics"),
        (name = "records", description = "Produce and fetch, in JSON or as record batches"),
        (name = "offsets", description = "Earliest, latest or by-time offsets"),
        (name = "groups", description = "Consumer groups: membership, group fetch, commits, administration"),
        (name = "cluster", description = "Nodes and their roles"),
        (name = "operations", description = "Metrics and this document"),
        (name = "seed", description = "The seed's original endpoints"),
    )
)]
struct ApiDoc;

/// A body of record batches back to back (`mq_wire::batch`), or of frames (`mq_wire::binary`):
/// bytes, described as a binary string.
pub struct Batches;

impl utoipa::PartialSchema for Batches {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .description(Some("Bytes: record batches (or frames) back to back"))
            .into()
    }
}

impl utoipa::ToSchema for Batches {}

/// Answer to a produce to one partition: per record for a JSON body, per batch for a batch body.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum PartitionProduceResponse {
    Records(ProduceResponse),
    Batches(BatchProduceResponse),
}

/// The whole document as JSON, with the error responses narrowed to their codes.
pub fn document() -> serde_json::Value {
    let mut doc = ApiDoc::openapi();
    doc.merge(super::routes().into_openapi());
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let mut json = serde_json::to_value(&doc).expect("an OpenAPI document serializes");
    error_codes::apply(&mut json);
    json
}

/// This document: the API's contract, generated from the handlers.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "operations",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object, content_type = "application/json"))
)]
pub async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT.get_or_init(|| document().to_string());
    ([(CONTENT_TYPE, "application/json")], text.as_str())
}
