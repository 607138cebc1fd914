//! Consumer groups: membership, group fetch, commits and administration.

use super::topics::segment;
use super::{Client, ClientError};
use mq_wire::api::{
    CommitRequest, CommitResponse, GroupCoordinator, GroupDescription, GroupFetchRequest,
    GroupFetchResponse, GroupList, HeartbeatRequest, JoinGroupRequest, MemberAssignment,
    ResetOffsetsRequest, ResetOffsetsResponse,
};
use mq_wire::binary::{FRAMES_CONTENT_TYPE, HEADER_GENERATION, HEADER_REBALANCE};

/// A group fetch in binary: frames of batches ([`mq_wire::binary::decode_frames`]).
#[derive(Debug, Clone)]
pub struct FetchedFrames {
    pub generation: u64,
    pub rebalance: bool,
    pub frames: bytes::Bytes,
}

impl Client {
    /// Group fetch in the binary format.
    pub async fn group_fetch_frames(
        &self,
        group: &str,
        request: &GroupFetchRequest,
    ) -> Result<FetchedFrames, ClientError> {
        let path = format!("/v1/groups/{}/fetch", segment(group));
        let body = bytes::Bytes::from(serde_json::to_vec(request).expect("wire types serialize"));
        let (url, status, headers, frames) = self
            .call_group(
                group,
                reqwest::Method::POST,
                &path,
                Some(("application/json", body)),
                FRAMES_CONTENT_TYPE,
            )
            .await?;
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let generation = header(HEADER_GENERATION)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| ClientError::Decode {
                url: url.clone(),
                status,
                reason: "missing mq-generation".into(),
            })?;
        Ok(FetchedFrames {
            generation,
            rebalance: header(HEADER_REBALANCE).as_deref() == Some("true"),
            frames,
        })
    }

    pub async fn join_group(
        &self,
        group: &str,
        request: &JoinGroupRequest,
    ) -> Result<MemberAssignment, ClientError> {
        let path = format!("/v1/groups/{}/members", segment(group));
        self.group_json(group, reqwest::Method::POST, &path, Some(request))
            .await
    }

    pub async fn heartbeat(
        &self,
        group: &str,
        request: &HeartbeatRequest,
    ) -> Result<MemberAssignment, ClientError> {
        let path = format!("/v1/groups/{}/heartbeat", segment(group));
        self.group_json(group, reqwest::Method::POST, &path, Some(request))
            .await
    }

    pub async fn leave_group(
        &self,
        group: &str,
        member_id: &str,
    ) -> Result<serde_json::Value, ClientError> {
        let path = format!(
            "/v1/groups/{}/members/{}",
            segment(group),
            segment(member_id)
        );
        self.group_json(group, reqwest::Method::DELETE, &path, None::<&()>)
            .await
    }

    pub async fn group_fetch(
        &self,
        group: &str,
        request: &GroupFetchRequest,
    ) -> Result<GroupFetchResponse, ClientError> {
        let path = format!("/v1/groups/{}/fetch", segment(group));
        self.group_json(group, reqwest::Method::POST, &path, Some(request))
            .await
    }

    pub async fn commit(
        &self,
        group: &str,
        request: &CommitRequest,
    ) -> Result<CommitResponse, ClientError> {
        let path = format!("/v1/groups/{}/offsets", segment(group));
        self.group_json(group, reqwest::Method::POST, &path, Some(request))
            .await
    }

    /// `GET /v1/groups/{group}/coordinator`: the node its member requests go to.
    pub async fn find_coordinator(&self, group: &str) -> Result<GroupCoordinator, ClientError> {
        self.get(&format!("/v1/groups/{}/coordinator", segment(group)))
            .await
    }

    /// A member request in JSON, sent to the group's coordinator.
    async fn group_json<B: serde::Serialize, R: serde::de::DeserializeOwned>(
        &self,
        group: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<R, ClientError> {
        let (url, status, _, bytes) = self
            .call_group(
                group,
                method,
                path,
                super::json_body(body),
                "application/json",
            )
            .await?;
        super::decode_json(&url, status, &bytes)
    }

    pub async fn list_groups(&self) -> Result<GroupList, ClientError> {
        self.get("/v1/groups").await
    }

    pub async fn describe_group(&self, group: &str) -> Result<GroupDescription, ClientError> {
        self.get(&format!("/v1/groups/{}", segment(group))).await
    }

    pub async fn delete_group(&self, group: &str) -> Result<serde_json::Value, ClientError> {
        self.delete(&format!("/v1/groups/{}", segment(group))).await
    }

    pub async fn reset_offsets(
        &self,
        group: &str,
        request: &ResetOffsetsRequest,
    ) -> Result<ResetOffsetsResponse, ClientError> {
        self.post(
            &format!("/v1/groups/{}/offsets/reset", segment(group)),
            request,
        )
        .await
    }
}
