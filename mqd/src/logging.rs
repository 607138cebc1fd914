//! Logs to stderr through `tracing`: text for people or JSON lines for pipelines, at a level from
//! the config (or `RUST_LOG`, which wins) that a SIGHUP reload can change.

use crate::config::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// Changes the log level of the running process.
#[derive(Clone)]
pub struct LogLevel {
    handle: reload::Handle<EnvFilter, Registry>,
    from_env: bool,
}

impl LogLevel {
    /// Applies `level` (a `tracing` filter). Returns false, changing nothing, when `RUST_LOG`
    /// fixes the level.
    pub fn set(&self, level: &str) -> Result<bool, String> {
        if self.from_env {
            return Ok(false);
        }
        let filter = EnvFilter::try_new(level).map_err(|e| e.to_string())?;
        self.handle.reload(filter).map_err(|e| e.to_string())?;
        Ok(true)
    }
}

/// Installs the global subscriber.
pub fn init(level: &str, format: LogFormat) -> LogLevel {
    let env = EnvFilter::try_from_default_env().ok();
    let from_env = env.is_some();
    let filter = env.unwrap_or_else(|| EnvFilter::new(level));
    let (filter, handle) = reload::Layer::new(filter);
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal()),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .init(),
    }
    LogLevel { handle, from_env }
}
