//! Raft's RPCs between nodes: JSON over HTTP to the peer's API listener, under
//! `/internal/v1/raft/{vote,append,snapshot}` (served by `http::internal`). A peer that refuses the
//! connection is `Unreachable`, so openraft backs off instead of retrying at once.

use super::{NodeId, RaftError, RpcError, TypeConfig};
use openraft::error::{InstallSnapshotError, NetworkError, RemoteError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Where the Raft RPCs are served, under a peer's API address.
pub const VOTE_PATH: &str = "/internal/v1/raft/vote";
pub const APPEND_PATH: &str = "/internal/v1/raft/append";
pub const SNAPSHOT_PATH: &str = "/internal/v1/raft/snapshot";

#[derive(Clone)]
pub struct Network {
    http: reqwest::Client,
}

impl Network {
    pub fn new(http: reqwest::Client) -> Self {
        Network { http }
    }
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        Connection {
            http: self.http.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

pub struct Connection {
    http: reqwest::Client,
    target: NodeId,
    addr: String,
}

impl Connection {
    async fn call<Req, Resp, Err>(
        &self,
        path: &str,
        request: &Req,
        option: &RPCOption,
    ) -> Result<Resp, openraft::error::RPCError<NodeId, BasicNode, Err>>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        Err: std::error::Error + DeserializeOwned,
    {
        use openraft::error::RPCError;
        let url = format!("http://{}{}", self.addr, path);
        let answer = self
            .http
            .post(url)
            .timeout(option.hard_ttl())
            .json(request)
            .send()
            .await
            .map_err(|e| {
                if e.is_connect() {
                    RPCError::Unreachable(Unreachable::new(&e))
                } else {
                    RPCError::Network(NetworkError::new(&e))
                }
            })?;
        if !answer.status().is_success() {
            let status = answer.status();
            let error = std::io::Error::other(format!("peer answered {status}"));
            return Err(RPCError::Network(NetworkError::new(&error)));
        }
        let result: Result<Resp, Err> = answer
            .json()
            .await
            .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        request: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RpcError> {
        self.call::<_, _, RaftError>(APPEND_PATH, &request, &option)
            .await
    }

    async fn install_snapshot(
        &mut self,
        request: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<InstallSnapshotResponse<NodeId>, RpcError<InstallSnapshotError>> {
        self.call::<_, _, RaftError<InstallSnapshotError>>(SNAPSHOT_PATH, &request, &option)
            .await
    }

    async fn vote(
        &mut self,
        request: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RpcError> {
        self.call::<_, _, RaftError>(VOTE_PATH, &request, &option)
            .await
    }
}
