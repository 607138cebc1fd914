//! The node's configuration: typed structs loaded from TOML, with every default in one place
//! ([`Config::default`], mirrored key by key in `default.toml`, which `mqd --print-default-config`
//! prints) and validation at start that names the offending key.
//!
//! Unknown keys are refused (`deny_unknown_fields`), so a misspelt setting fails loudly instead of
//! silently keeping its default.

mod cluster;
mod memory_limit;
mod units;

pub use cluster::{ClusterConfig, ClusterNode};
pub use memory_limit::{MachineMemory, MemoryLimit};
pub use units::{ByteSize, HumanDuration};

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::Path;

/// The commented default configuration, printed by `mqd --print-default-config`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default.toml");

/// Why a configuration was refused. The message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {key}: {message}")]
    Invalid {
        origin: String,
        key: String,
        message: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub node: NodeConfig,
    pub log: LogConfig,
    pub topics: TopicDefaults,
    pub limits: Limits,
    pub groups: GroupsConfig,
    pub logging: LoggingConfig,
    /// Absent: a cluster of one (this node alone).
    pub cluster: Option<ClusterConfig>,
    /// Absent: no Kafka listener.
    pub kafka: Option<KafkaConfig>,
}

/// `[kafka]`: a listener that speaks Kafka's wire protocol beside the HTTP API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Where the Kafka listener binds (port 0: any free port).
    pub listen: SocketAddr,
    /// The `host:port` Kafka clients are told to reach this node at (Kafka's
    /// `advertised.listeners`); the bound address when absent. In a cluster, each node's
    /// `kafka` entry in `cluster.nodes` says it for the other nodes.
    #[serde(default)]
    pub advertised: Option<String>,
}

/// `[node]`: who this node is and where it listens.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    pub id: u64,
    pub listen: SocketAddr,
    /// How long a SIGTERM waits for in-flight requests before the process exits anyway.
    pub shutdown_timeout: HumanDuration,
    /// Where a cluster node keeps its Raft metadata (vote, log, snapshots; records stay in
    /// memory). Needed with `[cluster]`; a single node writes nothing to disk.
    pub data_dir: Option<std::path::PathBuf>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            id: 1,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT)),
            shutdown_timeout: HumanDuration::from_secs(10),
            data_dir: None,
        }
    }
}

/// The port of the embedded default: not 8080 (web servers) nor 9092 (Kafka), so mq runs beside both.
pub const DEFAULT_PORT: u16 = 7171;

/// `[log]`: segments and retention; topics take these as defaults.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub segment_bytes: ByteSize,
    pub index_interval_bytes: ByteSize,
    /// `0s` keeps records forever.
    pub retention: HumanDuration,
    /// Per partition; `0` means no size limit.
    pub retention_bytes: ByteSize,
    pub retention_check_interval: HumanDuration,
    /// How far ahead of a busy segment's appends its pages are populated by a background
    /// thread, so that a produce does not pay first-touch page faults (0: not at all); never
    /// past the segment's `segment_bytes`.
    pub prefault_ahead: ByteSize,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: ByteSize::mib(8),
            index_interval_bytes: ByteSize::kib(4),
            retention: HumanDuration::from_secs(7 * 24 * 3600),
            retention_bytes: ByteSize(0),
            retention_check_interval: HumanDuration::from_secs(30),
            prefault_ahead: ByteSize::mib(2),
        }
    }
}

/// `[topics]`: defaults for new topics.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicDefaults {
    pub default_partitions: u32,
    /// Copies of each partition when a create does not say (clamped to 1 on a single node).
    pub default_replication_factor: u32,
    /// In-sync replicas an `acks=all` produce needs when a create does not say.
    pub default_min_insync_replicas: u32,
    /// How long a record id is remembered for deduplication.
    pub dedup_window: HumanDuration,
    /// How many record ids a topic remembers at most.
    pub dedup_window_records: u64,
    /// How long an idempotent producer's batch that arrived before the batches ahead of it in
    /// its sequence (sent on another connection) waits for them before it is refused as out of
    /// order.
    pub producer_reorder_wait: HumanDuration,
}

