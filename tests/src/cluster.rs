//! A cluster of real `mqd` processes on `127.0.0.1`: every node gets a free port chosen in
//! advance (the `[cluster]` section names every node's address, so [`crate::Mqd`], which always
//! listens on port 0, cannot start one), its own config file, data_dir and stderr log in a fresh
//! temp directory. Nodes can be killed (SIGKILL, data_dir kept) and restarted with the same
//! config. Dropping the [`Cluster`] kills every node and removes the directory; when a test is
//! failing, the tail of every node's stderr is printed first.
//!
//! Node ids are 1..=n, and a node is named by its id everywhere ([`Cluster::node`],
//! [`Cluster::kill`], …). Synchronisation is by polling with a deadline, never by fixed sleeps.
//!
//! [`Cluster::start_proxied`] puts a [`Proxies`] between the nodes: each node's address in the
//! `[cluster]` list is its proxy's, each node talks to the others from its own loopback source
//! address, and the test cuts, blackholes or slows the links between chosen nodes. Test clients
//! talk to the nodes' real addresses ([`Node::base`]), so faults only touch the traffic between
//! nodes.
//!
//! The tests measure failover and refusal times, so the clusters of one test binary never run at
//! the same time even when the tests do: a cluster holds a process-wide lock while it lives.

use crate::proxy::{source_ip, Proxies};
use crate::{binary, Answer};
use mq_wire::api::{ClusterStatus, NodeRole};
use serde_json::Value;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a node may take to answer HTTP after it was started.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long the nodes may take to elect a controller and agree on it.
const AGREE_DEADLINE: Duration = Duration::from_secs(20);
/// Lines of each node's stderr printed when a test fails.
const TAIL_LINES: usize = 40;

/// The `[cluster]` timings every node gets unless the test says otherwise: the shipped defaults,
/// spelt out so that the tests' expectations (failover within 5 s, down after 3 s) are visible.
pub const DEFAULT_TIMINGS: &str =
    "heartbeat_interval = \"250ms\"\nelection_timeout = \"1s\"\nnode_session_timeout = \"3s\"\n";

/// One node of a [`Cluster`]: its process when running, its address, files and HTTP client.
pub struct Node {
    pub id: usize,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT` of its Kafka listener, in a cluster started with one.
    pub kafka: Option<String>,
    dir: PathBuf,
    child: Option<Child>,
    starts: u32,
    http: reqwest::blocking::Client,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join("mqd.toml")
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Where the node's stderr goes, every start appended with a marker line.
    pub fn stderr_path(&self) -> PathBuf {
        self.dir.join("stderr.log")
    }

    /// Whether the process was started and not killed (it may still have exited by itself).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the node has logged, over all its starts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// The last `lines` lines of [`Node::log`].
    pub fn log_tail(&self, lines: usize) -> String {
        let log = self.log();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }

    pub fn try_get(&self, path: &str) -> reqwest::Result<Answer> {
        answer(self.http.get(self.url(path)).send())
    }

    pub fn try_post(&self, path: &str, body: &Value) -> reqwest::Result<Answer> {
        answer(self.http.post(self.url(path)).json(body).send())
    }

    pub fn get(&self, path: &str) -> Answer {
        self.expect(path, self.try_get(path))
    }

    pub fn post(&self, path: &str, body: &Value) -> Answer {
        self.expect(path, self.try_post(path, body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Answer {
        let sent = answer(self.http.patch(self.url(path)).json(body).send());
        self.expect(path, sent)
    }

    pub fn delete(&self, path: &str) -> Answer {
        let sent = answer(self.http.delete(self.url(path)).send());
        self.expect(path, sent)
    }

    fn expect(&self, path: &str, sent: reqwest::Result<Answer>) -> Answer {
        sent.unwrap_or_else(|e| {
            panic!(
                "HTTP request {path} to node {} failed: {e}\nits log ends:\n{}",
                self.id,
                self.log_tail(TAIL_LINES)
            )
        })
    }

    /// `GET /v1/cluster` as this node answers it, `None` when it does not answer.
    pub fn status(&self) -> Option<ClusterStatus> {
        let answer = self.try_get("/v1/cluster").ok()?;
        if answer.status != 200 {
            return None;
        }
        serde_json::from_value(answer.body).ok()
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

    /// Starts the process (the config file is already written) and returns without waiting.
    fn spawn(&mut self) {
        assert!(self.child.is_none(), "node {} is already running", self.id);
        self.starts += 1;
        let mut stderr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .expect("open the node's stderr log");
        writeln!(
            stderr,
            "--- mq-e2e: start #{} of node {} ---",
            self.starts, self.id
        )
        .expect("write the node's stderr log");
        let child = Command::new(binary("mqd"))
            .arg("--config")
            .arg(self.config_path())
            // openraft's INFO lines (every vote, every replication step) would fill the tails.
            .env(
                "RUST_LOG",
                std::env::var("MQ_NODE_LOG").unwrap_or_else(|_| "info,openraft=warn".to_owned()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start mqd");
        self.child = Some(child);
    }

    /// Waits until the node answers `GET /v1/cluster`; `Err` with its log when the process exits
    /// first or the deadline passes.
    fn wait_until_serving(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if self.status().is_some() {
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!(
                    "node {} exited ({status}) before serving; its log ends:\n{}",
                    self.id,
                    self.log_tail(TAIL_LINES)
                ));
            }
            if started.elapsed() > START_DEADLINE {
                return Err(format!(
                    "node {} did not answer GET /v1/cluster within {START_DEADLINE:?}; its log ends:\n{}",
                    self.id,
                    self.log_tail(TAIL_LINES)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` (`STOP`, `CONT`, …) to the running process.
    fn signal(&self, signal: &str) {
        let pid = self.pid().expect("the node is running");
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(pid.to_string())
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{signal} {pid} failed");
    }

