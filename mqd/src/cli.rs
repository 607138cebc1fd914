//! The `mqd` command line: which config to load and which keys to override.

use crate::config::{Config, ConfigError, DEFAULT_CONFIG_TOML};
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// mqd: the mq broker daemon.
///
/// With no config file it runs a single in-memory node on 127.0.0.1:7171.
#[derive(Debug, Parser)]
#[command(name = "mqd", version = crate::VERSION)]
pub struct Args {
    /// TOML config file (see --print-default-config for every key).
    #[arg(short, long, value_name = "FILE", env = "MQD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Listen address, overriding node.listen (port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Node id, overriding node.id.
    #[arg(long, value_name = "N")]
    pub node_id: Option<u64>,
    /// Validate FILE and exit: 0 when valid, 2 with the offending key when not.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["config", "print_default_config"])]
    pub check_config: Option<PathBuf>,
    /// Print the default configuration, every key commented, and exit.
    #[arg(long)]
    pub print_default_config: bool,
    /// Log format, overriding logging.format.
    #[arg(long, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

/// What `main` should do.
pub enum Action {
    Print(&'static str),
    ConfigOk(PathBuf),
    Run(Box<Config>, Overrides),
}

/// The config file and the flags that override it, kept so that SIGHUP reads them the same way.
#[derive(Debug, Clone)]
pub struct Overrides {
    pub file: Option<PathBuf>,
    pub listen: Option<SocketAddr>,
    pub node_id: Option<u64>,
    pub log_format: Option<crate::config::LogFormat>,
}

impl Overrides {
    /// Loads the file (or the defaults) and applies the flags.
    pub fn load(&self) -> Result<Config, ConfigError> {
        let mut config = match &self.file {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(listen) = self.listen {
            config.node.listen = listen;
        }
        if let Some(id) = self.node_id {
            config.node.id = id;
        }
        if let Some(format) = self.log_format {
            config.logging.format = format;
        }
        Ok(config)
    }
}

impl crate::server::ConfigSource for Overrides {
    fn reload(&self) -> Option<Result<Config, ConfigError>> {
        self.file.as_ref()?;
        Some(self.load())
    }
}

impl Args {
    /// Resolves the flags into an action: the config is loaded, overridden and validated here.
    pub fn action(self) -> Result<Action, ConfigError> {
        if self.print_default_config {
            return Ok(Action::Print(DEFAULT_CONFIG_TOML));
        }
        if let Some(path) = self.check_config {
            Config::load(&path)?;
            return Ok(Action::ConfigOk(path));
        }
        let overrides = Overrides {
            file: self.config,
            listen: self.listen,
            node_id: self.node_id,
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => crate::config::LogFormat::Text,
                LogFormatArg::Json => crate::config::LogFormat::Json,
            }),
        };
        let config = overrides.load()?;
        Ok(Action::Run(Box::new(config), overrides))
    }
}
