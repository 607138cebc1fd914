//! Partition leaders as the client knows them: learned from `GET /v1/topics/{topic}` (each
//! partition's leader id) and `GET /v1/cluster` (each node's address), the first time a topic's
//! partition is produced to or fetched from. A request sent to a leader that answers
//! `not_leader` or `partition_unavailable`, or cannot be reached, makes the client forget the
//! topic's leaders and send that request through a bootstrap server instead, which forwards it;
//! the next request learns the leaders again.

use super::{Answer, Client, ClientError};
use mq_wire::api::NodeRole;
use mq_wire::ErrorCode;
use std::collections::HashMap;
use std::sync::RwLock;

#[derive(Default)]
pub struct Routes {
    /// Topic → the base URL of each partition's leader. Empty: nothing to learn (a node alone, or
    /// the metadata could not be read): use the bootstrap servers.
    leaders: RwLock<HashMap<String, Vec<String>>>,
}

impl Routes {
    fn get(&self, topic: &str, partition: u32) -> Option<Option<String>> {
        let leaders = self.leaders.read().unwrap_or_else(|e| e.into_inner());
        leaders
            .get(topic)
            .map(|urls| urls.get(partition as usize).cloned())
    }

    fn set(&self, topic: &str, urls: Vec<String>) {
        let mut leaders = self.leaders.write().unwrap_or_else(|e| e.into_inner());
        leaders.insert(topic.to_owned(), urls);
    }

    fn forget(&self, topic: &str) {
        let mut leaders = self.leaders.write().unwrap_or_else(|e| e.into_inner());
        leaders.remove(topic);
    }
}

impl Client {
    /// The base URL of the leader of `topic`/`partition`, learning the topic's leaders when they
    /// are not known yet. `None`: send to the bootstrap servers.
    async fn leader_of(&self, topic: &str, partition: u32) -> Option<String> {
        if let Some(known) = self.routes.get(topic, partition) {
            return known;
        }
        let urls = self.learn(topic).await.unwrap_or_default();
        self.routes.set(topic, urls);
        self.routes.get(topic, partition).flatten()
    }

    async fn learn(&self, topic: &str) -> Result<Vec<String>, ClientError> {
        let status = self.cluster_status().await?;
        if status.nodes.iter().any(|n| n.role == NodeRole::Standalone) {
            return Ok(Vec::new());
        }
        let addresses: HashMap<u64, String> = status
            .nodes
            .into_iter()
            .map(|n| (n.id, n.address.trim_end_matches('/').to_owned()))
            .collect();
        let described = self.describe_topic(topic).await?;
        Ok(described
            .partitions
            .iter()
            .map(|p| addresses.get(&p.leader).cloned().unwrap_or_default())
            .collect())
    }

    /// Sends a request about one partition to its leader when known, else (or when the leader
    /// turns out not to be one) through the bootstrap servers.
    pub(super) async fn call_partition(
        &self,
        topic: &str,
        partition: u32,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, bytes::Bytes)>,
        accept: &str,
    ) -> Result<Answer, ClientError> {
        if let Some(leader) = self
            .leader_of(topic, partition)
            .await
            .filter(|url| !url.is_empty())
        {
            let answer = self
                .call_servers(
                    std::slice::from_ref(&leader),
                    method.clone(),
                    path,
                    body.clone(),
                    accept,
                )
                .await;
            let stale = match &answer {
                Err(ClientError::Api { code, .. }) => {
                    matches!(code, ErrorCode::NotLeader | ErrorCode::PartitionUnavailable)
                }
                // Refused: it never arrived, so sending it elsewhere cannot apply it twice.
                Err(ClientError::Unreachable { reason, .. }) => !reason.contains("timed out"),
                _ => false,
            };
            if !stale {
                return answer;
            }
            self.routes.forget(topic);
        }
        self.call_raw(method, path, body, accept).await
    }
}