    /// SIGKILL, and waits for the process to be gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A running cluster of `mqd` nodes; see the module documentation.
pub struct Cluster {
    root: PathBuf,
    nodes: Vec<Node>,
    /// Between the nodes, when started with [`Cluster::start_proxied`]; dropped after the nodes.
    proxies: Option<Proxies>,
    /// Released after [`Drop`] has killed every node: one cluster at a time.
    _serial: MutexGuard<'static, ()>,
}

/// Held by the cluster alive in this process.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

impl Cluster {
    /// `n` nodes with the default timings, each serving HTTP, a controller elected and every node
    /// alive as every node sees it.
    pub fn start(n: usize) -> Cluster {
        Cluster::start_with(n, DEFAULT_TIMINGS)
    }

    /// `n` nodes whose `[cluster]` section ends with `settings` (e.g. timings), waited for as in
    /// [`Cluster::start`]. A free port can be taken by another process between the moment it is
    /// chosen and the moment a node binds it: then the whole cluster is started again on new ports.
    pub fn start_with(n: usize, settings: &str) -> Cluster {
        Cluster::start_inner(n, settings, false, false)
    }

    /// Like [`Cluster::start_with`], every node also listening for Kafka clients (`[kafka]`, and
    /// its address in `cluster.nodes`): [`Cluster::kafka_bootstrap`].
    pub fn start_with_kafka(n: usize, settings: &str) -> Cluster {
        Cluster::start_inner(n, settings, false, true)
    }

    /// Every node's Kafka address, comma-separated (Kafka's `bootstrap.servers`).
    pub fn kafka_bootstrap(&self) -> String {
        let addresses: Vec<&str> = self
            .nodes
            .iter()
            .filter_map(|n| n.kafka.as_deref())
            .collect();
        addresses.join(",")
    }

    /// Like [`Cluster::start_with`], with a TCP proxy in front of every node for the traffic
    /// between nodes ([`Cluster::proxies`]).
    pub fn start_proxied(n: usize, settings: &str) -> Cluster {
        Cluster::start_inner(n, settings, true, false)
    }

    fn start_inner(n: usize, settings: &str, proxied: bool, kafka: bool) -> Cluster {
        assert!(n >= 1, "a cluster has at least one node");
        let mut failures = Vec::new();
        for _attempt in 0..3 {
            let serial = ONE_AT_A_TIME
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut cluster = Cluster::spawn(n, settings, serial, proxied, kafka);
            let mut failed = None;
            for node in &mut cluster.nodes {
                if let Err(why) = node.wait_until_serving() {
                    failed = Some(why);
                    break;
                }
            }
            match failed {
                None => {
                    cluster.wait_for_controller();
                    return cluster;
                }
                Some(why) if why.contains("cannot listen") => failures.push(why),
                Some(why) => panic!("{why}"),
            }
        }
        panic!(
            "the cluster could not bind its ports:\n{}",
            failures.join("\n")
        );
    }

