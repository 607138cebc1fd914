//! `mqctl consume TOPIC`: values one per line like kafka-console-consumer, or JSON lines with
//! `-o json`. Alone, it reads the partitions itself (from the latest, `--from-beginning`, or
//! `--partition P --offset O`); with `--group` it joins the group, heartbeats, and commits what it
//! printed as `--commit` says, leaving the group on exit (max messages, idle time, Ctrl-C).

use crate::args::{CommitMode, ConsumeArgs, OutputFormat};
use anyhow::{Context, Result};
use mq_wire::api::{
    FetchedRecord, GroupFetchRequest, HeartbeatRequest, JoinGroupRequest, ListOffsetsQuery,
    OffsetReset, TopicDescription,
};
use mq_wire::batch::BatchIter;
use mq_wire::binary::decode_frames;
use mq_wire::ErrorCode;
use mqctl::group_consumer::{commit_request, GroupConsumer};
use mqctl::{Client, ClientError};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long one fetch waits for data before the loop checks its timers, at most.
const POLL_MS: u64 = 500;

/// `request_timeout` is `--timeout`: a long poll must end well within it.
pub async fn run(
    client: &Client,
    args: ConsumeArgs,
    format: Option<OutputFormat>,
    request_timeout: Duration,
) -> Result<()> {
    let printer = Printer::new(&args, format);
    let poll_ms = POLL_MS.min(request_timeout.as_millis() as u64 / 2);
    match args.group.clone() {
        Some(group) if client.in_cluster().await => {
            consume_group_direct(client, &args, &group, printer, poll_ms).await
        }
        Some(group) => consume_group(client, &args, &group, printer, poll_ms).await,
        None => consume_partitions(client, &args, printer, poll_ms).await,
    }
}

/// How `consume --group` joins: the topic, the session, where a partition without a commit starts.
fn join_request(args: &ConsumeArgs) -> JoinGroupRequest {
    JoinGroupRequest {
        topics: vec![args.topic.clone()],
        session_timeout_ms: args.session_timeout.map(|d| d.as_millis() as u64),
        auto_offset_reset: Some(if args.from_beginning {
            OffsetReset::Earliest
        } else {
            OffsetReset::Latest
        }),
        client_id: Some("mqctl".to_owned()),
        ..Default::default()
    }
}

/// `consume --group` in a cluster: a [`GroupConsumer`] fetching from each partition's leader.
async fn consume_group_direct(
    client: &Client,
    args: &ConsumeArgs,
    group: &str,
    mut printer: Printer,
    poll_ms: u64,
) -> Result<()> {
    let context = || format!("consume {} --group {group}", args.topic);
    client
        .describe_topic(&args.topic)
        .await
        .with_context(context)?;
    let mut member =
        GroupConsumer::join(client.clone(), group, join_request(args), poll_ms, 8 << 20)
            .await
            .with_context(context)?;
    let mut limits = Limits::new(args, poll_ms);
    let mut last_commit = Instant::now();
    let result: Result<()> = async {
        while !limits.done() {
            let polled = tokio::select! {
                polled = member.poll() => polled.with_context(context)?,
                _ = tokio::signal::ctrl_c() => break,
            };
            let mut printed = 0u64;
            if let Some(polled) = polled {
                let records = decode_records(
                    &polled.batches.bytes,
                    polled.from,
                    polled.batches.high_watermark,
                );
                for record in records {
                    if limits.remaining().is_some_and(|r| printed >= r) {
                        break;
                    }
                    printer.print(polled.partition, &record)?;
                    member.processed(&polled.topic, polled.partition, record.offset + 1);
                    printed += 1;
                }
            }
            printer.flush()?;
            limits.printed(printed);
            let commit_now = match args.commit {
                CommitMode::After => printed > 0,
                CommitMode::Auto => last_commit.elapsed() >= Duration::from_secs(1),
                CommitMode::None => false,
            };
            let heartbeat_now = member.heartbeat_due();
            if args.commit != CommitMode::None && (commit_now || heartbeat_now) {
                member.commit().await.with_context(context)?;
                last_commit = Instant::now();
            }
            if heartbeat_now {
                member.heartbeat().await.with_context(context)?;
            }
        }
        Ok(())
    }
    .await;
    printer.flush()?;
    if args.commit == CommitMode::None {
        member.leave_without_commit().await;
        return result;
    }
    let left = member.leave().await.with_context(context);
    result.and(left)
}

