//! Produce and fetch in JSON. Byte fields follow [`crate::bytes_field`]: `key`/`key_b64`,
//! `value`/`value_b64`, and per header `value`/`value_b64`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One header of a record. Header keys are UTF-8; values are bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RecordHeader {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
}

/// One record to produce.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProduceRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<RecordHeader>,
    /// The record's unique id. A record whose id was already produced to this topic within the dedup
    /// window is acknowledged with its first offset and not appended again. Made by the broker
    /// (UUID v7) when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Milliseconds since the Unix epoch; the broker's clock when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// Target partition; otherwise chosen by key hash, or round-robin without a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
}

/// `POST /v1/topics/{topic}/records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    pub records: Vec<ProduceRecord>,
    /// `"0"`, `"1"` or `"all"`; default `"all"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acks: Option<Acks>,
}

/// What a produce waits for before answering.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Acks {
    #[serde(rename = "0")]
    None,
    #[serde(rename = "1")]
    Leader,
    #[default]
    #[serde(rename = "all")]
    All,
}

/// Where one produced record landed, in request order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecordPosition {
    pub partition: u32,
    pub offset: u64,
    /// True when the record's id was already in the topic: nothing was appended and `offset` is the
    /// first copy's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Answer to a produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProduceResponse {
    pub topic: String,
    pub offsets: Vec<RecordPosition>,
}

/// One batch's fate in a binary produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchPosition {
    pub base_offset: u64,
    pub record_count: u32,
    /// True when the batch's producer id and sequence were seen before: nothing was appended and
    /// `base_offset` is the first copy's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub duplicate: bool,
}

/// Answer to a binary produce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BatchProduceResponse {
    pub topic: String,
    pub partition: u32,
    pub batches: Vec<BatchPosition>,
}

/// One fetched record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchedRecord {
    pub offset: u64,
    pub timestamp: i64,
    /// Absent for a record produced through the Kafka listener: Kafka's records carry no id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_b64: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<RecordHeader>,
}

impl FetchedRecord {
    /// The JSON form of a stored record; bytes as text where they are UTF-8, unless
    /// `force_base64`.
    pub fn from_record(record: &crate::batch::RecordRef<'_>, force_base64: bool) -> Self {
        use crate::bytes_field::encode;
        let (key, key_b64) = match record.key {
            Some(key) => encode(key, force_base64),
            None => (None, None),
        };
        let (value, value_b64) = encode(record.value, force_base64);
        let headers = record
            .headers()
            .map(|header| {
                let (value, value_b64) = encode(header.value, force_base64);
                RecordHeader {
                    key: header.key.to_owned(),
                    value,
                    value_b64,
                }
            })
            .collect();
        FetchedRecord {
            offset: record.offset,
            timestamp: record.timestamp,
            id: record.id,
            key,
            key_b64,
            value,
            value_b64,
            headers,
        }
    }

    /// The value's bytes, whichever spelling carried them.
    pub fn value_bytes(&self) -> Vec<u8> {
        crate::bytes_field::bytes_of(self.value.as_deref(), self.value_b64.as_deref())
            .unwrap_or_default()
    }

    /// The key's bytes, if the record has a key.
    pub fn key_bytes(&self) -> Option<Vec<u8>> {
        crate::bytes_field::bytes_of(self.key.as_deref(), self.key_b64.as_deref())
    }
}

/// Query of `GET /v1/topics/{topic}/partitions/{partition}/records`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct FetchQuery {
    /// First offset wanted; defaults to the log start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 1))]
    pub max_records: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<u64>,
    /// Long poll: when no record is at `offset` yet, wait up to this long for one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_wait_ms: Option<u64>,
    /// `utf8` (default: text where possible) or `base64` (always base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(inline))]
    pub encoding: Option<FetchEncoding>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FetchEncoding {
    #[default]
    Utf8,
    Base64,
}

/// Answer to a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FetchResponse {
    pub topic: String,
    pub partition: u32,
    pub log_start: u64,
    pub log_end: u64,
    pub high_watermark: u64,
    /// The offset to ask for next: one past the last record returned, or the requested offset when
    /// none was.
    pub next_offset: u64,
    pub records: Vec<FetchedRecord>,
}

/// `DELETE /v1/topics/{topic}/partitions/{partition}/records`: the records to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "openapi",
    derive(utoipa::IntoParams),
    into_params(parameter_in = Query)
)]
#[serde(deny_unknown_fields)]
pub struct DeleteRecordsQuery {
    /// Every record below this offset is deleted; at most the high watermark.
    pub before: u64,
}

/// The answer to a delete of records: where the partition now starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteRecordsResponse {
    pub topic: String,
    pub partition: u32,
    /// The first offset left: `before`, or the log start if it was already past it.
    pub log_start: u64,
}
