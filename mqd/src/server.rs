//! Runs a node: binds the listener, serves the HTTP API, runs retention and session expiry, reloads
//! on SIGHUP, and shuts down in order on SIGTERM or Ctrl-C (tell systemd, stop accepting, let
//! in-flight requests finish within `node.shutdown_timeout`, return).

use crate::broker::Broker;
use crate::clock::now_ms;
use crate::cluster::reconcile::Reconciler;
use crate::cluster::Cluster;
use crate::config::{Config, ConfigError};
use crate::group::{GroupSettings, Groups};
use crate::http::listener::LimitedListener;
use crate::http::timeouts::{ConnectionActivity, ConnectionTimeouts};
use crate::http::{router, AppState};
use crate::logging::LogLevel;
use crate::metrics::Metrics;
use crate::shutdown::{termination_signal, Shutdown, ShutdownSignal};
use crate::systemd;
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
    #[error("cannot join the cluster: {0}")]
    Cluster(#[from] crate::cluster::ClusterError),
    #[error("cannot start the thread that populates segments ahead of appends: {0}")]
    Prefault(std::io::Error),
}

/// Where a SIGHUP reload reads the configuration again: the file and the flags that override it.
pub trait ConfigSource: Send + Sync + 'static {
    fn reload(&self) -> Option<Result<Config, ConfigError>>;
}

/// A node with no config file: SIGHUP has nothing to read.
pub struct NoConfigFile;

impl ConfigSource for NoConfigFile {
    fn reload(&self) -> Option<Result<Config, ConfigError>> {
        None
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub async fn run(
    config: Config,
    source: impl ConfigSource,
    log_level: Option<LogLevel>,
) -> Result<(), ServerError> {
    let (shutdown, signal) = Shutdown::new();
    tokio::spawn(async move {
        termination_signal().await;
        systemd::stopping();
        shutdown.trigger();
    });
    serve(config, signal, Some((Box::new(source), log_level))).await
}

type Reload = (Box<dyn ConfigSource>, Option<LogLevel>);

/// Serves until `signal` fires.
pub async fn serve(
    config: Config,
    signal: ShutdownSignal,
    reload: Option<Reload>,
) -> Result<(), ServerError> {
    let addr = config.node.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ServerError::Bind { addr, source })?;
    let local = listener.local_addr()?;
    let shutdown_timeout = config.node.shutdown_timeout.0;
    let retention_interval = config.log.retention_check_interval.0;
    let expiry_interval = config.groups.expiry_check_interval.0;
    let offsets_retention = config.groups.offsets_retention.0;
    let max_connections = config.limits.max_connections;
    let timeouts = ConnectionTimeouts {
        header_read: config.limits.header_read_timeout.0,
        idle: config.limits.idle_timeout.0,
        answer_grace: config.limits.body_read_timeout.0,
        answer_min_rate: config.limits.body_min_rate.0,
    };
    let prefaulting = crate::log::start_prefault(config.log.prefault_ahead.0 as usize)
        .map_err(ServerError::Prefault)?;
    tracing::debug!(prefaulting, "pages ahead of busy segments' appends");
    let config = Arc::new(config);
    let broker = Arc::new(Broker::new(Arc::clone(&config)));
    let groups = Arc::new(Groups::new(GroupSettings {
        default_session_timeout: config.groups.default_session_timeout.0,
        min_session_timeout: config.groups.min_session_timeout.0,
        max_session_timeout: config.groups.max_session_timeout.0,
    }));
    let metrics = Arc::new(Metrics::new());
    let cluster = match &config.cluster {
        Some(settings) => {
            let cluster = Cluster::start(&config.node, settings).await?;
            groups.join_cluster(cluster.clone());
            cluster.attach(Reconciler::new(
                &cluster,
                Arc::clone(&broker),
                Arc::clone(&groups),
                Arc::clone(&metrics),
            ));
            tokio::spawn(Arc::clone(&cluster).run_reconciler(signal.clone()));
            tokio::spawn(Arc::clone(&cluster).run_liveness(signal.clone()));
            crate::replication::fetcher::spawn_fetchers(&cluster, &broker, &signal);
            tokio::spawn(crate::replication::isr::run_isr_upkeep(
                Arc::clone(&cluster),
                Arc::clone(&broker),
                Arc::clone(&metrics),
                signal.clone(),
            ));
            Some(cluster)
        }
        None => None,
    };
    let kafka = match &config.kafka {
        Some(settings) => {
            let (listener, _) =
                crate::kafka::bind(settings)
                    .await
                    .map_err(|source| ServerError::Bind {
                        addr: settings.listen,
                        source,
                    })?;
            Some((listener, settings.clone()))
        }
        None => None,
    };
    let state = AppState {
        metrics: Arc::clone(&metrics),
        advertised: format!("http://{local}"),
        broker: Arc::clone(&broker),
        groups: Arc::clone(&groups),
        shutdown: signal.clone(),
        cluster: cluster.clone(),
    };
    if let Some((listener, settings)) = kafka {
        tokio::spawn(crate::kafka::serve(
            listener,
            settings,
            state.clone(),
            signal.clone(),
        ));
    }
    tokio::spawn(every(retention_interval, signal.clone(), {
        let broker = Arc::clone(&broker);
        move || {
            broker.enforce_retention(now_ms());
        }
    }));
    tokio::spawn(every(expiry_interval, signal.clone(), {
        let (broker, groups) = (Arc::clone(&broker), Arc::clone(&groups));
        move || groups.expire_sessions(&broker)
    }));
    let expiry_period = offsets_retention.min(Duration::from_secs(60));
    if cluster.is_some() {
        tokio::spawn({
            let (groups, signal) = (Arc::clone(&groups), signal.clone());
            async move {
                let mut ticks = tokio::time::interval(expiry_period);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                while !signal.is_triggered() {
                    ticks.tick().await;
                    groups
                        .expire_replicated_offsets(offsets_retention, now_ms())
                        .await;
                }
            }
        });
    } else {
        tokio::spawn(every(expiry_period, signal.clone(), move || {
            groups.expire_offsets(offsets_retention);
        }));
    }
    if let Some(interval) = systemd::watchdog_interval() {
        tokio::spawn(every(interval, signal.clone(), systemd::watchdog));
    }
    if let Some((source, log_level)) = reload {
        tokio::spawn(reload_on_sighup(
            source,
            log_level,
            Arc::clone(&broker),
            signal.clone(),
        ));
    }

    tracing::info!(
        addr = %local,
        node_id = config.node.id,
        memory_limit = %config.limits.memory.describe(),
        "mqd listening on http://{local}"
    );
    systemd::ready(&format!("serving on http://{local}"));
    let listener = LimitedListener::new(listener, max_connections, timeouts, metrics);
    let server = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<ConnectionActivity>(),
    )
    .with_graceful_shutdown(signal.clone().wait());
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
    if let Some(cluster) = cluster {
        if let Err(error) = cluster.raft().shutdown().await {
            tracing::warn!(%error, "raft did not stop cleanly");
        }
    }
    tracing::info!("mqd stopped");
    Ok(())
}