/// The records of whole batches from `from` up to the high watermark, in the JSON form the printer
/// takes.
fn decode_records(batches: &[u8], from: u64, high_watermark: u64) -> Vec<FetchedRecord> {
    BatchIter::new(batches)
        .filter_map(Result::ok)
        .flat_map(|batch| batch.records())
        .filter_map(Result::ok)
        .filter(|r| r.offset >= from && r.offset < high_watermark)
        .map(|r| FetchedRecord::from_record(&r, false))
        .collect()
}

/// Formats records as the flags ask.
struct Printer {
    topic: String,
    json: bool,
    format: Option<String>,
    print_key: bool,
    print_offset: bool,
    print_headers: bool,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    fn new(args: &ConsumeArgs, format: Option<OutputFormat>) -> Self {
        Printer {
            topic: args.topic.clone(),
            json: format == Some(OutputFormat::Json),
            format: args.format.clone(),
            print_key: args.print_key,
            print_offset: args.print_offset,
            print_headers: args.print_headers,
            out: std::io::BufWriter::new(std::io::stdout()),
        }
    }

    fn print(&mut self, partition: u32, record: &FetchedRecord) -> Result<()> {
        let line = if self.json {
            let mut value = serde_json::to_value(record)?;
            value["topic"] = self.topic.clone().into();
            value["partition"] = partition.into();
            serde_json::to_string(&value)?
        } else {
            self.text(partition, record)
        };
        writeln!(self.out, "{line}").context("writing to stdout")
    }

    fn text(&self, partition: u32, record: &FetchedRecord) -> String {
        let key = record
            .key_bytes()
            .map(|k| String::from_utf8_lossy(&k).into_owned())
            .unwrap_or_else(|| "null".to_owned());
        let value = String::from_utf8_lossy(&record.value_bytes()).into_owned();
        let headers = record
            .headers
            .iter()
            .map(|h| {
                let v = mq_wire::bytes_field::bytes_of(h.value.as_deref(), h.value_b64.as_deref())
                    .unwrap_or_default();
                format!("{}:{}", h.key, String::from_utf8_lossy(&v))
            })
            .collect::<Vec<_>>()
            .join(",");
        if let Some(format) = &self.format {
            let mut out = String::new();
            let mut chars = format.chars();
            while let Some(c) = chars.next() {
                if c != '%' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('t') => out.push_str(&self.topic),
                    Some('p') => out.push_str(&partition.to_string()),
                    Some('o') => out.push_str(&record.offset.to_string()),
                    Some('k') => out.push_str(&key),
                    Some('v') => out.push_str(&value),
                    Some('h') => out.push_str(&headers),
                    Some('T') => out.push_str(&record.timestamp.to_string()),
                    Some('i') => match record.id {
                        Some(id) => out.push_str(&id.to_string()),
                        None => out.push('-'),
                    },
                    Some('%') => out.push('%'),
                    Some(other) => {
                        out.push('%');
                        out.push(other);
                    }
                    None => out.push('%'),
                }
            }
            return out;
        }
        let mut fields = Vec::new();
        if self.print_offset {
            fields.push(format!("{partition}:{}", record.offset));
        }
        if self.print_key {
            fields.push(key);
        }
        fields.push(value);
        if self.print_headers {
            fields.push(headers);
        }
        fields.join("\t")
    }

    fn flush(&mut self) -> Result<()> {
        self.out.flush().context("writing to stdout")
    }
}

/// Stops when `--max-messages` are printed or nothing arrived for `--idle-exit-ms`.
struct Limits {
    max_messages: Option<u64>,
    idle: Option<Duration>,
    printed: u64,
    last_record: Instant,
    poll_ms: u64,
}

impl Limits {
    fn new(args: &ConsumeArgs, poll_ms: u64) -> Self {
        Limits {
            poll_ms,
            max_messages: args.max_messages,
            idle: args.idle_exit_ms.map(Duration::from_millis),
            printed: 0,
            last_record: Instant::now(),
        }
    }

    fn remaining(&self) -> Option<u64> {
        self.max_messages
            .map(|max| max.saturating_sub(self.printed))
    }

    fn done(&self) -> bool {
        self.remaining() == Some(0)
            || self
                .idle
                .is_some_and(|idle| self.last_record.elapsed() >= idle)
    }

