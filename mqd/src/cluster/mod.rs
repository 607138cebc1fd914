//! The cluster: several `mqd` nodes as one broker. This module owns the metadata every node
//! shares and how a request finds the node that serves it.
//!
//! | file | owns |
//! |---|---|
//! | `metadata.rs` | the replicated state (nodes, topics, placement, epochs, coordinator slots, committed offsets) and the commands that change it |
//! | `raft/` | openraft: state machine, persistent vote and log, RPCs between nodes |
//! | `placement.rs` | where a new topic's partitions go: live nodes only, leaders spread evenly |
//! | `liveness.rs` | node heartbeats to the controller; the controller marks silent nodes down |
//! | `coordinator_lease.rs` | how long this node may serve its coordinator slots without asking: renewed by the controller's answers to its heartbeats |
//! | `reconcile.rs` | makes this node's broker match the metadata (topics, epochs, offset starts) |
//! | `offset_ceilings.rs` | durable offset ceilings: a restarted node never reuses an offset |
//! | `forward.rs` | sends a request on to the node that serves it |
//! | `remote.rs` | reads of partitions led elsewhere; a coordinator's offsets in the metadata |
//!
//! Who owns what: the controller (the Raft leader) decides every change of metadata and proposes
//! it; every node applies the same log. Records stay on the node leading their partition, in memory;
//! a group's live membership stays on its coordinator, its committed offsets in the metadata.

pub mod coordinator_lease;
pub mod election;
pub mod forward;
pub mod liveness;
pub mod metadata;
pub mod offset_ceilings;
pub mod placement;
pub mod raft;
pub mod reconcile;
pub mod remote;

use crate::config::{ClusterConfig, NodeConfig};
use metadata::{Command, CommandResult, MetadataError};
use offset_ceilings::OffsetCeilings;
use openraft::BasicNode;
use raft::state_machine::{Applied, MetadataStateMachine};
use raft::Raft;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use uuid::Uuid;

/// Where another node's `write` is proposed and `applied` read, under its API address.
pub const WRITE_PATH: &str = "/internal/v1/raft/write";
pub const APPLIED_PATH: &str = "/internal/v1/raft/applied";

/// How long a proposal may look for a controller before giving up.
const PROPOSE_DEADLINE: Duration = Duration::from_secs(5);