    /// Writes every node's config file and starts every process.
    fn spawn(
        n: usize,
        settings: &str,
        serial: MutexGuard<'static, ()>,
        proxied: bool,
        kafka: bool,
    ) -> Cluster {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "mq-e2e-cluster-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        let ports = free_ports(n);
        let kafka_ports: Vec<Option<u16>> = match kafka {
            true => free_ports(n).into_iter().map(Some).collect(),
            false => vec![None; n],
        };
        let proxies = proxied.then(|| {
            let real: Vec<std::net::SocketAddr> = ports
                .iter()
                .map(|port| std::net::SocketAddr::from(([127, 0, 0, 1], *port)))
                .collect();
            Proxies::start(&real)
        });
        let members: Vec<String> = ports
            .iter()
            .enumerate()
            .map(|(i, port)| {
                let addr = match &proxies {
                    Some(proxies) => proxies.addr(i + 1).to_string(),
                    None => format!("127.0.0.1:{port}"),
                };
                let kafka = kafka_ports[i]
                    .map(|port| format!(", kafka = \"127.0.0.1:{port}\""))
                    .unwrap_or_default();
                format!("  {{ id = {}, addr = \"{addr}\"{kafka} }},", i + 1)
            })
            .collect();
        let cluster_section = format!(
            "[cluster]\nnodes = [\n{}\n]\n{settings}",
            members.join("\n")
        );
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let mut nodes = Vec::with_capacity(n);
        for (i, port) in ports.iter().enumerate() {
            let id = i + 1;
            let dir = root.join(format!("node{id}"));
            std::fs::create_dir_all(&dir).expect("create the node's temp dir");
            let node = Node {
                id,
                base: format!("http://127.0.0.1:{port}"),
                kafka: kafka_ports[i].map(|port| format!("127.0.0.1:{port}")),
                dir,
                child: None,
                starts: 0,
                http: http.clone(),
            };
            let source = match &proxies {
                Some(_) => format!("source_address = \"{}\"\n", source_ip(id)),
                None => String::new(),
            };
            let kafka_section = kafka_ports[i]
                .map(|port| format!("[kafka]\nlisten = \"127.0.0.1:{port}\"\n\n"))
                .unwrap_or_default();
            let toml = format!(
                "[node]\nid = {id}\nlisten = \"127.0.0.1:{port}\"\ndata_dir = {}\n\n{kafka_section}{cluster_section}{source}",
                toml_string(&node.data_dir())
            );
            std::fs::write(node.config_path(), toml).expect("write the node's config");
            nodes.push(node);
        }
        let mut cluster = Cluster {
            root,
            nodes,
            proxies,
            _serial: serial,
        };
        for node in &mut cluster.nodes {
            node.spawn();
        }
        cluster
    }

    /// The node with this id (1..=n).
    pub fn node(&self, id: usize) -> &Node {
        assert!(
            (1..=self.nodes.len()).contains(&id),
            "no node {id} in a cluster of {}",
            self.nodes.len()
        );
        &self.nodes[id - 1]
    }

    /// Every node's id.
    pub fn ids(&self) -> Vec<usize> {
        (1..=self.nodes.len()).collect()
    }

    /// The ids of the nodes not killed.
    pub fn running(&self) -> Vec<usize> {
        self.nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| n.id)
            .collect()
    }

    /// `GET /v1/cluster` on every running node, `None` when one does not answer.
    pub fn statuses(&self) -> Option<Vec<ClusterStatus>> {
        self.running()
            .into_iter()
            .map(|id| self.node(id).status())
            .collect()
    }

    /// The controller every running node names, when they all name the same running node.
    pub fn agreed_controller(&self) -> Option<usize> {
        agreed_controller(&self.statuses()?, &self.running())
    }

