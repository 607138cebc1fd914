//! `mqctl bench produce|consume|group|e2e|fill`: the operator's benchmark, like iggy-bench or
//! kafka-producer-perf-test, on the binary batch path. Every mode checks what it measured:
//! records carry a sequence number, and consume, group and e2e fail on a gap or a duplicate.

mod report;
mod run;
mod tracker;

pub use report::Report;

use crate::args::OutputFormat;
use anyhow::{Context, Result};
use clap::{Args as ClapArgs, ValueEnum};
use mq_wire::api::CreateTopicRequest;
use mqctl::Client;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Producers send --messages records as fast as acknowledgements come back.
    Produce,
    /// Records are loaded first (not timed), then consumers read them all from the partitions.
    Consume,
    /// Records are loaded first, then a consumer group reads them all, committing every fetch.
    Group,
    /// Producers and a consumer run together; the time from send to receipt of every record.
    E2e,
    /// Loads --messages records and reports the server's resident memory growth per record.
    Fill,
}

#[derive(Debug, ClapArgs)]
pub struct BenchArgs {
    #[arg(value_enum)]
    pub mode: Mode,
    /// Topic to use (default: a new one, deleted at the end).
    #[arg(long)]
    pub topic: Option<String>,
    #[arg(long, default_value_t = 1_000_000)]
    pub messages: u64,
    /// Value size in bytes (at least 16: sequence number and send time).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(16..=1_048_576))]
    pub size: u64,
    #[arg(long, default_value_t = 1)]
    pub partitions: u32,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub producers: u32,
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub consumers: u32,
    /// Consumer group for `group` mode (default: a new one).
    #[arg(long)]
    pub group: Option<String>,
    /// Records per request.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
    /// Requests in flight per producer.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub in_flight: u32,
    /// What each produce waits for: `all` (the in-sync replicas hold it), `1` (the leader's
    /// append) or `0`.
    #[arg(long, default_value = "all", value_parser = ["0", "1", "all"])]
    pub acks: String,
    /// Replication factor of the topic the bench creates (default: the server's).
    #[arg(long)]
    pub replication_factor: Option<u32>,
    /// min_insync_replicas of the topic the bench creates.
    #[arg(long)]
    pub min_insync_replicas: Option<u32>,
    /// Records per second over all producers (0: as fast as possible), for latency runs.
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Keep the topic at the end (fill keeps the data in the server's memory).
    #[arg(long)]
    pub keep_topic: bool,
    /// Test hook: never send the record with this sequence number, to show a run detects loss.
    #[arg(long, hide = true)]
    pub lose_record: Option<u64>,
}

pub async fn run(client: &Client, args: BenchArgs, format: OutputFormat) -> Result<()> {
    let mode_name = format!("{:?}", args.mode).to_lowercase();
    let context = || format!("bench {mode_name}");
    let (topic, created) = match &args.topic {
        Some(topic) => (topic.clone(), false),
        None => {
            let name = format!("bench-{mode_name}-{}", uuid::Uuid::new_v4().simple());
            let request = CreateTopicRequest {
                name: name.clone(),
                partitions: Some(args.partitions),
                replication_factor: args.replication_factor,
                min_insync_replicas: args.min_insync_replicas,
                retention_ms: Some(0),
                ..Default::default()
            };
            client.create_topic(&request).await.with_context(context)?;
            (name, true)
        }
    };
    let result = run::run_mode(client, &args, &topic)
        .await
        .with_context(context);
    if created && !args.keep_topic {
        let _ = client.delete_topic(&topic).await;
    }
    let report = result?;
    report.print(&mode_name, format);
    Ok(())
}
