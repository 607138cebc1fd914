//! List offsets: earliest, latest, or the first offset at or after a timestamp, per partition.

use serde::{Deserialize, Serialize};

/// Query of `GET /v1/topics/{topic}/offsets`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct ListOffsetsQuery {
    /// `earliest`, `latest` (default), or a timestamp in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        param(pattern = r"^(earliest|latest|[+-]?[0-9]{1,18})$")
    )]
    pub at: Option<String>,
    /// Only this partition; all of them when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

/// One partition's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartitionOffset {
    pub partition: u32,
    /// For a timestamp: the first offset whose record timestamp is at or after it, or the log end
    /// when there is none (the offset a consumer starting "from then" would read next).
    pub offset: u64,
    /// The timestamp of the record at `offset`, when there is one and a timestamp was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Answer to list offsets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListOffsetsResponse {
    pub topic: String,
    pub partitions: Vec<PartitionOffset>,
}