    fn printed(&mut self, n: u64) {
        self.printed += n;
        if n > 0 {
            self.last_record = Instant::now();
        }
    }

    /// How long the next fetch may wait.
    fn wait_ms(&self) -> u64 {
        let idle_left = self.idle.map_or(self.poll_ms, |idle| {
            idle.saturating_sub(self.last_record.elapsed()).as_millis() as u64
        });
        idle_left.min(self.poll_ms)
    }
}

async fn consume_partitions(
    client: &Client,
    args: &ConsumeArgs,
    mut printer: Printer,
    poll_ms: u64,
) -> Result<()> {
    let topic = args.topic.clone();
    let described = client
        .describe_topic(&topic)
        .await
        .with_context(|| format!("consume {topic}"))?;
    let partitions: Vec<u32> = match args.partition {
        Some(p) => vec![p],
        None => (0..described.config.partitions).collect(),
    };
    let at = if args.from_beginning {
        "earliest"
    } else {
        "latest"
    };
    let offsets = client
        .list_offsets(
            &topic,
            &ListOffsetsQuery {
                at: Some(at.to_owned()),
                partition: args.partition,
            },
        )
        .await
        .with_context(|| format!("consume {topic}"))?;
    if !args.from_beginning && args.offset.is_none() && std::io::stderr().is_terminal() {
        if let Some(hint) = waiting_hint(&described, &partitions) {
            eprintln!("{hint}");
        }
    }
    let (tx, mut rx) = mpsc::channel::<Result<(u32, Vec<FetchedRecord>), ClientError>>(16);
    for partition in partitions {
        let start = match args.offset {
            Some(offset) => offset,
            None => offsets
                .partitions
                .iter()
                .find(|p| p.partition == partition)
                .map_or(0, |p| p.offset),
        };
        let (client, topic, tx) = (client.clone(), topic.clone(), tx.clone());
        tokio::spawn(async move {
            let mut next = start;
            loop {
                let answer = client
                    .fetch_batches(&topic, partition, next, 1 << 20, poll_ms)
                    .await
                    .map(|page| {
                        let records = decode_records(&page.bytes, next, page.high_watermark);
                        next = page.next_offset;
                        (partition, records)
                    });
                let failed = answer.is_err();
                if tx.send(answer).await.is_err() || failed {
                    return;
                }
            }
        });
    }
    drop(tx);
    let mut limits = Limits::new(args, poll_ms);
    while !limits.done() {
        let wait = Duration::from_millis(limits.wait_ms().max(1));
        tokio::select! {
            received = tokio::time::timeout(wait, rx.recv()) => match received {
                Ok(Some(answer)) => {
                    let (partition, records) = answer.with_context(|| format!("consume {topic}"))?;
                    let take = limits.remaining().map_or(records.len(), |r| (r as usize).min(records.len()));
                    for record in &records[..take] {
                        printer.print(partition, record)?;
                    }
                    limits.printed(take as u64);
                    printer.flush()?;
                }
                Ok(None) => break,
                Err(_) => {}
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    printer.flush()
}

/// A group member's session: its id, generation and the commits it owes.
struct Membership {
    group: String,
    member_id: String,
    generation: u64,
    heartbeat_every: Duration,
    last_heartbeat: Instant,
    /// The last heartbeat brought a new generation: the next one acknowledges it.
    acknowledge_now: bool,
    /// Next offsets of what was printed and not yet committed.
    uncommitted: BTreeMap<(String, u32), u64>,
}

impl Membership {
    async fn join(client: &Client, args: &ConsumeArgs, group: &str) -> Result<Membership> {
        let request = join_request(args);
        let joined = client
            .join_group(group, &request)
            .await
            .with_context(|| format!("consume {} --group {group}", args.topic))?;
        Ok(Membership {
            group: group.to_owned(),
            member_id: joined.member_id,
            generation: joined.generation,
            heartbeat_every: Duration::from_millis(joined.heartbeat_interval_ms.max(1)),
            last_heartbeat: Instant::now(),
            acknowledge_now: false,
            uncommitted: BTreeMap::new(),
        })
    }

    async fn commit(&mut self, client: &Client) -> Result<(), ClientError> {
        if self.uncommitted.is_empty() {
            return Ok(());
        }
        let request = commit_request(&self.member_id, self.generation, &self.uncommitted);
        client.commit(&self.group, &request).await?;
        self.uncommitted.clear();
        Ok(())
    }

    async fn heartbeat(&mut self, client: &Client) -> Result<(), ClientError> {
        let request = HeartbeatRequest {
            member_id: self.member_id.clone(),
            generation: self.generation,
        };
        let answer = client.heartbeat(&self.group, &request).await?;
        // A new generation is acknowledged by the next heartbeat; send it at once (after
        // committing) so partitions being handed over are not held a whole interval.
        self.acknowledge_now = answer.generation != self.generation;
        self.generation = answer.generation;
        self.heartbeat_every = Duration::from_millis(answer.heartbeat_interval_ms.max(1));
        self.last_heartbeat = Instant::now();
        Ok(())
    }
}

async fn consume_group(
    client: &Client,
    args: &ConsumeArgs,
    group: &str,
    mut printer: Printer,
    poll_ms: u64,
) -> Result<()> {
    let context = || format!("consume {} --group {group}", args.topic);
    // A group may name a topic that does not exist yet; a person typing one most likely erred.
    client
        .describe_topic(&args.topic)
        .await
        .with_context(context)?;
    let mut member = Membership::join(client, args, group).await?;
    let mut limits = Limits::new(args, poll_ms);
    let mut last_commit = Instant::now();
    let result: Result<()> = async {
        while !limits.done() {
            let request = GroupFetchRequest {
                member_id: member.member_id.clone(),
                generation: member.generation,
                max_records: Some(limits.remaining().map_or(1000, |r| r.min(1000) as u32)),
                max_bytes: None,
                max_wait_ms: Some(
                    limits
                        .wait_ms()
                        .min(member.heartbeat_every.as_millis() as u64),
                ),
            };
            let page = tokio::select! {
                page = client.group_fetch_frames(group, &request) => page,
                _ = tokio::signal::ctrl_c() => break,
            };
            let page = match page {
                Ok(page) => page,
                Err(error) if error.code() == Some(ErrorCode::StaleGeneration) => {
                    member.heartbeat(client).await.with_context(context)?;
                    continue;
                }
                Err(error) => return Err(error).with_context(context),
            };
            let frames = decode_frames(&page.frames).context("a malformed frames answer")?;
            let mut printed = 0u64;
            'frames: for frame in frames {
                for record in decode_records(frame.batches, frame.from, frame.high_watermark) {
                    if limits.remaining().is_some_and(|r| printed >= r) {
                        break 'frames;
                    }
                    printer.print(frame.partition, &record)?;
                    member
                        .uncommitted
                        .insert((frame.topic.to_owned(), frame.partition), record.offset + 1);
                    printed += 1;
                }
            }
            printer.flush()?;
            limits.printed(printed);
            let commit_now = match args.commit {
                CommitMode::After => true,
                CommitMode::Auto => last_commit.elapsed() >= Duration::from_secs(1),
                CommitMode::None => false,
            };
            let heartbeat_now = page.rebalance
                || member.acknowledge_now
                || member.last_heartbeat.elapsed() >= member.heartbeat_every;
            // Commit before a heartbeat: the heartbeat may acknowledge giving partitions away.
            if args.commit != CommitMode::None && (commit_now || heartbeat_now) {
                member.commit(client).await.with_context(context)?;
                last_commit = Instant::now();
            }
            if heartbeat_now {
                member.heartbeat(client).await.with_context(context)?;
            }
        }
        Ok(())
    }
    .await;
    if args.commit != CommitMode::None {
        let committed = member.commit(client).await.with_context(context);
        if result.is_ok() {
            committed?;
        }
    }
    let _ = client.leave_group(group, &member.member_id).await;
    printer.flush()?;
    result
}

/// Where a consumer that starts at the latest offsets waits, said once on a terminal: Kafka's
/// console consumer prints nothing on a full topic, and a new user takes it for a hang. `None`
/// when the partitions hold nothing to miss.
fn waiting_hint(described: &TopicDescription, partitions: &[u32]) -> Option<String> {
    let waiting: u64 = described
        .partitions
        .iter()
        .filter(|p| partitions.contains(&p.partition))
        .map(|p| p.high_watermark.saturating_sub(p.log_start))
        .sum();
    (waiting > 0).then(|| {
        format!(
            "waiting for new records on `{}` (starting after the {waiting} record(s) already there; \
             add --from-beginning to read them)",
            described.name
        )
    })
}
