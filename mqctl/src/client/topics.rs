//! Topics, produce, fetch and offsets.

use super::decode_json;
use super::{Client, ClientError};
use mq_wire::api::{
    Acks, AlterTopicConfigRequest, BatchProduceResponse, CreateTopicRequest, DeleteRecordsResponse,
    DeleteTopicResponse, FetchQuery, FetchResponse, ListOffsetsQuery, ListOffsetsResponse,
    ProduceRequest, ProduceResponse, TopicDescription, TopicList,
};
use mq_wire::binary::{
    BATCH_CONTENT_TYPE, HEADER_HIGH_WATERMARK, HEADER_LOG_END, HEADER_LOG_START, HEADER_NEXT_OFFSET,
};

/// Percent-encodes one path segment (topic and group names may hold `.`, `_`, `-` only, but a
/// client must not break on anything).
pub(super) fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Batches fetched in binary, with the partition's bounds.
#[derive(Debug, Clone)]
pub struct FetchedBatches {
    /// Whole batches; the first may start before the requested offset.
    pub bytes: bytes::Bytes,
    pub log_start: u64,
    pub log_end: u64,
    pub high_watermark: u64,
    pub next_offset: u64,
}

impl Client {
    /// Produces record batches (built with [`mq_wire::batch::BatchBuilder`]) to one partition in
    /// the binary format: the broker validates them and copies them into its log as they are.
    /// With `acks=all` the answer comes once the in-sync replicas hold the batches.
    pub async fn produce_batches(
        &self,
        topic: &str,
        partition: u32,
        batches: bytes::Bytes,
        acks: Acks,
    ) -> Result<BatchProduceResponse, ClientError> {
        let acks = match acks {
            Acks::None => "0",
            Acks::Leader => "1",
            Acks::All => "all",
        };
        let path = format!(
            "/v1/topics/{}/partitions/{partition}/records?acks={acks}",
            segment(topic)
        );
        self.call_partition(
            topic,
            partition,
            reqwest::Method::POST,
            &path,
            Some((BATCH_CONTENT_TYPE, batches)),
            BATCH_CONTENT_TYPE,
        )
        .await
        .and_then(|(url, status, _, body)| decode_json(&url, status, &body))
    }

    /// Fetches stored batches from `offset` in the binary format.
    pub async fn fetch_batches(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
        max_bytes: u64,
        max_wait_ms: u64,
    ) -> Result<FetchedBatches, ClientError> {
        let path = format!(
            "/v1/topics/{}/partitions/{partition}/records?offset={offset}&max_bytes={max_bytes}&max_wait_ms={max_wait_ms}",
            segment(topic)
        );
        let (url, status, headers, body) = self
            .call_partition(
                topic,
                partition,
                reqwest::Method::GET,
                &path,
                None,
                BATCH_CONTENT_TYPE,
            )
            .await?;
        let number = |name: &str| -> Result<u64, ClientError> {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ClientError::Decode {
                    url: url.clone(),
                    status,
                    reason: format!("missing header {name}"),
                })
        };
        Ok(FetchedBatches {
            log_start: number(HEADER_LOG_START)?,
            log_end: number(HEADER_LOG_END)?,
            high_watermark: number(HEADER_HIGH_WATERMARK)?,
            next_offset: number(HEADER_NEXT_OFFSET)?,
            bytes: body,
        })
    }

    pub async fn create_topic(
        &self,
        request: &CreateTopicRequest,
    ) -> Result<TopicDescription, ClientError> {
        self.post("/v1/topics", request).await
    }

    pub async fn list_topics(&self) -> Result<TopicList, ClientError> {
        self.get("/v1/topics").await
    }

    pub async fn describe_topic(&self, topic: &str) -> Result<TopicDescription, ClientError> {
        self.get(&format!("/v1/topics/{}", segment(topic))).await
    }

    /// Changes the settings `changes` names; the answer is the topic after.
    pub async fn alter_topic_config(
        &self,
        topic: &str,
        changes: &AlterTopicConfigRequest,
    ) -> Result<TopicDescription, ClientError> {
        let path = format!("/v1/topics/{}/config", segment(topic));
        self.call(reqwest::Method::PATCH, &path, Some(changes))
            .await
    }

    /// Deletes a partition's records below `before`; the answer says where it starts now.
    pub async fn delete_records(
        &self,
        topic: &str,
        partition: u32,
        before: u64,
    ) -> Result<DeleteRecordsResponse, ClientError> {
        let path = format!(
            "/v1/topics/{}/partitions/{partition}/records?before={before}",
            segment(topic)
        );
        self.call_partition(
            topic,
            partition,
            reqwest::Method::DELETE,
            &path,
            None,
            "application/json",
        )
        .await
        .and_then(|(url, status, _, body)| decode_json(&url, status, &body))
    }

    pub async fn delete_topic(&self, topic: &str) -> Result<DeleteTopicResponse, ClientError> {
        self.delete(&format!("/v1/topics/{}", segment(topic))).await
    }

    /// Produces a batch; the broker places each record (given partition, key hash, round-robin).
    pub async fn produce(
        &self,
        topic: &str,
        request: &ProduceRequest,
    ) -> Result<ProduceResponse, ClientError> {
        self.post(&format!("/v1/topics/{}/records", segment(topic)), request)
            .await
    }

    /// Produces a batch to one partition.
    pub async fn produce_to_partition(
        &self,
        topic: &str,
        partition: u32,
        request: &ProduceRequest,
    ) -> Result<ProduceResponse, ClientError> {
        let path = format!(
            "/v1/topics/{}/partitions/{partition}/records",
            segment(topic)
        );
        self.post(&path, request).await
    }

    pub async fn fetch(
        &self,
        topic: &str,
        partition: u32,
        query: &FetchQuery,
    ) -> Result<FetchResponse, ClientError> {
        let mut path = format!(
            "/v1/topics/{}/partitions/{partition}/records?",
            segment(topic)
        );
        if let Some(offset) = query.offset {
            path.push_str(&format!("offset={offset}&"));
        }
        if let Some(max) = query.max_records {
            path.push_str(&format!("max_records={max}&"));
        }
        if let Some(max) = query.max_bytes {
            path.push_str(&format!("max_bytes={max}&"));
        }
        if let Some(wait) = query.max_wait_ms {
            path.push_str(&format!("max_wait_ms={wait}&"));
        }
        if query.encoding == Some(mq_wire::api::FetchEncoding::Base64) {
            path.push_str("encoding=base64&");
        }
        self.get(path.trim_end_matches(['&', '?'])).await
    }

    pub async fn list_offsets(
        &self,
        topic: &str,
        query: &ListOffsetsQuery,
    ) -> Result<ListOffsetsResponse, ClientError> {
        let mut path = format!("/v1/topics/{}/offsets?", segment(topic));
        if let Some(at) = &query.at {
            path.push_str(&format!("at={}&", segment(at)));
        }
        if let Some(partition) = query.partition {
            path.push_str(&format!("partition={partition}&"));
        }
        self.get(path.trim_end_matches(['&', '?'])).await
    }
}
