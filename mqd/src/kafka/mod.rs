//! The Kafka listener: a TCP listener that speaks Kafka's wire protocol beside the HTTP API, so
//! that Kafka clients and tools (librdkafka, the Java client, kcat) produce, fetch and administer
//! topics unchanged. Requests and responses are decoded and encoded by the `kafka-protocol` crate;
//! every handler calls the same broker, cluster and group code the HTTP handlers call.
//!
//! - `connection.rs`: one client connection, its frames, requests answered in order;
//! - `dispatch.rs`: the request header, the version check, and which handler answers;
//! - `versions.rs`: the APIs and versions served (ApiVersions);
//! - `metadata.rs`: brokers, controller, topics and partition leaders (Metadata);
//! - `produce.rs`, `fetch.rs`, `list_offsets.rs`: records; `offset_for_leader_epoch.rs`: where
//!   a leader epoch ended (a consumer's check after a failover);
//! - `records.rs`: Kafka record batches (v2) to and from the log's batches (their records
//!   decompressed within a byte budget by `log/decompress.rs`);
//! - `admin.rs`: CreateTopics, DeleteTopics, CreatePartitions; `configs.rs`: DescribeConfigs, DescribeCluster;
//!   `producer_id.rs`: InitProducerId;
//! - `coordinator.rs`: FindCoordinator; `groups.rs`: consumer groups (Join, Sync, Heartbeat,
//!   Leave, OffsetCommit, OffsetFetch, List, Describe, Delete);
//! - `error_codes.rs`: each of our error codes as Kafka's;
//! - `refusals.rs`: the answer to an API or version not served.

mod admin;
mod alter_configs;
mod configs;
mod connection;
mod coordinator;
mod delete_records;
mod dispatch;
mod error_codes;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod offset_for_leader_epoch;
mod produce;
mod producer_id;
mod records;
mod refusals;
mod versions;

use crate::config::KafkaConfig;
use crate::http::AppState;
use crate::shutdown::ShutdownSignal;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// What every Kafka connection of this node shares.
pub(crate) struct KafkaState {
    /// The broker, groups and cluster, as the HTTP API has them.
    pub app: AppState,
    /// `host:port` Kafka clients reach this node's listener at.
    pub advertised: (String, i32),
}

#[cfg(test)]
impl KafkaState {
    /// A node on the default config (`http::testing::state`), advertised at 127.0.0.1:9092.
    fn for_tests() -> Self {
        KafkaState {
            app: crate::http::testing::state(),
            advertised: ("127.0.0.1".into(), 9092),
        }
    }
}

/// An owned Kafka string.
fn text(s: &str) -> kafka_protocol::protocol::StrBytes {
    kafka_protocol::protocol::StrBytes::from_string(s.to_owned())
}

/// Binds the Kafka listener; returns it with the address it is bound to.
pub async fn bind(config: &KafkaConfig) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(config.listen).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

/// Accepts Kafka connections until shutdown, at most `limits.max_connections` at once.
pub async fn serve(
    listener: TcpListener,
    config: KafkaConfig,
    app: AppState,
    signal: ShutdownSignal,
) {
    let local = match listener.local_addr() {
        Ok(local) => local,
        Err(error) => {
            tracing::error!(%error, "the Kafka listener has no address; it is not served");
            return;
        }
    };
    let advertised = advertised_address(&config, local);
    let max_connections = app.broker.config().limits.max_connections as usize;
    let state = Arc::new(KafkaState { app, advertised });
    let permits = Arc::new(Semaphore::new(max_connections));
    tracing::info!(addr = %local, "kafka listening on {local}");
    let stop = signal.clone().wait();
    tokio::pin!(stop);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = &mut stop => return,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "kafka accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, max_connections, "kafka connection refused: limits.max_connections reached");
            continue;
        };
        let (state, signal) = (Arc::clone(&state), signal.clone());
        tokio::spawn(async move {
            connection::serve_connection(stream, peer, state, signal).await;
            drop(permit);
        });
    }
}

/// `kafka.advertised`, else the bound address (a wildcard bind advertises loopback).
fn advertised_address(config: &KafkaConfig, local: SocketAddr) -> (String, i32) {
    if let Some((host, port)) = config
        .advertised
        .as_deref()
        .and_then(|a| a.rsplit_once(':'))
        .and_then(|(h, p)| Some((h.to_owned(), p.parse::<i32>().ok()?)))
    {
        return (host, port);
    }
    let ip = if local.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        local.ip()
    };
    (ip.to_string(), i32::from(local.port()))
}
