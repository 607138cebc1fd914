//! Replication: how a partition's followers copy its leader's log, and how the leader learns what
//! is committed. Kafka's design, with its invariants:
//!
//! - **Followers pull** ([`fetcher`]): each node runs one fetcher per other node, which long-polls
//!   that node for every partition it leads and this node follows (one request for all of them,
//!   [`protocol`]), over a connection of their own ([`stream`]). Batches are copied byte for
//!   byte: offsets, leader epochs, producer ids and sequences stay the leader's.
//! - **The high watermark** ([`crate::broker::Partition`]): a follower's fetch offset tells the
//!   leader that it holds everything below; the leader's high watermark is the lowest log end
//!   among the in-sync replicas, so every record below it is on every ISR member. Consumers never
//!   read past it; an `acks=all` produce is answered once it passes the batch.
//! - **The ISR** ([`isr`]): the leader proposes, through the controller's Raft log, to drop a
//!   follower that has not caught up for `cluster.replica_lag_max` and to take back one that has;
//!   a proposal made at an old leader epoch or partition epoch is refused, so a deposed leader can
//!   never shrink the ISR to itself and acknowledge alone.
//! - **Truncation** (KIP-101/KIP-279): a node that becomes follower (or sees a new leader epoch)
//!   asks the leader where its own newest epoch ended there ([`protocol::EPOCH_PATH`]) and drops
//!   what lies past it before copying on; a follower whose log ends before the leader's log start
//!   (it restarted empty) starts over at the leader's log start.
//! - **Elections** are the controller's ([`crate::cluster::election`]): only an in-sync replica
//!   becomes leader, so nothing below the high watermark is lost when one node dies.

pub mod fetcher;
pub mod isr;
pub mod leader;
pub mod protocol;
pub mod stream;
