//! The five benchmark modes over one topic. Producers build batches with
//! [`mq_wire::batch::BatchBuilder`] and keep `--in-flight` requests going; consumers decode every
//! record to check its sequence number.

use super::tracker::{stamp, Tracker};
use super::{BenchArgs, Mode, Report};
use anyhow::{anyhow, bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mq_wire::api::{
    CommitRequest, GroupFetchRequest, HeartbeatRequest, JoinGroupRequest, OffsetCommit, OffsetReset,
};
use mq_wire::batch::{BatchBuilder, BatchIter, RecordInput};
use mq_wire::binary::decode_frames;
use mqctl::group_consumer::GroupConsumer;
use mqctl::producer::IdSource;
use mqctl::Client;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// Shared by the tasks of one run.
struct Run {
    client: Client,
    topic: String,
    partitions: u32,
    acks: mq_wire::api::Acks,
    messages: u64,
    size: usize,
    epoch: Instant,
    progress: ProgressBar,
    /// Records the consumers wait for: what the topic holds (consume, group), or what the
    /// producers had acknowledged once they are done (e2e; `u64::MAX` while they run).
    target: AtomicU64,
    /// When the consumers last received a record, in ns since `epoch`.
    last_receipt: AtomicU64,
}

/// How long consumers wait for more once the target is known and nothing arrives.
const IDLE_GIVE_UP: Duration = Duration::from_secs(5);

impl Run {
    /// Whether consumers should stop: everything expected is in, or the producers are done and
    /// nothing has come for a while (a lost record: the tracker will say which).
    fn consumers_done(&self, received: u64) -> bool {
        let target = self.target.load(Ordering::Relaxed);
        if received >= target {
            return true;
        }
        let quiet = self
            .now_ns()
            .saturating_sub(self.last_receipt.load(Ordering::Relaxed));
        target != u64::MAX && quiet > IDLE_GIVE_UP.as_nanos() as u64
    }

    /// Sets the consumers' target to what the topic holds now.
    async fn target_stored(&self) -> Result<()> {
        let topic = self.client.describe_topic(&self.topic).await?;
        let stored: u64 = topic
            .partitions
            .iter()
            .map(|p| p.log_end - p.log_start)
            .sum();
        self.last_receipt.store(self.now_ns(), Ordering::Relaxed);
        self.target.store(stored, Ordering::Relaxed);
        Ok(())
    }
}

impl Run {
    /// Nanoseconds since the run began: the send time stamped into records.
    fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

pub async fn run_mode(client: &Client, args: &BenchArgs, topic: &str) -> Result<Report> {
    let partitions = client.describe_topic(topic).await?.config.partitions;
    let run = Arc::new(Run {
        client: client.clone(),
        topic: topic.to_owned(),
        partitions,
        acks: match args.acks.as_str() {
            "0" => mq_wire::api::Acks::None,
            "1" => mq_wire::api::Acks::Leader,
            _ => mq_wire::api::Acks::All,
        },
        messages: args.messages,
        size: args.size as usize,
        epoch: Instant::now(),
        progress: progress_bar(args.messages),
        target: AtomicU64::new(u64::MAX),
        last_receipt: AtomicU64::new(0),
    });
    let payload = args.messages * args.size;
    let report = match args.mode {
        Mode::Produce => {
            let seconds = produce(&run, args, 0).await?;
            Report::throughput(args.messages, payload, seconds)
        }
        Mode::Consume => {
            produce(&run, args, 0).await.context("loading records")?;
            run.target_stored().await?;
            run.progress.reset();
            let started = Instant::now();
            let tracker = consume_partitions(&run, args.consumers, None).await?;
            tracker.check_complete()?;
            Report::throughput(args.messages, payload, started.elapsed().as_secs_f64())
        }
        Mode::Group => {
            produce(&run, args, 0).await.context("loading records")?;
            run.target_stored().await?;
            run.progress.reset();
            let group = args
                .group
                .clone()
                .unwrap_or_else(|| format!("{topic}-group"));
            let started = Instant::now();
            let tracker = consume_group(&run, args.consumers, &group).await?;
            tracker.check_complete()?;
            let _ = client.delete_group(&group).await;
            Report::throughput(args.messages, payload, started.elapsed().as_secs_f64())
        }
        Mode::E2e => {
            let latencies = Arc::new(parking_latencies(args.messages));
            let consumers = {
                let (run, latencies) = (Arc::clone(&run), Arc::clone(&latencies));
                let consumers = args.consumers;
                tokio::spawn(
                    async move { consume_partitions(&run, consumers, Some(latencies)).await },
                )
            };
            let started = Instant::now();
            let produced = produce(&run, args, args.rate).await;
            run.target_stored().await?;
            produced?;
            let tracker = consumers
                .await
                .map_err(|e| anyhow!("consumer task: {e}"))??;
            tracker.check_complete()?;
            let seconds = started.elapsed().as_secs_f64();
            let nanos = std::mem::take(&mut *latencies.lock().expect("latencies"));
            Report::throughput(args.messages, payload, seconds).with_latencies(nanos)
        }
        Mode::Fill => {
            let before = resident_memory(client).await?;
            let seconds = produce(&run, args, 0).await?;
            let after = resident_memory(client).await?;
            let per_record = after.saturating_sub(before) as f64 / args.messages.max(1) as f64;
            let mut report = Report::throughput(args.messages, payload, seconds);
            report.rss_before = Some(before);
            report.rss_after = Some(after);
            report.rss_per_record = Some(per_record);
            report.rss_overhead_per_record = Some(per_record - args.size as f64);
            report
        }
    };
    run.progress.finish_and_clear();
    Ok(report)
}

fn parking_latencies(capacity: u64) -> std::sync::Mutex<Vec<u64>> {
    std::sync::Mutex::new(Vec::with_capacity(capacity as usize))
}

fn progress_bar(total: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{bar:30} {pos}/{len} records {per_sec} eta {eta}")
            .expect("valid template"),
    );
    bar
}

/// `process_resident_memory_bytes` from the server's /metrics.
async fn resident_memory(client: &Client) -> Result<u64> {
    let text = client.metrics_text().await?;
    text.lines()
        .find_map(|line| line.strip_prefix("process_resident_memory_bytes "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|v| v as u64)
        .ok_or_else(|| anyhow!("the server's /metrics has no process_resident_memory_bytes"))
}

/// Sends every record once: producer k sends sequence numbers k, k+K, …; each keeps
/// `--in-flight` requests going. `rate` (records/s over all producers, 0 = unlimited) paces the
/// batches. Returns the seconds from the first send to the last acknowledgement.
async fn produce(run: &Arc<Run>, args: &BenchArgs, rate: u64) -> Result<f64> {
    let started = Instant::now();
    let acked = Arc::new(AtomicU64::new(0));
    let mut producers = JoinSet::new();
    for producer in 0..u64::from(args.producers) {
        let run = Arc::clone(run);
        let acked = Arc::clone(&acked);
        let (count, batch_size, in_flight, lose) = (
            u64::from(args.producers),
            args.batch_size as usize,
            args.in_flight as usize,
            args.lose_record,
        );
        let per_producer_rate = rate as f64 / count as f64;
        producers.spawn(async move {
            let mut ids = IdSource::new();
            let permits = Arc::new(Semaphore::new(in_flight));
            let mut requests = JoinSet::new();
            let mut value = vec![b'x'; run.size];
            let mut seq = producer;
            let mut batch_index = 0u64;
            let begun = Instant::now();
            while seq < run.messages {
                if per_producer_rate > 0.0 {
                    let due = Duration::from_secs_f64(
                        batch_index as f64 * batch_size as f64 / per_producer_rate,
                    );
                    tokio::time::sleep_until((begun + due).into()).await;
                }
                let permit = Arc::clone(&permits)
                    .acquire_owned()
                    .await
                    .expect("semaphore open");
                let mut builder = BatchBuilder::with_capacity(batch_size * (run.size + 32));
                let timestamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                let sent = run.now_ns();
                let mut in_batch = 0u64;
                while in_batch < batch_size as u64 && seq < run.messages {
                    if Some(seq) != lose {
                        value[..8].copy_from_slice(&seq.to_le_bytes());
                        value[8..16].copy_from_slice(&sent.to_le_bytes());
                        builder.push(&RecordInput {
                            id: ids.next_id(),
                            timestamp,
                            key: None,
                            value: Some(&value),
                            headers: &[],
                        });
                        in_batch += 1;
                    }
                    seq += count;
                }
                if in_batch == 0 {
                    break;
                }
                let partition = ((batch_index + producer) % u64::from(run.partitions)) as u32;
                batch_index += 1;
                let body = bytes::Bytes::from(builder.finish());
                let (run, acked) = (Arc::clone(&run), Arc::clone(&acked));
                requests.spawn(async move {
                    let answer = run
                        .client
                        .produce_batches(&run.topic, partition, body, run.acks)
                        .await?;
                    drop(permit);
                    let appended: u64 = answer
                        .batches
                        .iter()
                        .map(|b| u64::from(b.record_count))
                        .sum();
                    if appended != in_batch || answer.batches.iter().any(|b| b.duplicate) {
                        bail!("a batch of {in_batch} records was acknowledged as {appended}");
                    }
                    let total = acked.fetch_add(appended, Ordering::Relaxed) + appended;
                    run.progress.set_position(total);
                    Ok::<_, anyhow::Error>(())
                });
                while let Some(done) = requests.try_join_next() {
                    done.map_err(|e| anyhow!("request task: {e}"))??;
                }
            }
            while let Some(done) = requests.join_next().await {
                done.map_err(|e| anyhow!("request task: {e}"))??;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = producers.join_next().await {
        done.map_err(|e| anyhow!("producer task: {e}"))??;
    }
    let expected = run.messages - u64::from(args.lose_record.is_some_and(|s| s < run.messages));
    let acknowledged = acked.load(Ordering::Relaxed);
    if acknowledged != expected {
        bail!("{acknowledged} records acknowledged of {expected} sent");
    }
    Ok(started.elapsed().as_secs_f64())
}

/// Marks every record of a run of batches from `from` below `high_watermark`; with `latencies`,
/// records the time since each was sent. Returns how many records were marked.
fn mark_batches(
    run: &Run,
    batches: &[u8],
    from: u64,
    high_watermark: u64,
    tracker: &std::sync::Mutex<Tracker>,
    latencies: Option<&std::sync::Mutex<Vec<u64>>>,
) -> Result<u64> {
    let now = run.now_ns();
    let mut seqs = Vec::new();
    let mut delays = Vec::new();
    for batch in BatchIter::new(batches) {
        for record in batch?.records() {
            let record = record?;
            if record.offset < from || record.offset >= high_watermark {
                continue;
            }
            let (seq, sent) = stamp(record.value)
                .ok_or_else(|| anyhow!("record {} is not a benchmark record", record.offset))?;
            seqs.push(seq);
            if latencies.is_some() {
                delays.push(now.saturating_sub(sent));
            }
        }
    }
    let mut tracker = tracker.lock().expect("tracker");
    for &seq in &seqs {
        tracker.mark(seq)?;
    }
    run.progress.set_position(tracker.count());
    if !seqs.is_empty() {
        run.last_receipt.store(run.now_ns(), Ordering::Relaxed);
    }
    if let Some(latencies) = latencies {
        latencies.lock().expect("latencies").extend(delays);
    }
    Ok(seqs.len() as u64)
}

/// Consumers read the partitions (partition p by consumer p % K) from offset 0 until every record
/// is in.
async fn consume_partitions(
    run: &Arc<Run>,
    consumers: u32,
    latencies: Option<Arc<std::sync::Mutex<Vec<u64>>>>,
) -> Result<Tracker> {
    let tracker = Arc::new(std::sync::Mutex::new(Tracker::new(run.messages)));
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for consumer in 0..consumers {
        let mine: Vec<u32> = (0..run.partitions)
            .filter(|p| p % consumers == consumer)
            .collect();
        let (run, tracker, received, latencies) = (
            Arc::clone(run),
            Arc::clone(&tracker),
            Arc::clone(&received),
            latencies.clone(),
        );
        tasks.spawn(async move {
            let mut next: Vec<u64> = vec![0; mine.len()];
            let deadline = Instant::now() + Duration::from_secs(600);
            while !run.consumers_done(received.load(Ordering::Relaxed)) {
                if Instant::now() > deadline {
                    bail!("gave up after 10 minutes");
                }
                for (slot, &partition) in mine.iter().enumerate() {
                    let wait = if mine.len() == 1 { 200 } else { 0 };
                    let page = run
                        .client
                        .fetch_batches(&run.topic, partition, next[slot], 8 << 20, wait)
                        .await?;
                    let marked = mark_batches(
                        &run,
                        &page.bytes,
                        next[slot],
                        page.high_watermark,
                        &tracker,
                        latencies.as_deref(),
                    )?;
                    received.fetch_add(marked, Ordering::Relaxed);
                    next[slot] = page.next_offset;
                }
                if mine.is_empty() {
                    break;
                }
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| anyhow!("consumer task: {e}"))??;
    }
    Arc::try_unwrap(tracker)
        .map_err(|_| anyhow!("consumers still running"))
        .map(|t| t.into_inner().expect("tracker"))
}

/// Members of one group read everything, committing after every fetch. In a cluster each member
/// reads its partitions from their leaders ([`GroupConsumer`]); a node alone serves the group fetch.
async fn consume_group(run: &Arc<Run>, consumers: u32, group: &str) -> Result<Tracker> {
    if run.client.in_cluster().await {
        return consume_group_from_leaders(run, consumers, group).await;
    }
    let tracker = Arc::new(std::sync::Mutex::new(Tracker::new(run.messages)));
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..consumers {
        let (run, tracker, received, group) = (
            Arc::clone(run),
            Arc::clone(&tracker),
            Arc::clone(&received),
            group.to_owned(),
        );
        tasks.spawn(async move {
            let join = JoinGroupRequest {
                topics: vec![run.topic.clone()],
                auto_offset_reset: Some(OffsetReset::Earliest),
                client_id: Some("bench".to_owned()),
                ..Default::default()
            };
            let member = run.client.join_group(&group, &join).await?;
            let (member_id, mut generation) = (member.member_id, member.generation);
            let heartbeat_every = Duration::from_millis(member.heartbeat_interval_ms);
            let mut last_heartbeat = Instant::now();
            // After a heartbeat brings a new generation, the next one (after the commit) acknowledges
            // it at once, so partitions moving to another member are not held an interval.
            let mut acknowledge_now = false;
            let deadline = Instant::now() + Duration::from_secs(600);
            while !run.consumers_done(received.load(Ordering::Relaxed)) {
                if Instant::now() > deadline {
                    bail!("gave up after 10 minutes");
                }
                let request = GroupFetchRequest {
                    member_id: member_id.clone(),
                    generation,
                    max_records: Some(100_000),
                    max_bytes: Some(8 << 20),
                    max_wait_ms: Some(200),
                };
                let page = run.client.group_fetch_frames(&group, &request).await?;
                let mut commits = BTreeMap::new();
                for frame in decode_frames(&page.frames)? {
                    let marked = mark_batches(
                        &run,
                        frame.batches,
                        frame.from,
                        frame.high_watermark,
                        &tracker,
                        None,
                    )?;
                    received.fetch_add(marked, Ordering::Relaxed);
                    commits.insert((frame.topic.to_owned(), frame.partition), frame.next_offset);
                }
                if !commits.is_empty() {
                    let offsets = commits
                        .into_iter()
                        .map(|((topic, partition), offset)| OffsetCommit {
                            topic,
                            partition,
                            offset,
                            metadata: None,
                        })
                        .collect();
                    let commit = CommitRequest {
                        member_id: Some(member_id.clone()),
                        generation: Some(generation),
                        offsets,
                    };
                    run.client.commit(&group, &commit).await?;
                }
                if page.rebalance || acknowledge_now || last_heartbeat.elapsed() >= heartbeat_every
                {
                    let beat = HeartbeatRequest {
                        member_id: member_id.clone(),
                        generation,
                    };
                    let answer = run.client.heartbeat(&group, &beat).await?.generation;
                    acknowledge_now = answer != generation;
                    generation = answer;
                    last_heartbeat = Instant::now();
                }
            }
            let _ = run.client.leave_group(&group, &member_id).await;
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| anyhow!("member task: {e}"))??;
    }
    Arc::try_unwrap(tracker)
        .map_err(|_| anyhow!("members still running"))
        .map(|t| t.into_inner().expect("tracker"))
}

/// `bench group` in a cluster: members fetch from the partition leaders, commit to the coordinator
/// after every fetch.
async fn consume_group_from_leaders(
    run: &Arc<Run>,
    consumers: u32,
    group: &str,
) -> Result<Tracker> {
    let tracker = Arc::new(std::sync::Mutex::new(Tracker::new(run.messages)));
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..consumers {
        let (run, tracker, received, group) = (
            Arc::clone(run),
            Arc::clone(&tracker),
            Arc::clone(&received),
            group.to_owned(),
        );
        tasks.spawn(async move {
            let join = JoinGroupRequest {
                topics: vec![run.topic.clone()],
                auto_offset_reset: Some(OffsetReset::Earliest),
                client_id: Some("bench".to_owned()),
                ..Default::default()
            };
            let mut member =
                GroupConsumer::join(run.client.clone(), &group, join, 200, 8 << 20).await?;
            let deadline = Instant::now() + Duration::from_secs(600);
            while !run.consumers_done(received.load(Ordering::Relaxed)) {
                if Instant::now() > deadline {
                    bail!("gave up after 10 minutes");
                }
                if let Some(polled) = member.poll().await? {
                    let marked = mark_batches(
                        &run,
                        &polled.batches.bytes,
                        polled.from,
                        polled.batches.high_watermark,
                        &tracker,
                        None,
                    )?;
                    received.fetch_add(marked, Ordering::Relaxed);
                    if marked > 0 {
                        member.processed(
                            &polled.topic,
                            polled.partition,
                            polled.batches.next_offset,
                        );
                        member.commit().await?;
                    }
                }
                if member.heartbeat_due() {
                    member.commit().await?;
                    member.heartbeat().await?;
                }
            }
            member.leave().await?;
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.map_err(|e| anyhow!("member task: {e}"))??;
    }
    Arc::try_unwrap(tracker)
        .map_err(|_| anyhow!("members still running"))
        .map(|t| t.into_inner().expect("tracker"))
}
