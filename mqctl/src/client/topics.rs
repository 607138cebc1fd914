//! Topics, produce, fetch and offsets.

use super::{Client, ClientError};
use mq_wire::api::{
    CreateTopicRequest, DeleteTopicResponse, FetchQuery, FetchResponse, ListOffsetsQuery,
    ListOffsetsResponse, ProduceRequest, ProduceResponse, TopicDescription, TopicList,
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

impl Client {
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