/// A coordinator lease lasts this many heartbeat intervals: a node that reports every interval
/// renews it long before it runs out, unless three reports in a row go unanswered.
const LEASE_HEARTBEATS: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("no controller is reachable: {0}")]
    ControllerUnavailable(String),
    #[error("node {node} is not the controller")]
    NotController { node: u64 },
    #[error(transparent)]
    Metadata(#[from] MetadataError),
    #[error(transparent)]
    Placement(#[from] placement::PlacementError),
    #[error("cannot open {what} in data_dir: {source}")]
    Storage {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("raft: {0}")]
    Raft(String),
    #[error("node {node} at {addr} is not in cluster.nodes here; check that every node has the same [cluster] section")]
    UnknownNode { node: u64, addr: String },
}

/// The answer to a proposal forwarded to the controller.
#[derive(Debug, Serialize, Deserialize)]
pub struct WriteAnswer {
    pub index: u64,
    pub result: CommandResult,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct AppliedAnswer {
    pub index: u64,
}

pub struct Cluster {
    node_id: u64,
    /// Every configured node's address, by id.
    addresses: BTreeMap<u64, String>,
    settings: ClusterConfig,
    raft: Raft,
    applied: watch::Receiver<Arc<Applied>>,
    http: reqwest::Client,
    /// Made anew at each start: tells the controller this process lost what the last one held.
    incarnation: Uuid,
    sessions: liveness::Sessions,
    pub ceilings: Arc<OffsetCeilings>,
    /// How long this node may still serve the groups of the slots it holds.
    pub lease: Arc<coordinator_lease::CoordinatorLease>,
    /// Set once the broker exists: what keeps it in line with the metadata.
    reconciler: std::sync::OnceLock<parking_lot::Mutex<reconcile::Reconciler>>,
}

impl Cluster {
    /// Opens the metadata in `node.data_dir`, starts this node's Raft member and, on a first
    /// start, initializes the group with every configured node (each node may: they all propose
    /// the same membership).
    pub async fn start(
        node: &NodeConfig,
        settings: &ClusterConfig,
    ) -> Result<Arc<Cluster>, ClusterError> {
        let data_dir = node
            .data_dir
            .clone()
            .expect("the config check requires node.data_dir with [cluster]");
        let raft_dir = data_dir.join("raft");
        let storage = |what| move |source| ClusterError::Storage { what, source };
        let log_store =
            raft::log_store::RaftLogFiles::open(&raft_dir).map_err(storage("the raft log"))?;
        let (state_machine, applied) =
            MetadataStateMachine::open(&raft_dir).map_err(storage("the raft snapshot"))?;
        let ceilings =
            Arc::new(OffsetCeilings::open(&data_dir).map_err(storage("the offset ceilings"))?);
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(30))
            .local_address(settings.source_address)
            .build()
            .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let heartbeat = settings.heartbeat_interval.0.as_millis() as u64;
        let election = settings.election_timeout.0.as_millis() as u64;
        let config = openraft::Config {
            cluster_name: "mq".to_owned(),
            heartbeat_interval: heartbeat.max(1),
            // openraft waits a leader lease of `election_timeout_max` before it votes for a new
            // leader, then a random timeout: a dead controller is replaced after 2 to 2.5 times
            // `election_timeout`.
            election_timeout_min: election,
            election_timeout_max: election + election / 2,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(500),
            max_in_snapshot_log_to_keep: 100,
            ..Default::default()
        }
        .validate()
        .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let raft = Raft::new(
            node.id,
            Arc::new(config),
            raft::network::Network::new(http.clone()),
            log_store,
            state_machine,
        )
        .await
        .map_err(|e| ClusterError::Raft(e.to_string()))?;
        let addresses: BTreeMap<u64, String> = settings
            .nodes
            .iter()
            .map(|n| (n.id, n.addr.clone()))
            .collect();
        let members: BTreeMap<u64, BasicNode> = addresses
            .iter()
            .map(|(id, addr)| (*id, BasicNode { addr: addr.clone() }))
            .collect();
        match raft.initialize(members).await {
            Ok(()) => tracing::info!(nodes = addresses.len(), "metadata Raft group initialized"),
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => tracing::info!("metadata Raft group already initialized; rejoining"),
            Err(e) => return Err(ClusterError::Raft(e.to_string())),
        }
        Ok(Arc::new(Cluster {
            node_id: node.id,
            addresses,
            settings: settings.clone(),
            raft,
            applied,
            http,
            incarnation: Uuid::new_v4(),
            sessions: liveness::Sessions::default(),
            ceilings,
            lease: Arc::new(coordinator_lease::CoordinatorLease::new(
                settings.heartbeat_interval.0 * LEASE_HEARTBEATS,
            )),
            reconciler: std::sync::OnceLock::new(),
        }))
    }

    pub fn node_id(&self) -> u64 {
        self.node_id
    }

    /// Made anew by each process: tells this process from the node's earlier ones.
    pub fn incarnation(&self) -> Uuid {
        self.incarnation
    }

    /// Whether the applied metadata knows this very process as alive (after a restart, not until
    /// the controller applied its report).
    pub fn registered(&self) -> bool {
        self.metadata()
            .metadata
            .nodes
            .get(&self.node_id)
            .is_some_and(|n| {
                n.incarnation == self.incarnation && n.state == metadata::NodeState::Alive
            })
    }

    pub fn raft(&self) -> &Raft {
        &self.raft
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn settings(&self) -> &ClusterConfig {
        &self.settings
    }

    /// The metadata as this node last applied it.
    pub fn metadata(&self) -> Arc<Applied> {
        Arc::clone(&self.applied.borrow())
    }

    /// A receiver that wakes at every applied change.
    pub fn watch(&self) -> watch::Receiver<Arc<Applied>> {
        self.applied.clone()
    }

    /// Every other node of `cluster.nodes`.
    pub fn peer_ids(&self) -> Vec<u64> {
        self.addresses
            .keys()
            .copied()
            .filter(|&id| id != self.node_id)
            .collect()
    }

    /// The configured address of a node.
    pub fn address_of(&self, node: u64) -> Option<&str> {
        self.addresses.get(&node).map(String::as_str)
    }

    /// The controller as this node knows it: the current Raft leader.
    pub fn controller(&self) -> Option<u64> {
        self.raft.metrics().borrow().current_leader
    }

    pub fn is_controller(&self) -> bool {
        self.controller() == Some(self.node_id)
    }

    /// Proposes `command` through the controller and waits until this node has applied it, so
    /// that what the caller reads next on this node includes it.
    pub async fn propose(&self, command: Command) -> Result<u64, ClusterError> {
        let deadline = tokio::time::Instant::now() + PROPOSE_DEADLINE;
        loop {
            let attempt = match self.controller() {
                Some(id) if id == self.node_id => self.write_locally(command.clone()).await,
                Some(id) => self.write_at(id, &command).await,
                None => Err(Retry::Later("no controller is elected yet".to_owned())),
            };
            match attempt {
                Ok(answer) => {
                    answer.result?;
                    self.wait_applied(answer.index, deadline).await?;
                    self.sync_local();
                    return Ok(answer.index);
                }
                Err(Retry::Never(error)) => return Err(error),
                Err(Retry::Later(why)) => {
                    if tokio::time::Instant::now() >= deadline {
                        return Err(ClusterError::ControllerUnavailable(why));
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Proposes on this node, which must be the controller. A controller that cannot reach a
    /// majority cannot commit: after [`PROPOSE_DEADLINE`] the caller is told so (the command may
    /// still be committed later, if a majority comes back in time).
    pub async fn write_locally(&self, command: Command) -> Result<WriteAnswer, Retry> {
        let written = tokio::time::timeout(PROPOSE_DEADLINE, self.raft.client_write(command));
        let Ok(written) = written.await else {
            return Err(Retry::Never(ClusterError::ControllerUnavailable(format!(
                "the controller could not reach a majority of the cluster within {PROPOSE_DEADLINE:?}; the change may or may not be applied"
            ))));
        };
        match written {
            Ok(response) => Ok(WriteAnswer {
                index: response.log_id.index,
                result: response.data,
            }),
            Err(openraft::error::RaftError::APIError(
                openraft::error::ClientWriteError::ForwardToLeader(to),
            )) => Err(Retry::Later(format!(
                "leadership moved (to {:?})",
                to.leader_id
            ))),
            Err(e) => Err(Retry::Never(ClusterError::Raft(e.to_string()))),
        }
    }

    /// Sends a proposal to the controller `node`. Retries only what certainly did not reach it,
    /// so that a command is never applied twice by a retry.
    async fn write_at(&self, node: u64, command: &Command) -> Result<WriteAnswer, Retry> {
        let Some(addr) = self.address_of(node) else {
            return Err(Retry::Later(format!("node {node} is not configured")));
        };
        let sent = self
            .http
            .post(format!("http://{addr}{WRITE_PATH}"))
            .timeout(PROPOSE_DEADLINE)
            .json(command)
            .send()
            .await;
        let answer = match sent {
            Ok(answer) => answer,
            Err(e) if e.is_connect() => {
                return Err(Retry::Later(format!("controller {node} unreachable: {e}")))
            }
            Err(e) => {
                return Err(Retry::Never(ClusterError::ControllerUnavailable(format!(
                    "controller {node} did not answer: {e}"
                ))))
            }
        };
        if answer.status() == reqwest::StatusCode::MISDIRECTED_REQUEST {
            return Err(Retry::Later(format!("node {node} is no longer controller")));
        }
        answer
            .json::<WriteAnswer>()
            .await
            .map_err(|e| Retry::Never(ClusterError::ControllerUnavailable(e.to_string())))
    }

    /// Waits until this node has applied `index`.
    pub async fn wait_applied(
        &self,
        index: u64,
        deadline: tokio::time::Instant,
    ) -> Result<(), ClusterError> {
        let mut applied = self.applied.clone();
        let reached =
            tokio::time::timeout_at(deadline, applied.wait_for(|a| a.index >= index)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(ClusterError::ControllerUnavailable(format!(
                "this node did not apply log index {index} in time"
            ))),
        }
    }

    /// A read barrier: waits until this node has applied what the controller had applied when
    /// asked, so a topic created through another node is seen here.
    pub async fn catch_up(&self) -> Result<(), ClusterError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        let index = match self.controller() {
            Some(id) if id == self.node_id => {
                // A controller that was paused or cut off may not know it was replaced: confirm
                // the leadership with a majority (Raft's read index) before trusting the state.
                let confirm =
                    tokio::time::timeout(Duration::from_secs(2), self.raft.ensure_linearizable());
                return match confirm.await {
                    Ok(Ok(_)) => {
                        self.sync_local();
                        Ok(())
                    }
                    Ok(Err(e)) => Err(ClusterError::ControllerUnavailable(e.to_string())),
                    Err(_) => Err(ClusterError::ControllerUnavailable(
                        "no majority confirmed this controller within 2 s".to_owned(),
                    )),
                };
            }
            Some(id) => {
                let addr = self.address_of(id).unwrap_or_default();
                let answer = self
                    .http
                    .get(format!("http://{addr}{APPLIED_PATH}"))
                    .timeout(Duration::from_secs(1))
                    .send()
                    .await
                    .map_err(|e| ClusterError::ControllerUnavailable(e.to_string()))?;
                answer
                    .json::<AppliedAnswer>()
                    .await
                    .map_err(|e| ClusterError::ControllerUnavailable(e.to_string()))?
                    .index
            }
            None => {
                return Err(ClusterError::ControllerUnavailable(
                    "no controller is elected yet".to_owned(),
                ))
            }
        };
        self.wait_applied(index, deadline).await?;
        self.sync_local();
        Ok(())
    }
}

/// Whether a failed proposal may be sent again.
pub enum Retry {
    /// It certainly was not applied (no controller, refused connection, not the controller).
    Later(String),
    Never(ClusterError),
}
