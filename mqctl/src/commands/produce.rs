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

/// Reads the files (or stdin) on a thread of its own, in chunks of whole lines (the last line of
/// the input may lack its newline), so the producer never waits on a read for each line.
fn read_in_chunks(
    files: Vec<std::path::PathBuf>,
) -> tokio::sync::mpsc::Receiver<std::io::Result<Vec<u8>>> {
    const CHUNK: usize = 1 << 20;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    std::thread::spawn(move || {
        let mut readers: Vec<Box<dyn std::io::Read>> = Vec::new();
        if files.is_empty() {
            readers.push(Box::new(std::io::stdin()));
        }
        for file in &files {
            match std::fs::File::open(file) {
                Ok(f) => readers.push(Box::new(f)),
                Err(e) => {
                    let e = std::io::Error::new(
                        e.kind(),
                        format!("cannot open {}: {e}", file.display()),
                    );
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
        let mut carry: Vec<u8> = Vec::new();
        for mut reader in readers {
            loop {
                let start = carry.len();
                carry.resize(start + CHUNK, 0);
                let n = match reader.read(&mut carry[start..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                        carry.truncate(start);
                        continue;
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                };
                carry.truncate(start + n);
                if n == 0 {
                    break;
                }
                // Send whole lines; keep the partial last line for the next read.
                if let Some(last_newline) = memchr::memrchr(b'\n', &carry) {
                    let rest = carry.split_off(last_newline + 1);
                    let mut full = std::mem::replace(&mut carry, rest);
                    full.truncate(last_newline);
                    if tx.blocking_send(Ok(full)).is_err() {
                        return;
                    }
                }
            }
            // A file that does not end with a newline still ends its last line.
            if !carry.is_empty() && tx.blocking_send(Ok(std::mem::take(&mut carry))).is_err() {
                return;
            }
        }
    });
    rx
}

pub async fn run(client: &Client, args: ProduceArgs, format: OutputFormat) -> Result<()> {
    let config = ProducerConfig {
        batch_size: args.batch_size as usize,
        max_batch_bytes: ProducerConfig::default().max_batch_bytes,
        linger: Duration::from_millis(args.linger_ms),
        max_in_flight: args.max_in_flight as usize,
        in_flight_per_partition: args.in_flight_per_partition as usize,
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
    let separator = args.key_separator.clone().map(String::into_bytes);
    let mut chunks = read_in_chunks(args.files.clone());
    let mut line_number = 0u64;
    let mut read_bytes = 0u64;
    let mut stopped_at: Option<(u64, String)> = None;
    'chunks: loop {
        let chunk = match tokio::time::timeout(producer.linger(), chunks.recv()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(error))) => {
                // Deliver and report what was read before the failure, then fail.
                let why = format!("reading input failed after line {line_number}: {error}");
                stopped_at = Some((line_number + 1, why));
                break;
            }
            Ok(None) => break,
            Err(_) => {
                producer.flush_lingering().await;
                continue;
            }
        };
        read_bytes += chunk.len() as u64;
        for line in chunk.split(|&b| b == b'\n') {
            line_number += 1;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let (key, value) = match &separator {
                Some(separator) => match memchr::memmem::find(line, separator) {
                    Some(at) => (Some(&line[..at]), &line[at + separator.len()..]),
                    None => {
                        // Stop reading, but deliver and report what was read before it.
                        let shown = String::from_utf8_lossy(separator).into_owned();
                        let why = format!("line {line_number} has no key separator `{shown}`");
                        stopped_at = Some((line_number, why));
                        break 'chunks;
                    }
                },
                None => (None, line),
            };
            producer.send(line_number, key, value).await;
            if producer.halted().is_some() {
                let why =
                    "the node is out of memory (limits.memory), so produce stopped".to_owned();
                stopped_at = Some((line_number + 1, why));
                break 'chunks;
            }
        }
        bar.set_position(read_bytes);
        bar.set_message(message(
            progress.acknowledged_records.load(Ordering::Relaxed),
        ));
    }
    bar.set_position(read_bytes);
    let summary = producer.finish().await;
    bar.finish_and_clear();
    let unacknowledged = report(&topic, &summary, stopped_at.as_ref().map(|s| s.0), format);
    let unread =
        stopped_at.map(|(line, why)| format!("{why}; lines from {line} on were not produced"));
    match (unacknowledged, unread) {
        (None, None) => Ok(()),
        (Some(failed), None) => bail!("produce {topic}: {failed}"),
        (None, Some(unread)) => bail!("produce {topic}: {unread}"),
        (Some(failed), Some(unread)) => bail!("produce {topic}: {failed}; {unread}"),
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

/// Prints the summary; returns what went wrong with lines that were read, if anything did.
fn report(
    topic: &str,
    summary: &ProduceSummary,
    unread_from: Option<u64>,
    format: OutputFormat,
) -> Option<String> {
    match format {
        OutputFormat::Json => json_line(&serde_json::json!({
            "topic": topic,
            "records": summary.records,
            "bytes": summary.bytes,
            "seconds": summary.seconds,
            "records_per_sec": summary.records_per_sec(),
            "failed_lines": summary.failed_lines,
            // The first input line not read (and so not produced), when the run stopped early.
            "unread_from": unread_from,
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
        return None;
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
    let verb = if noun == "line" { "was" } else { "were" };
    Some(format!(
        "{noun} {} {verb} not acknowledged: {}",
        lines.join(","),
        summary.first_error.as_deref().unwrap_or("unknown error")
    ))
}
