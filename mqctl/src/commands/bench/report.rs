//! A benchmark's result: a table for people, one JSON object for scripts.

use crate::args::OutputFormat;
use crate::output::{json_line, table};
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub records: u64,
    /// Payload bytes (values).
    pub bytes: u64,
    pub seconds: f64,
    pub records_per_sec: f64,
    /// MB = 10^6 bytes of payload.
    pub mb_per_sec: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p90_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p999_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_ms: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_before: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_after: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_per_record: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rss_overhead_per_record: Option<f64>,
}

impl Report {
    pub fn throughput(records: u64, bytes: u64, seconds: f64) -> Self {
        let seconds = seconds.max(1e-9);
        Report {
            records,
            bytes,
            seconds,
            records_per_sec: records as f64 / seconds,
            mb_per_sec: bytes as f64 / 1e6 / seconds,
            ..Report::default()
        }
    }

    /// Adds latency percentiles from per-record latencies in nanoseconds.
    pub fn with_latencies(mut self, mut nanos: Vec<u64>) -> Self {
        if nanos.is_empty() {
            return self;
        }
        nanos.sort_unstable();
        let at = |q: f64| {
            let index = ((nanos.len() as f64 * q).ceil() as usize).clamp(1, nanos.len()) - 1;
            nanos[index] as f64 / 1e6
        };
        self.p50_ms = Some(at(0.50));
        self.p90_ms = Some(at(0.90));
        self.p99_ms = Some(at(0.99));
        self.p999_ms = Some(at(0.999));
        self.max_ms = Some(*nanos.last().expect("not empty") as f64 / 1e6);
        self
    }

    pub fn print(&self, mode: &str, format: OutputFormat) {
        match format {
            OutputFormat::Json => {
                let mut value = serde_json::to_value(self).expect("a report serializes");
                value["mode"] = mode.into();
                json_line(&value);
            }
            OutputFormat::Table => {
                let mut rows = vec![
                    vec!["mode".to_owned(), mode.to_owned()],
                    vec!["records".to_owned(), self.records.to_string()],
                    vec![
                        "payload".to_owned(),
                        format!("{:.1} MB", self.bytes as f64 / 1e6),
                    ],
                    vec!["seconds".to_owned(), format!("{:.3}", self.seconds)],
                    vec![
                        "records/s".to_owned(),
                        format!("{:.0}", self.records_per_sec),
                    ],
                    vec!["MB/s".to_owned(), format!("{:.1}", self.mb_per_sec)],
                ];
                let latencies = [
                    ("p50 ms", self.p50_ms),
                    ("p90 ms", self.p90_ms),
                    ("p99 ms", self.p99_ms),
                    ("p99.9 ms", self.p999_ms),
                    ("max ms", self.max_ms),
                ];
                for (name, value) in latencies {
                    if let Some(value) = value {
                        rows.push(vec![name.to_owned(), format!("{value:.3}")]);
                    }
                }
                if let (Some(per), Some(over)) = (self.rss_per_record, self.rss_overhead_per_record)
                {
                    rows.push(vec![
                        "RSS per record".to_owned(),
                        format!("{per:.1} B ({over:+.1} B over the payload)"),
                    ]);
                }
                table(&["FIGURE", "VALUE"], rows);
            }
        }
    }
}