/// Runs `task` every `period` until shutdown (retention, session expiry, watchdog).
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

/// On SIGHUP: reads the config again and applies what can change at run time (log level, limits,
/// defaults for new topics); names what needs a restart.
async fn reload_on_sighup(
    source: Box<dyn ConfigSource>,
    log_level: Option<LogLevel>,
    broker: Arc<Broker>,
    signal: ShutdownSignal,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal as unix_signal, SignalKind};
        let Ok(mut hangups) = unix_signal(SignalKind::hangup()) else {
            tracing::warn!("cannot listen for SIGHUP; reload is unavailable");
            return;
        };
        let stop = signal.wait();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = hangups.recv() => {
                    systemd::reloading();
                    apply_reload(source.as_ref(), log_level.as_ref(), &broker);
                    systemd::ready("serving (reloaded)");
                }
                _ = &mut stop => return,
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (source, log_level, broker, signal);
}

fn apply_reload(source: &dyn ConfigSource, log_level: Option<&LogLevel>, broker: &Broker) {
    let new = match source.reload() {
        None => {
            tracing::warn!("SIGHUP: mqd runs without --config; there is nothing to reload");
            return;
        }
        Some(Err(error)) => {
            tracing::error!(%error, "SIGHUP: the config was refused; nothing changed");
            return;
        }
        Some(Ok(new)) => new,
    };
    let old = broker.config();
    let mut needs_restart = Vec::new();
    if new.node != old.node {
        needs_restart.push("[node]");
    }
    if new.groups != old.groups {
        needs_restart.push("[groups]");
    }
    if new.log.retention_check_interval != old.log.retention_check_interval {
        needs_restart.push("log.retention_check_interval");
    }
    if new.log.prefault_ahead != old.log.prefault_ahead {
        needs_restart.push("log.prefault_ahead");
    }
    if new.limits.max_connections != old.limits.max_connections {
        needs_restart.push("limits.max_connections");
    }
    if new.limits.header_read_timeout != old.limits.header_read_timeout {
        needs_restart.push("limits.header_read_timeout");
    }
    if new.limits.idle_timeout != old.limits.idle_timeout {
        needs_restart.push("limits.idle_timeout");
    }
    if new.logging.format != old.logging.format {
        needs_restart.push("logging.format");
    }
    let level = match (log_level, new.logging.level != old.logging.level) {
        (Some(handle), true) => match handle.set(&new.logging.level) {
            Ok(true) => "applied",
            Ok(false) => "kept (RUST_LOG is set)",
            Err(_) => "refused",
        },
        _ => "unchanged",
    };
    // What needs a restart keeps its running value, so the node stays what it says it is.
    let mut new = new;
    new.node = old.node.clone();
    new.groups = old.groups.clone();
    new.log.retention_check_interval = old.log.retention_check_interval;
    new.log.prefault_ahead = old.log.prefault_ahead;
    new.limits.max_connections = old.limits.max_connections;
    new.limits.header_read_timeout = old.limits.header_read_timeout;
    new.limits.idle_timeout = old.limits.idle_timeout;
    new.logging.format = old.logging.format;
    broker.set_config(Arc::new(new));
    tracing::info!(
        log_level = level,
        needs_restart = ?needs_restart,
        "SIGHUP: configuration reloaded; limits and topic defaults apply now"
    );
}
