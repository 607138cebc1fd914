//! mqd, the mq broker, as a library; `main.rs` only parses flags and calls [`server::run`].
//!
//! Reading order: [`log`] (how records are stored), [`broker`] (topics, partitions, produce and
//! fetch), [`group`] (committed offsets and consumers), [`cluster`] (Raft metadata, placement,
//! liveness, routing), [`http`] (the API), [`server`] (wiring and shutdown). [`config`] holds every setting and its default.

/// Version and the git commit it was built from, e.g. `0.1.0 (3f2a9c1)`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MQ_GIT_COMMIT"), ")");

pub mod allocator;
pub mod broker;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod group;
pub mod http;
pub mod kafka;
pub mod log;
pub mod logging;
pub mod metrics;
pub mod replication;
pub mod server;
pub mod shutdown;
pub mod systemd;
