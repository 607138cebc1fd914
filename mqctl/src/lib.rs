//! mqctl as a library: [`Client`], an async client of the mq HTTP API on the wire types shared with
//! `mqd`, and [`producer::Producer`], a streaming producer that batches per partition and keeps
//! several requests in flight without reordering a partition; [`group_consumer::GroupConsumer`], a
//! group member that reads its partitions straight from their leaders. The `mqctl` binary is a thin layer
//! over them; other Rust programs can use them directly.

pub mod client;
pub mod group_consumer;
pub mod producer;

pub use client::{Client, ClientError};
