//! Where requests go in a cluster, as the client knows it. Group coordinators: asked of any node
//! (`GET /v1/groups/{g}/coordinator`, Kafka's FindCoordinator) the first time a member request
//! of the group is sent; `not_coordinator`, `coordinator_unavailable` or a refused connection
//! make the client forget it and send that request through a bootstrap server. Partition leaders: learned from `GET /v1/topics/{topic}` (each
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
    /// Group → the base URL of its coordinator.
    coordinators: RwLock<HashMap<String, String>>,
    /// Whether the servers are cluster nodes (else everything goes to the bootstrap servers), once
    /// known.
    in_cluster: RwLock<Option<bool>>,
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

    fn coordinator(&self, group: &str) -> Option<String> {
        let known = self.coordinators.read().unwrap_or_else(|e| e.into_inner());
        known.get(group).cloned()
    }

    fn set_coordinator(&self, group: &str, url: String) {
        let mut known = self.coordinators.write().unwrap_or_else(|e| e.into_inner());
        known.insert(group.to_owned(), url);
    }

    fn forget_coordinator(&self, group: &str) {
        let mut known = self.coordinators.write().unwrap_or_else(|e| e.into_inner());
        known.remove(group);
    }
}

/// Whether an error means the request went to the wrong node, which never applied it: sending it
/// through a bootstrap server instead cannot apply it twice.
fn misdirected(answer: &Result<Answer, ClientError>, codes: &[ErrorCode]) -> bool {
    match answer {
        Err(ClientError::Api { code, .. }) => codes.contains(code),
        // Not sent (refused), or a read: sending it elsewhere cannot apply it twice. A write
        // without an answer (`NoAnswer`) is never sent again.
        Err(ClientError::Unreachable { .. }) => true,
        _ => false,
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
        let leader = self
            .leader_of(topic, partition)
            .await
            .filter(|url| !url.is_empty());
        let stale = [ErrorCode::NotLeader, ErrorCode::PartitionUnavailable];
        let forget = || self.routes.forget(topic);
        self.call_routed(leader, &stale, forget, method, path, body, accept)
            .await
    }

    /// Sends a request to `route` when there is one; when it turns out to be the wrong node (an
    /// answer with one of `stale`, or a refused connection: either way never applied), `forget`s
    /// it and sends the request through the bootstrap servers instead.
    #[allow(clippy::too_many_arguments)]
    async fn call_routed(
        &self,
        route: Option<String>,
        stale: &[ErrorCode],
        forget: impl FnOnce(),
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, bytes::Bytes)>,
        accept: &str,
    ) -> Result<Answer, ClientError> {
        if let Some(route) = route {
            let answer = self
                .call_servers(
                    std::slice::from_ref(&route),
                    method.clone(),
                    path,
                    body.clone(),
                    accept,
                )
                .await;
            if !misdirected(&answer, stale) {
                return answer;
            }
            forget();
        }
        self.call_raw(method, path, body, accept).await
    }

    /// Whether the servers are nodes of a cluster, not a node alone (asked once).
    pub async fn in_cluster(&self) -> bool {
        let known = *self
            .routes
            .in_cluster
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(known) = known {
            return known;
        }
        let Ok(status) = self.cluster_status().await else {
            return false;
        };
        let in_cluster = status.nodes.iter().all(|n| n.role != NodeRole::Standalone);
        *self
            .routes
            .in_cluster
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(in_cluster);
        in_cluster
    }

    /// The base URL of the coordinator of `group`, asked of the cluster when not known yet;
    /// `None` for a node alone.
    async fn coordinator_of(&self, group: &str) -> Option<String> {
        if let Some(known) = self.routes.coordinator(group) {
            return Some(known);
        }
        if !self.in_cluster().await {
            return None;
        }
        let found = self.find_coordinator(group).await.ok()?;
        let url = found.address.trim_end_matches('/').to_owned();
        self.routes.set_coordinator(group, url.clone());
        Some(url)
    }

    /// Sends a member request of `group` to its coordinator when known, else (or when it turns
    /// out not to be one any more) through the bootstrap servers.
    pub(super) async fn call_group(
        &self,
        group: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<(&str, bytes::Bytes)>,
        accept: &str,
    ) -> Result<Answer, ClientError> {
        let coordinator = self.coordinator_of(group).await;
        let stale = [ErrorCode::NotCoordinator, ErrorCode::CoordinatorUnavailable];
        let forget = || self.routes.forget_coordinator(group);
        self.call_routed(coordinator, &stale, forget, method, path, body, accept)
            .await
    }
}
