//! The metadata Raft group on openraft: its type configuration, this node's state machine
//! ([`state_machine`]), its persistent vote and log ([`log_store`]) and the RPCs between nodes
//! ([`network`]). The Raft leader is the cluster's controller.

pub mod log_store;
pub mod network;
pub mod state_machine;

use super::metadata::{Command, CommandResult};
use std::io::Cursor;

openraft::declare_raft_types!(
    /// Commands in, their results out; nodes are `u64` ids with their API address.
    pub TypeConfig:
        D = Command,
        R = CommandResult,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;
pub type ClientWriteError = openraft::error::ClientWriteError<NodeId, openraft::BasicNode>;
pub type RaftError<E = openraft::error::Infallible> = openraft::error::RaftError<NodeId, E>;
pub type RpcError<E = openraft::error::Infallible> =
    openraft::error::RPCError<NodeId, openraft::BasicNode, RaftError<E>>;