    /// Waits until every running node names the same running controller and sees every running
    /// node `alive`; returns the controller's id.
    pub fn wait_for_controller(&self) -> usize {
        let running = self.running();
        self.eventually(
            AGREE_DEADLINE,
            "one controller and every running node alive",
            || {
                let statuses = self.statuses()?;
                let controller = agreed_controller(&statuses, &running)?;
                let all_alive = statuses.iter().all(|status| {
                    running.iter().all(|&id| {
                        status
                            .nodes
                            .iter()
                            .any(|n| n.id == id as u64 && n.state == "alive")
                    })
                });
                all_alive.then_some(controller)
            },
        )
    }

    /// The controller the running nodes agree on, waiting for them to agree.
    pub fn controller(&self) -> usize {
        self.eventually(
            AGREE_DEADLINE,
            "the running nodes to agree on a controller",
            || self.agreed_controller(),
        )
    }

    /// Waits until every running node sees node `id` in `state` (`alive`, `down`).
    pub fn wait_for_state(&self, id: usize, state: &str, deadline: Duration) {
        self.eventually(
            deadline,
            &format!("every running node to see node {id} {state}"),
            || {
                let statuses = self.statuses()?;
                statuses
                    .iter()
                    .all(|s| {
                        s.nodes
                            .iter()
                            .any(|n| n.id == id as u64 && n.state == state)
                    })
                    .then_some(())
            },
        )
    }

    /// SIGKILLs node `id` and waits for the process to be gone; its data_dir stays.
    pub fn kill(&mut self, id: usize) {
        assert!(self.node(id).is_running(), "node {id} is not running");
        self.nodes[id - 1].kill();
    }

    /// Starts node `id` again with the same config and data_dir, and waits until it serves HTTP
    /// (not until it rejoined: see [`Cluster::wait_for_controller`], [`Cluster::wait_for_state`]).
    pub fn restart(&mut self, id: usize) {
        assert!(!self.node(id).is_running(), "node {id} is still running");
        let node = &mut self.nodes[id - 1];
        // Its port was free when the cluster started; meanwhile a client's connection may hold
        // it as its local port for a moment. Tried again while that is why it cannot listen.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            node.spawn();
            match node.wait_until_serving() {
                Ok(()) => return,
                Err(why) if why.contains("cannot listen") && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(why) => panic!("restart of node {id}: {why}"),
            }
        }
    }

    /// The proxies between the nodes ([`Cluster::start_proxied`] only).
    pub fn proxies(&self) -> &Proxies {
        self.proxies
            .as_ref()
            .expect("a cluster started with start_proxied")
    }

    /// SIGSTOPs node `id`: it stays in memory, holds its connections and answers nothing.
    pub fn pause(&self, id: usize) {
        self.node(id).signal("STOP");
    }

    /// SIGCONTs a node paused with [`Cluster::pause`].
    pub fn resume(&self, id: usize) {
        self.node(id).signal("CONT");
    }

    /// The tail of every node's stderr, for failure messages.
    pub fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|node| {
                format!(
                    "===== node {} ({}, {}) stderr, last {TAIL_LINES} lines =====\n{}\n",
                    node.id,
                    node.base,
                    if node.is_running() {
                        "running"
                    } else {
                        "killed"
                    },
                    node.log_tail(TAIL_LINES)
                )
            })
            .collect()
    }

    /// [`crate::eventually`] (every 20 ms until `deadline`); on a timeout the panic drops the
    /// cluster, which prints every node's log tail.
    pub fn eventually<T>(
        &self,
        deadline: Duration,
        what: &str,
        mut probe: impl FnMut() -> Option<T>,
    ) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = probe() {
                return value;
            }
            assert!(
                started.elapsed() < deadline,
                "timed out after {deadline:?} waiting for {what}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The directory holding every node's config, data_dir and stderr log.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The controller all `statuses` name, when it is one of `running`.
fn agreed_controller(statuses: &[ClusterStatus], running: &[usize]) -> Option<usize> {
    let first = statuses.first()?.controller?;
    let agreed = statuses.iter().all(|s| {
        s.controller == Some(first)
            && s.nodes
                .iter()
                .filter(|n| n.role == NodeRole::Controller)
                .map(|n| n.id)
                .eq([first])
    });
    let first = usize::try_from(first).ok()?;
    (agreed && running.contains(&first)).then_some(first)
}

/// `n` distinct ports that were free a moment ago (all listeners held at once, then dropped).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// A TOML literal string (no escapes inside), for a path.
fn toml_string(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 temp path");
    assert!(!text.contains('\''), "a temp path with a quote: {text}");
    format!("'{text}'")
}

fn answer(sent: reqwest::Result<reqwest::blocking::Response>) -> reqwest::Result<Answer> {
    let response = sent?;
    let status = response.status().as_u16();
    let bytes = response.bytes()?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Ok(Answer { status, body })
}

/// Runs `command` with its stdout and stderr captured (read while it runs, so a large output never
/// blocks it) and kills it when it runs longer than `deadline`: `Err` then, with what it printed to
/// stderr.
pub fn output_within(
    mut command: Command,
    deadline: Duration,
) -> Result<std::process::Output, String> {
    use std::io::Read;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for the child") {
            break Some(status);
        }
        if started.elapsed() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = stdout.join().expect("stdout reader");
    let stderr = stderr.join().expect("stderr reader");
    match status {
        Some(status) => Ok(std::process::Output {
            status,
            stdout,
            stderr,
        }),
        None => Err(format!(
            "{command:?} still ran after {deadline:?} and was killed; it had printed {} bytes to \
             stdout; its stderr:\n{}",
            stdout.len(),
            String::from_utf8_lossy(&stderr)
        )),
    }
}

