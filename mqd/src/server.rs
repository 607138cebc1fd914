//! Runs a node: binds the listener, serves the HTTP API, runs retention, and shuts down in order on
//! SIGTERM or Ctrl-C (stop accepting, let in-flight requests finish within
//! `node.shutdown_timeout`, then return).

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::config::Config;
use crate::group::{GroupSettings, Groups};
use crate::http::{router, AppState};
use crate::shutdown::{termination_signal, Shutdown, ShutdownSignal};
use std::sync::Arc;
use std::time::Duration;

/// Why the node could not run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let (shutdown, signal) = Shutdown::new();
    tokio::spawn(async move {
        termination_signal().await;
        shutdown.trigger();
    });
    serve(config, signal).await
}

/// Serves until `signal` fires; used by [`run`] and by tests that stop a node themselves.
pub async fn serve(config: Config, signal: ShutdownSignal) -> Result<(), ServerError> {
    let addr = config.node.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let shutdown_timeout = config.node.shutdown_timeout.0;
    let retention_interval = config.log.retention_check_interval.0;
    let config = Arc::new(config);
    let broker = Arc::new(Broker::new(Arc::clone(&config)));
    let groups = Arc::new(Groups::new(GroupSettings {
        default_session_timeout: config.groups.default_session_timeout.0,
        min_session_timeout: config.groups.min_session_timeout.0,
        max_session_timeout: config.groups.max_session_timeout.0,
    }));
    let state = AppState {
        advertised: format!("http://{local}"),
        broker: Arc::clone(&broker),
        groups: Arc::clone(&groups),
        shutdown: signal.clone(),
    };
    tokio::spawn(every(retention_interval, signal.clone(), {
        let broker = Arc::clone(&broker);
        move || {
            broker.enforce_retention(now_ms());
        }
    }));
    tokio::spawn(every(
        config.groups.expiry_check_interval.0,
        signal.clone(),
        move || groups.expire_sessions(&broker),
    ));

    tracing::info!(
        addr = %local,
        node_id = config.node.id,
        memory_limit = %config.limits.memory,
        "mqd listening on http://{local}"
    );
    let server = axum::serve(listener, router(state)).with_graceful_shutdown(signal.clone().wait());
    let deadline = async {
        signal.wait().await;
        tokio::time::sleep(shutdown_timeout).await;
    };
    tokio::select! {
        served = server => served?,
        _ = deadline => tracing::warn!(
            timeout = ?shutdown_timeout,
            "in-flight requests did not finish within node.shutdown_timeout; exiting anyway"
        ),
    }
    tracing::info!("mqd stopped");
    Ok(())
}

/// Runs `task` every `period` until shutdown (retention, session expiry).
async fn every(period: Duration, signal: ShutdownSignal, mut task: impl FnMut() + Send) {
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = signal.wait();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = ticks.tick() => task(),
            _ = &mut stop => return,
        }
    }
}
