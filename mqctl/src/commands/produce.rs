//! `mqctl produce TOPIC [FILE…]`: one record per line, streamed through [`mqctl::producer`].
//! On a terminal a progress bar shows records, bytes and rate (against the files' total size when
//! reading files); at the end one summary line. Lines whose records were not acknowledged are
//! listed and the exit code is 1.

use crate::args::{OutputFormat, ProduceArgs};
use crate::output::{bytes, json_line};
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mq_wire::api::Acks;
use mqctl::producer::{ProduceSummary, Producer, ProducerConfig};
use mqctl::Client;
use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, BufReader};

pub async fn run(client: &Client, args: ProduceArgs, format: OutputFormat) -> Result<()> {
    let config = ProducerConfig {
        batch_size: args.batch_size as usize,
        linger: Duration::from_millis(args.linger_ms),
        max_in_flight: args.max_in_flight as usize,
        retries: args.retries,
        acks: match args.acks.as_str() {
            "0" => Acks::None,
            "1" => Acks::Leader,
            _ => Acks::All,
        },
        headers: args.headers.clone(),
        partition: args.partition,
    };
    let topic = args.topic.clone();
    let mut producer = Producer::new(client.clone(), &topic, config)
        .await
        .with_context(|| format!("produce {topic}"))?;
    let total_bytes = if args.files.is_empty() {
        None
    } else {
        let mut total = 0;
        for file in &args.files {
            total += std::fs::metadata(file)
                .with_context(|| format!("produce {topic}: cannot read {}", file.display()))?
                .len();
        }
        Some(total)
    };
    let bar = progress_bar(total_bytes);
    let progress = producer.progress();
    let mut line_number = 0u64;
    let mut stopped_at: Option<(u64, String)> = None;
    let mut read_bytes = 0u64;
    let inputs: Vec<Option<std::path::PathBuf>> = if args.files.is_empty() {
        vec![None]
    } else {
        args.files.iter().cloned().map(Some).collect()
    };
    'inputs: for input in inputs {
        let reader: Box<dyn AsyncBufRead + Unpin> = match &input {
            None => Box::new(BufReader::with_capacity(1 << 16, tokio::io::stdin())),
            Some(path) => Box::new(BufReader::with_capacity(
                1 << 16,
                tokio::fs::File::open(path)
                    .await
                    .with_context(|| format!("produce {topic}: cannot open {}", path.display()))?,
            )),
        };
        let mut lines = reader.lines();
        loop {
            let next = match tokio::time::timeout(producer.linger(), lines.next_line()).await {
                Ok(next) => next.with_context(|| format!("produce {topic}: reading input"))?,
                Err(_) => {
                    producer.flush_lingering().await;
                    continue;
                }
            };
            let Some(line) = next else { break };
            line_number += 1;
            read_bytes += line.len() as u64 + 1;
            let (key, value) = match &args.key_separator {
                Some(separator) => match line.split_once(separator.as_str()) {
                    Some((key, value)) => (Some(key), value),
                    None => {
                        // Stop reading, but deliver and report what was read before it.
                        let why = format!("line {line_number} has no key separator `{separator}`");
                        stopped_at = Some((line_number, why));
                        break 'inputs;
                    }
                },
                None => (None, line.as_str()),
            };
            producer.send(line_number, key, value).await;
            if line_number.is_multiple_of(4096) {
                bar.set_position(read_bytes);
                bar.set_message(message(
                    progress.acknowledged_records.load(Ordering::Relaxed),
                ));
            }
        }
    }
    bar.set_position(read_bytes);
    let summary = producer.finish().await;
    bar.finish_and_clear();
    report(&topic, &summary, format)?;
    match stopped_at {
        Some((line, why)) => {
            bail!("produce {topic}: {why}; lines from {line} on were not produced")
        }
        None => Ok(()),
    }
}

fn progress_bar(total_bytes: Option<u64>) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total_bytes {
        Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(
                    "{bar:30} {bytes}/{total_bytes} {bytes_per_sec} {msg} eta {eta}",
                )
                .expect("valid template"),
            ),
        None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
            ProgressStyle::with_template("{spinner} {bytes} read, {bytes_per_sec} {msg}")
                .expect("valid template"),
        ),
    };
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

fn message(acknowledged: u64) -> String {
    format!("{acknowledged} records acknowledged")
}

fn report(topic: &str, summary: &ProduceSummary, format: OutputFormat) -> Result<()> {
    match format {
        OutputFormat::Json => json_line(&serde_json::json!({
            "topic": topic,
            "records": summary.records,
            "bytes": summary.bytes,
            "seconds": summary.seconds,
            "records_per_sec": summary.records_per_sec(),
            "failed_lines": summary.failed_lines,
        })),
        OutputFormat::Table => println!(
            "produced {} records ({}) to {topic} in {:.2} s: {:.0} records/s",
            summary.records,
            bytes(summary.bytes),
            summary.seconds,
            summary.records_per_sec()
        ),
    }
    if summary.failed_lines.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = summary
        .failed_lines
        .iter()
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}-{b}")
            }
        })
        .collect();
    let noun = if lines.len() == 1 && !lines[0].contains('-') {
        "line"
    } else {
        "lines"
    };
    bail!(
        "produce {topic}: {noun} {} were not acknowledged: {}",
        lines.join(","),
        summary.first_error.as_deref().unwrap_or("unknown error")
    )
}
