//! The end-to-end harness: starts real `mqd` processes on `127.0.0.1` with port 0, learns the
//! address from the "listening" log line, talks to them over HTTP, and always stops them (on
//! [`Mqd::terminate`] or on drop). Every test in `tests/tests/` uses it.
//!
//! Synchronisation is by polling with a deadline ([`eventually`]), never by fixed sleeps.

pub mod checker;
pub mod cluster;
pub mod faults;
pub mod group;
pub mod proxy;

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a node may take to start listening.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Path of a binary built from this workspace (`mqd`, `mqctl`), next to the test executables.
/// `MQ_BIN_DIR` overrides the directory.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MQ_BIN_DIR") {
        return PathBuf::from(dir).join(name);
    }
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} not found: run the tests with `cargo test --workspace`, which builds it",
        path.display()
    );
    path
}

/// A running `mqd`.
pub struct Mqd {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: Arc<Mutex<String>>,
    /// The thread copying the node's stderr into `log`; it ends when the node does.
    log_reader: Option<std::thread::JoinHandle<()>>,
    config_path: Option<PathBuf>,
    http: reqwest::blocking::Client,
}

/// A JSON answer: status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// The error code of an error answer.
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Mqd {
    /// A node with the embedded default configuration.
    pub fn start() -> Mqd {
        Mqd::start_with_config("")
    }

    /// A node with this TOML as its config file (the listen address is always overridden to
    /// `127.0.0.1:0`).
    pub fn start_with_config(toml: &str) -> Mqd {
        Mqd::start_with(toml, &[], &[])
    }

    /// A node with this TOML as its config file, extra flags and extra environment variables.
    pub fn start_with(toml: &str, flags: &[&str], env: &[(&str, &str)]) -> Mqd {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "mq-e2e-{}-{}.toml",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, toml).expect("write the test config");
        let mut args = vec![
            "--config",
            path.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
        ];
        args.extend_from_slice(flags);
        let mut mqd = Mqd::spawn(&args, env);
        mqd.config_path = Some(path);
        mqd
    }

    fn spawn(args: &[&str], env: &[(&str, &str)]) -> Mqd {
        let mut child = Command::new(binary("mqd"))
            .args(args)
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mqd");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (address_tx, address_rx) = mpsc::channel();
        let log_reader = {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Some(at) = line.find("listening on http://") {
                        let address: String = line[at + "listening on ".len()..]
                            .chars()
                            .take_while(|c| {
                                c.is_ascii_alphanumeric()
                                    || matches!(c, ':' | '/' | '.' | '[' | ']')
                            })
                            .collect();
                        let _ = address_tx.send(address);
                    }
                    let mut log = log.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
            })
        };
        let base = match address_rx.recv_timeout(START_DEADLINE) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "mqd did not start listening; its log:\n{}",
                    log.lock().unwrap()
                );
            }
        };
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .expect("http client");
        Mqd {
            child,
            base,
            log,
            log_reader: Some(log_reader),
            config_path: None,
            http,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the node has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `host:port` of the node's Kafka listener (a config with `[kafka]`), from its log line.
    pub fn kafka_address(&self) -> String {
        const LINE: &str = "kafka listening on ";
        eventually(START_DEADLINE, "the Kafka listener to start", || {
            let log = self.log();
            let at = log.find(LINE)? + LINE.len();
            let address: String = log[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '.'))
                .collect();
            Some(address)
        })
    }

    pub fn get(&self, path: &str) -> Answer {
        answer(self.http.get(self.url(path)).send())
    }

    pub fn delete(&self, path: &str) -> Answer {
        answer(self.http.delete(self.url(path)).send())
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        answer(self.http.post(self.url(path)).json(body).send())
    }

    pub fn patch(&self, path: &str, body: &Value) -> Answer {
        answer(self.http.patch(self.url(path)).json(body).send())
    }

    /// POSTs raw bytes with a content type.
    pub fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        answer(
            self.http
                .post(self.url(path))
                .header("content-type", content_type)
                .body(body)
                .send(),
        )
    }

    /// Creates a topic and checks that it was created.
    pub fn create_topic(&self, name: &str, partitions: u32) -> Value {
        let created = self.post(
            "/v1/topics",
            &serde_json::json!({"name": name, "partitions": partitions}),
        );
        assert_eq!(created.status, 201, "create {name}: {:?}", created.body);
        created.body
    }

    /// The value of an unlabelled metric in `/metrics` (`None` when absent).
    pub fn metric(&self, name: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .ok()?
            .text()
            .ok()?;
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .find_map(|line| {
                line.strip_prefix(name)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
    }

    /// Resident memory of the process, from /proc.
    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        let kib: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }

    /// The config file the node was started with.
    pub fn config_path(&self) -> &std::path::Path {
        self.config_path
            .as_deref()
            .expect("started with a config file")
    }

    /// Sends a signal (`TERM`, `HUP`, …) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Sends SIGTERM and waits (up to `deadline`) for the process to exit.
    pub fn terminate(&mut self, deadline: Duration) -> Option<ExitStatus> {
        self.signal("TERM");
        let started = Instant::now();
        while started.elapsed() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                // Its last lines are in the pipe until the reader has taken them: wait for
                // the reader, which ends at the end of the stream, so `log` holds them all.
                if let Some(reader) = self.log_reader.take() {
                    let _ = reader.join();
                }
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Mqd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(path) = &self.config_path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn answer(sent: reqwest::Result<reqwest::blocking::Response>) -> Answer {
    let response = sent.expect("HTTP request to mqd");
    let status = response.status().as_u16();
    let bytes = response.bytes().expect("response body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Answer { status, body }
}

/// Milliseconds since the Unix epoch, for record timestamps. Tests stamp records near now: a
/// record stamped long ago is older than the default retention (7 days), and the retention
/// sweep `mqd` runs at start would drop it whenever the sweep happens after the produce.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit in i64")
}

/// Calls `probe` every 20 ms until it returns `Some`, or panics naming `what` after `deadline`.
pub fn eventually<T>(deadline: Duration, what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Fetches every record of a partition from `from` up to the log end, in pages.
pub fn fetch_all(
    mqd: &Mqd,
    topic: &str,
    partition: u32,
    from: u64,
) -> Vec<mq_wire::api::FetchedRecord> {
    fetch_pages(|path| mqd.get(path), "", topic, partition, from)
}

/// [`fetch_all`] through any `get` (a node alone, a node of a cluster); `via` ends the failure
/// message (" through node 2").
pub fn fetch_pages(
    get: impl Fn(&str) -> Answer,
    via: &str,
    topic: &str,
    partition: u32,
    from: u64,
) -> Vec<mq_wire::api::FetchedRecord> {
    let mut records = Vec::new();
    let mut next = from;
    loop {
        let page = get(&format!(
            "/v1/topics/{topic}/partitions/{partition}/records?offset={next}&max_records=10000"
        ));
        assert_eq!(
            page.status, 200,
            "fetch {topic}/{partition}@{next}{via}: {:?}",
            page.body
        );
        let page: mq_wire::api::FetchResponse =
            serde_json::from_value(page.body).expect("fetch response");
        if page.records.is_empty() {
            assert_eq!(next, page.high_watermark, "an empty page before the end");
            return records;
        }
        next = page.next_offset;
        records.extend(page.records);
    }
}
