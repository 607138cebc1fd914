//! The seed's original endpoints, unchanged in shape (camelCase fields): `POST /topics`,
//! `POST /produce`, `POST /consume`, `POST /commit`. A `consumerId` is a consumer group with one
//! implicit member.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// `POST /topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedCreateTopic {
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^[A-Za-z0-9._-]{1,249}$", example = "events")
    )]
    pub topic_id: String,
    /// One unless told.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub partitions: Option<u32>,
}

/// Answer to `POST /topics`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeedTopicCreated {
    pub topic_id: String,
    pub partitions: u32,
}

/// `POST /produce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedProduce {
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub topic_id: String,
    pub message: String,
    /// Optional unique id: producing the same id twice appends once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// Answer to `POST /produce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeedProduced {
    pub id: Uuid,
    pub topic_id: String,
    pub partition: u32,
    pub offset: u64,
    #[serde(default)]
    pub duplicate: bool,
}

/// `POST /consume` and `POST /commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedConsumer {
    #[cfg_attr(feature = "openapi", schema(example = "orders"))]
    pub topic_id: String,
    #[cfg_attr(feature = "openapi", schema(example = "seed-reader"))]
    pub consumer_id: String,
}

/// Answer to `POST /consume`: the record at the consumer's committed position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeedMessage {
    /// Absent for a record produced through the Kafka listener, which carries no id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    pub topic_id: String,
    /// The value as UTF-8 (invalid sequences replaced); the `/v1` fetch carries exact bytes.
    pub body: String,
    /// Milliseconds since the Unix epoch.
    pub created: i64,
}

/// Answer to `POST /commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SeedCommitted {
    pub topic_id: String,
    pub consumer_id: String,
    /// What was committed, e.g. `committed offset 3 of partition 0`.
    pub message: String,
    /// The next offset to be read in that partition.
    pub next: u64,
}
