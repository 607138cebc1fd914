//! The command line, as clap declares it. Flag names follow Kafka's tools where the concept is the
//! same (`--partitions`, `--replication-factor`, `--from-beginning`, `--max-messages`,
//! `--to-earliest`, `--execute`).

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// mqctl: operate an mq cluster: topics, produce, consume, consumer groups, cluster status.
#[derive(Debug, Parser)]
#[command(name = "mqctl", version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("MQ_GIT_COMMIT"), ")"), propagate_version = true)]
pub struct Cli {
    /// Server(s) to talk to: http://host:port or host:port, comma-separated bootstrap list.
    #[arg(
        long,
        global = true,
        env = "MQ_SERVER",
        default_value = "http://127.0.0.1:7171"
    )]
    pub server: String,
    /// Output format: tables for people, JSON lines for scripts (default: table on a terminal,
    /// json otherwise; `consume` prints values unless json is asked for).
    #[arg(short, long, global = true, value_enum)]
    pub output: Option<OutputFormat>,
    /// Per-request timeout, e.g. 30s, 500ms.
    #[arg(long, global = true, default_value = "30s", value_parser = humantime::parse_duration)]
    pub timeout: std::time::Duration,
    /// Log every request (method, URL, status, time) to stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create, list, describe and delete topics.
    #[command(subcommand)]
    Topic(TopicCommand),
    /// Produce records from stdin or files, one per line.
    Produce(ProduceArgs),
    /// Consume records, alone or as a member of a consumer group.
    Consume(ConsumeArgs),
    /// Commit a group's offset for one partition (the group must have no members).
    Commit(CommitArgs),
    /// Inspect and manage consumer groups.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Cluster information.
    #[command(subcommand)]
    Cluster(ClusterCommand),
    /// Check that a node answers (exit 0) or not (exit 1).
    Health,
    /// Benchmark produce, consume, group consume, end-to-end latency, or memory per record.
    Bench(crate::commands::bench::BenchArgs),
    /// Print a shell completion script.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum TopicCommand {
    /// Create a topic.
    Create {
        name: String,
        /// Number of partitions (default: the server's topics.default_partitions).
        #[arg(long)]
        partitions: Option<u32>,
        /// Copies of each partition on distinct nodes (default: the server's
        /// topics.default_replication_factor).
        #[arg(long)]
        replication_factor: Option<u32>,
        /// In-sync replicas an acks=all produce needs (default 1).
        #[arg(long)]
        min_insync_replicas: Option<u32>,
        /// Let a replica out of the ISR lead when no in-sync one is left (may lose acknowledged
        /// records).
        #[arg(long)]
        unclean_leader_election: bool,
        /// Age after which segments are evicted, e.g. 7d, 12h; 0s keeps records forever.
        #[arg(long, value_parser = humantime::parse_duration)]
        retention: Option<std::time::Duration>,
        /// Size per partition past which the oldest segments go, e.g. 1GiB; 0 for no limit.
        #[arg(long, value_parser = parse_size)]
        retention_bytes: Option<u64>,
        /// When the node's memory limit is reached: `new` refuses produce (the default), `old`
        /// evicts this topic's oldest segments to make room.
        #[arg(long, value_enum)]
        discard: Option<DiscardArg>,
    },
    /// List topics.
    List,
    /// Show a topic's partitions: leader, epoch, replicas, ISR, log start and end, high
    /// watermark, size.
    Describe { name: String },
    /// Change a topic's settings; those not named stay. The partition count and replication
    /// factor are fixed at creation.
    #[command(group = clap::ArgGroup::new("changes").required(true).multiple(true).args([
        "min_insync_replicas", "unclean_leader_election", "retention", "retention_bytes", "discard",
    ]))]
    Alter {
        name: String,
        /// In-sync replicas an acks=all produce needs, 1 to the replication factor.
        #[arg(long)]
        min_insync_replicas: Option<u32>,
        /// Whether a replica out of the ISR may lead when no in-sync one is left.
        #[arg(long)]
        unclean_leader_election: Option<bool>,
        /// Age after which segments are evicted, e.g. 7d, 12h; 0s keeps records forever.
        #[arg(long, value_parser = humantime::parse_duration)]
        retention: Option<std::time::Duration>,
        /// Size per partition past which the oldest segments go, e.g. 1GiB; 0 for no limit.
        #[arg(long, value_parser = parse_size)]
        retention_bytes: Option<u64>,
        /// When the node's memory limit is reached: `new` refuses produce, `old` evicts this
        /// topic's oldest segments.
        #[arg(long, value_enum)]
        discard: Option<DiscardArg>,
    },
    /// Delete a partition's records below an offset (Kafka's DeleteRecords); the partition
    /// then starts there.
    DeleteRecords {
        name: String,
        #[arg(long)]
        partition: u32,
        /// Every record below this offset goes (at most the high watermark).
        #[arg(long)]
        before: u64,
    },
    /// Delete a topic and its records.
    Delete { name: String },
}