impl Default for TopicDefaults {
    fn default() -> Self {
        TopicDefaults {
            default_partitions: 1,
            default_replication_factor: 1,
            default_min_insync_replicas: 1,
            dedup_window: HumanDuration::from_secs(300),
            dedup_window_records: 100_000,
            producer_reorder_wait: HumanDuration(std::time::Duration::from_millis(200)),
        }
    }
}

/// `[limits]`: what one request and the whole node may use.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Node-wide bytes of stored records; past it produce is refused with 507 (or, for topics with
    /// `discard = "old"`, their oldest segments go).
    pub memory: MemoryLimit,
    pub max_request_bytes: ByteSize,
    pub max_record_bytes: ByteSize,
    pub max_batch_records: u32,
    pub max_partitions_per_topic: u32,
    /// Most topics this node holds.
    pub max_topics: u32,
    /// Most partitions this node hosts, over all topics.
    pub max_partitions: u32,
    /// Most open client connections; more are answered 503 and closed.
    pub max_connections: u32,
    /// Upper bound of a fetch's `max_bytes`, and its default.
    pub max_fetch_bytes: ByteSize,
    /// Upper bound of a fetch's `max_wait_ms`.
    pub max_fetch_wait: HumanDuration,
    /// From a new connection, or from the first byte of a keep-alive connection's next request,
    /// until its headers are read.
    pub header_read_timeout: HumanDuration,
    /// How long a keep-alive connection may sit with no request running and no bytes moving.
    pub idle_timeout: HumanDuration,
    /// Grace before a request body must keep `body_min_rate`.
    pub body_read_timeout: HumanDuration,
    /// Least average rate of a request body, in bytes per second, after the grace.
    pub body_min_rate: ByteSize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory: MemoryLimit::Auto,
            max_request_bytes: ByteSize::mib(64),
            max_record_bytes: ByteSize::mib(1),
            max_batch_records: 100_000,
            max_partitions_per_topic: 1024,
            max_topics: 10_000,
            max_partitions: 100_000,
            max_connections: 10_000,
            max_fetch_bytes: ByteSize::mib(16),
            max_fetch_wait: HumanDuration::from_secs(30),
            header_read_timeout: HumanDuration::from_secs(10),
            idle_timeout: HumanDuration::from_secs(120),
            body_read_timeout: HumanDuration::from_secs(10),
            body_min_rate: ByteSize::kib(16),
        }
    }
}

/// `[groups]`: consumer-group sessions.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupsConfig {
    /// Session timeout of a member that does not ask for one.
    pub default_session_timeout: HumanDuration,
    pub min_session_timeout: HumanDuration,
    pub max_session_timeout: HumanDuration,
    /// How often expired members are looked for (requests also check).
    pub expiry_check_interval: HumanDuration,
    /// A group with no members and no commit for this long loses its committed offsets (Kafka's
    /// `offsets.retention.minutes`).
    pub offsets_retention: HumanDuration,
}

impl Default for GroupsConfig {
    fn default() -> Self {
        GroupsConfig {
            default_session_timeout: HumanDuration::from_secs(10),
            min_session_timeout: HumanDuration(std::time::Duration::from_millis(100)),
            max_session_timeout: HumanDuration::from_secs(300),
            expiry_check_interval: HumanDuration(std::time::Duration::from_millis(100)),
            offsets_retention: HumanDuration::from_secs(7 * 24 * 3600),
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    /// A `tracing` filter (`info`, `mqd=debug,info`); `RUST_LOG` wins when set.
    pub level: String,
    /// `text` for people, `json` (one object per line) for log pipelines.
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            level: "info".to_owned(),
            format: LogFormat::Text,
        }
    }
}