impl Node {
    /// `mqctl --server <this node> ARGS` with `stdin`, its output captured; panics (with its
    /// stderr and this node's log tail) when it runs longer than `deadline`. Whether it succeeded
    /// is the caller's to check.
    pub fn mqctl(&self, args: &[&str], stdin: Stdio, deadline: Duration) -> std::process::Output {
        let mut command = Command::new(binary("mqctl"));
        command
            .args(["--server", &self.base])
            .args(args)
            .stdin(stdin);
        output_within(command, deadline).unwrap_or_else(|why| {
            panic!(
                "mqctl {args:?} through node {}: {why}\nthe node's log ends:\n{}",
                self.id,
                self.log_tail(TAIL_LINES)
            )
        })
    }
}

/// Requests the cluster tests make again and again, with the assertion that they succeed.
impl Node {
    /// `GET /v1/topics/{topic}` through this node.
    pub fn describe_topic(&self, topic: &str) -> mq_wire::api::TopicDescription {
        let answer = self.get(&format!("/v1/topics/{topic}"));
        assert_eq!(
            answer.status, 200,
            "describe {topic} through node {}: {:?}",
            self.id, answer.body
        );
        serde_json::from_value(answer.body).expect("a topic description")
    }

    /// Every record of one partition from `from` to its high watermark, read through this node.
    pub fn fetch_all(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
    ) -> Vec<mq_wire::api::FetchedRecord> {
        let via = format!(" through node {}", self.id);
        crate::fetch_pages(|path| self.get(path), &via, topic, partition, from)
    }

    /// Produces `values` to one partition through this node; returns their offsets.
    pub fn produce_values(&self, topic: &str, partition: u32, values: &[String]) -> Vec<u64> {
        let records: Vec<Value> = values
            .iter()
            .map(|v| serde_json::json!({ "value": v }))
            .collect();
        // A leader that just restarted answers 503 partition_unavailable until it has rejoined:
        // retried, as a client would.
        let path = format!("/v1/topics/{topic}/partitions/{partition}/records");
        let body = serde_json::json!({ "records": records });
        let started = Instant::now();
        let answer = loop {
            let answer = self.post(&path, &body);
            let rejoining = answer.status == 503
                && answer.error_code() == "partition_unavailable"
                && started.elapsed() < Duration::from_secs(10);
            if !rejoining {
                break answer;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(
            answer.status, 200,
            "produce to {topic}/{partition} through node {}: {:?}",
            self.id, answer.body
        );
        let response: mq_wire::api::ProduceResponse =
            serde_json::from_value(answer.body).expect("produce answer");
        assert!(response.offsets.iter().all(|o| o.partition == partition));
        response.offsets.iter().map(|o| o.offset).collect()
    }
}

/// The JSON lines a successful `mqctl -o json` run printed (`what` names it in failures).
pub fn json_lines(what: &str, output: &std::process::Output) -> Vec<Value> {
    assert!(
        output.status.success(),
        "{what}: mqctl failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: not a JSON line ({e}): {l}"))
        })
        .collect()
}