#[derive(Debug, ClapArgs)]
pub struct ProduceArgs {
    pub topic: String,
    /// Files to read (default: stdin). Each line is one record.
    pub files: Vec<PathBuf>,
    /// Split each line at the first SEP into key and value.
    #[arg(long, value_name = "SEP")]
    pub key_separator: Option<String>,
    /// A header added to every record (repeatable).
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all"])]
    pub acks: String,
    /// Send every record to this partition.
    #[arg(long)]
    pub partition: Option<u32>,
    /// Records per request. Larger than bench's default on purpose: fewer, larger requests mean
    /// fewer round trips.
    #[arg(long, default_value_t = 4000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// How long a partly filled batch waits for more lines.
    #[arg(long, default_value_t = 5)]
    pub linger_ms: u64,
    /// Requests in flight across partitions.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_in_flight: u32,
    /// Requests one partition may have in flight, 1 to 5 (Kafka's
    /// max.in.flight.requests.per.connection); each partition's order is kept either way.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=5))]
    pub in_flight_per_partition: u32,
    /// Attempts after the first for a batch that failed with a retriable error.
    #[arg(long, default_value_t = 5)]
    pub retries: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CommitMode {
    /// Commit what was printed every second and on exit.
    Auto,
    /// Commit after every batch printed.
    After,
    /// Never commit.
    None,
}

#[derive(Debug, ClapArgs)]
pub struct ConsumeArgs {
    pub topic: String,
    /// Join this consumer group and share the topic with its other members.
    #[arg(long)]
    pub group: Option<String>,
    /// Start from the earliest record (default: the latest, or the group's committed offsets).
    #[arg(long)]
    pub from_beginning: bool,
    /// Read only this partition.
    #[arg(long, conflicts_with = "group")]
    pub partition: Option<u32>,
    /// Start at this offset (needs --partition).
    #[arg(long, requires = "partition", conflicts_with = "from_beginning")]
    pub offset: Option<u64>,
    /// Exit after this many records.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Exit when no record arrives for this long.
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
    /// When a group member commits what it printed.
    #[arg(long, value_enum, default_value = "auto")]
    pub commit: CommitMode,
    #[arg(long)]
    pub print_key: bool,
    #[arg(long)]
    pub print_offset: bool,
    #[arg(long)]
    pub print_headers: bool,
    /// Line format: %t topic, %p partition, %o offset, %k key, %v value, %h headers,
    /// %T timestamp, %i id, %% a percent sign.
    #[arg(long)]
    pub format: Option<String>,
    /// Session timeout of the group member, e.g. 10s.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub session_timeout: Option<std::time::Duration>,
}

#[derive(Debug, ClapArgs)]
pub struct CommitArgs {
    #[arg(long)]
    pub group: String,
    pub topic: String,
    pub partition: u32,
    /// The next offset the group will read.
    pub offset: u64,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// List consumer groups.
    List,
    /// Show a group's members, and per partition its committed offset, log end and lag.
    Describe { group: String },
    /// Move a group's committed offsets (prints the plan; --execute applies it).
    ResetOffsets(ResetArgs),
    /// Delete a group with no members, and its committed offsets.
    Delete { group: String },
}

#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["to_earliest", "to_latest", "to_offset", "shift_by"])))]
pub struct ResetArgs {
    pub group: String,
    #[arg(long)]
    pub topic: String,
    /// Only these partitions (comma-separated); all when absent.
    #[arg(long, value_delimiter = ',')]
    pub partitions: Option<Vec<u32>>,
    #[arg(long)]
    pub to_earliest: bool,
    #[arg(long)]
    pub to_latest: bool,
    #[arg(long, value_name = "N")]
    pub to_offset: Option<u64>,
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub shift_by: Option<i64>,
    /// Apply the plan (without it nothing changes).
    #[arg(long)]
    pub execute: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The nodes: id, address, role, health.
    Status,
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

fn parse_size(text: &str) -> Result<u64, String> {
    text.trim()
        .parse::<bytesize::ByteSize>()
        .map(|s| s.as_u64())
        .map_err(|_| format!("`{text}` is not a size (try 512MiB, 1GiB)"))
}

/// `--discard` of `mqctl topic create`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiscardArg {
    New,
    Old,
}

impl From<DiscardArg> for mq_wire::api::DiscardPolicy {
    fn from(arg: DiscardArg) -> Self {
        match arg {
            DiscardArg::New => mq_wire::api::DiscardPolicy::New,
            DiscardArg::Old => mq_wire::api::DiscardPolicy::Old,
        }
    }
}