impl Config {
    /// Reads, parses and validates a TOML file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Config::parse(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            key,
            message,
        };
        let deserializer = toml::Deserializer::parse(text)
            .map_err(|error| invalid("(syntax)".to_owned(), one_line(&error.to_string())))?;
        let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let key = error.path().to_string();
            let key = if key == "." {
                "(top level)".to_owned()
            } else {
                key
            };
            invalid(key, one_line(&error.into_inner().to_string()))
        })?;
        config
            .validate()
            .map_err(|(key, message)| invalid(key.to_owned(), message))?;
        Ok(config)
    }

    /// Refuses impossible values: returns the key and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let check = |ok: bool, key: &'static str, message: &str| {
            if ok {
                Ok(())
            } else {
                Err((key, message.to_owned()))
            }
        };
        check(
            self.log.segment_bytes.0 >= 1024,
            "log.segment_bytes",
            "must be at least 1KiB",
        )?;
        check(
            self.log.segment_bytes.0 <= u64::from(u32::MAX),
            "log.segment_bytes",
            "must be at most 4GiB",
        )?;
        check(
            self.log.index_interval_bytes.0 >= 1,
            "log.index_interval_bytes",
            "must be at least 1",
        )?;
        check(
            !self.log.retention_check_interval.is_zero(),
            "log.retention_check_interval",
            "must be more than 0s",
        )?;
        check(
            self.topics.default_partitions >= 1,
            "topics.default_partitions",
            "must be at least 1",
        )?;
        check(
            self.topics.default_partitions <= self.limits.max_partitions_per_topic,
            "topics.default_partitions",
            "must not exceed limits.max_partitions_per_topic",
        )?;
        check(
            self.topics.default_replication_factor >= 1,
            "topics.default_replication_factor",
            "must be at least 1",
        )?;
        check(
            self.topics.default_min_insync_replicas >= 1,
            "topics.default_min_insync_replicas",
            "must be at least 1",
        )?;
        check(
            self.limits.memory.bytes() >= 1024 * 1024,
            "limits.memory",
            "must be at least 1MiB",
        )?;
        for (value, key) in [
            (
                self.limits.header_read_timeout,
                "limits.header_read_timeout",
            ),
            (self.limits.idle_timeout, "limits.idle_timeout"),
            (self.limits.body_read_timeout, "limits.body_read_timeout"),
        ] {
            check(!value.is_zero(), key, "must be more than 0s")?;
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate(self.node.id)?;
            check(
                self.node.data_dir.is_some(),
                "node.data_dir",
                "a cluster node keeps its Raft metadata there: set it",
            )?;
        }
        check(
            !self.groups.offsets_retention.is_zero(),
            "groups.offsets_retention",
            "must be more than 0s",
        )?;
        check(
            self.limits.body_min_rate.0 >= 1,
            "limits.body_min_rate",
            "must be at least 1 byte per second",
        )?;
        check(
            self.limits.max_request_bytes.0 >= 1024,
            "limits.max_request_bytes",
            "must be at least 1KiB",
        )?;
        check(
            self.limits.max_record_bytes.0 >= 1
                && self.limits.max_record_bytes.0 <= self.limits.max_request_bytes.0,
            "limits.max_record_bytes",
            "must be between 1 and limits.max_request_bytes",
        )?;
        check(
            self.limits.max_batch_records >= 1,
            "limits.max_batch_records",
            "must be at least 1",
        )?;
        check(
            self.limits.max_partitions_per_topic >= 1,
            "limits.max_partitions_per_topic",
            "must be at least 1",
        )?;
        check(
            self.limits.max_topics >= 1,
            "limits.max_topics",
            "must be at least 1",
        )?;
        check(
            self.limits.max_partitions >= self.limits.max_partitions_per_topic,
            "limits.max_partitions",
            "must be at least limits.max_partitions_per_topic",
        )?;
        check(
            self.limits.max_connections >= 1,
            "limits.max_connections",
            "must be at least 1",
        )?;
        check(
            self.limits.max_fetch_bytes.0 >= 1024,
            "limits.max_fetch_bytes",
            "must be at least 1KiB",
        )?;
        let groups = &self.groups;
        check(
            groups.min_session_timeout <= groups.default_session_timeout
                && groups.default_session_timeout <= groups.max_session_timeout,
            "groups.default_session_timeout",
            "must lie between groups.min_session_timeout and groups.max_session_timeout",
        )?;
        check(
            !groups.expiry_check_interval.is_zero(),
            "groups.expiry_check_interval",
            "must be more than 0s",
        )?;
        check(
            tracing_subscriber::EnvFilter::try_new(&self.logging.level).is_ok(),
            "logging.level",
            "is not a valid filter (try info, debug, or mqd=debug,info)",
        )?;
        Ok(())
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_default_config_is_the_default() {
        let parsed = Config::parse(DEFAULT_CONFIG_TOML, "default.toml").unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn empty_file_is_the_default() {
        assert_eq!(Config::parse("", "empty").unwrap(), Config::default());
    }

    #[test]
    fn units_are_read() {
        let config = Config::parse(
            "[log]\nsegment_bytes = \"64KiB\"\nretention = \"90m\"\n[limits]\nmemory = 2097152\n",
            "t",
        )
        .unwrap();
        assert_eq!(config.log.segment_bytes, ByteSize(64 * 1024));
        assert_eq!(config.log.retention.as_millis(), 90 * 60 * 1000);
        assert_eq!(
            config.limits.memory,
            MemoryLimit::Fixed(ByteSize(2 * 1024 * 1024))
        );
    }

    #[test]
    fn durations_past_a_century_are_refused() {
        let error = error_of("[limits]\nheader_read_timeout = \"10000000000000000000s\"\n");
        assert!(error.contains("limits.header_read_timeout"), "{error}");
        assert!(error.contains("century"), "{error}");
        assert!(Config::parse("[log]\nretention = \"36500d\"\n", "test").is_ok());
    }

    #[test]
    fn a_cluster_section_is_checked() {
        let three = "[node]\nid = 2\ndata_dir = \"/tmp/mq\"\n[cluster]\nnodes = [\
                     { id = 1, addr = \"127.0.0.1:9401\" }, { id = 2, addr = \"127.0.0.1:9402\" }, \
                     { id = 3, addr = \"127.0.0.1:9403\" }]\n";
        let config = Config::parse(three, "test").unwrap();
        let cluster = config.cluster.unwrap();
        assert_eq!(cluster.nodes.len(), 3);
        assert_eq!(cluster.node(2).unwrap().addr, "127.0.0.1:9402");
        let cases = [
            (three.replace("id = 2\n", "id = 7\n"), "node.id"),
            (
                three.replace("data_dir = \"/tmp/mq\"\n", ""),
                "node.data_dir",
            ),
            (three.replace("id = 3,", "id = 1,"), "cluster.nodes"),
            (three.replace("9403", "9402"), "cluster.nodes"),
            (three.replace("127.0.0.1:9403", "nowhere"), "cluster.nodes"),
            (
                format!("{three}election_timeout = \"100ms\"\n"),
                "cluster.election_timeout",
            ),
            (format!("{three}nodez = 1\n"), "cluster"),
        ];
        for (text, key) in cases {
            let error = Config::parse(&text, "test").unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }

    fn error_of(text: &str) -> String {
        Config::parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_key() {
        let unknown = error_of("[log]\nsegment_byts = 5\n");
        assert!(unknown.contains("segment_byts"), "{unknown}");
        let wrong_type = error_of("[topics]\ndefault_partitions = \"many\"\n");
        assert!(
            wrong_type.contains("topics.default_partitions"),
            "{wrong_type}"
        );
        let impossible = error_of("[topics]\ndefault_partitions = 0\n");
        assert!(
            impossible.contains("topics.default_partitions"),
            "{impossible}"
        );
        let bad_size = error_of("[limits]\nmemory = \"lots\"\n");
        assert!(bad_size.contains("limits.memory"), "{bad_size}");
        let bad_duration = error_of("[log]\nretention = \"soon\"\n");
        assert!(bad_duration.contains("log.retention"), "{bad_duration}");
        let unknown_section = error_of("[nodes]\nid = 1\n");
        assert!(unknown_section.contains("nodes"), "{unknown_section}");
    }
}
