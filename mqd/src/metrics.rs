//! `/metrics` in Prometheus (OpenMetrics) text, through the `prometheus-client` crate.
//!
//! Counters are updated where things happen (requests by the HTTP layer, records and bytes by the
//! produce and fetch handlers); gauges that describe state (partition offsets and sizes, group
//! lag, memory, process RSS) are refreshed from the broker at each scrape, so they are never stale.

use crate::broker::Broker;
use crate::group::Groups;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub endpoint: String,
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    pub endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TopicLabels {
    pub topic: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LagLabels {
    pub group: String,
    pub topic: String,
    pub partition: u32,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FollowerLabels {
    pub topic: String,
    pub partition: u32,
    pub follower: u64,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoleLabels {
    pub role: String,
}

/// Every metric of the node.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<EndpointLabels, Histogram>,
    records_in: Family<TopicLabels, Counter>,
    bytes_in: Family<TopicLabels, Counter>,
    records_out: Family<TopicLabels, Counter>,
    bytes_out: Family<TopicLabels, Counter>,
    log_start: Family<PartitionLabels, Gauge>,
    log_end: Family<PartitionLabels, Gauge>,
    partition_bytes: Family<PartitionLabels, Gauge>,
    group_lag: Family<LagLabels, Gauge>,
    memory_used: Gauge,
    memory_limit: Gauge,
    fetches_waiting: Gauge,
    resident_memory: Gauge,
    role: Family<RoleLabels, Gauge>,
    under_replicated: Gauge,
    connections: Gauge,
    restarted_empty: Counter,
    high_watermark: Family<PartitionLabels, Gauge>,
    replication_lag: Family<FollowerLabels, Gauge>,
    isr_shrinks: Counter,
    isr_expands: Counter,
    replica_fetches: Counter,
    replica_fetch_bytes: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "mq_http_requests",
            "HTTP requests by endpoint, method and status",
            requests.clone(),
        );
        let request_seconds = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0001, 2.0, 18))
        });
        registry.register(
            "mq_http_request_duration_seconds",
            "HTTP request latency by endpoint",
            request_seconds.clone(),
        );
        let records_in = Family::<TopicLabels, Counter>::default();
        registry.register(
            "mq_records_in",
            "Records appended, by topic (duplicates not counted)",
            records_in.clone(),
        );
        let bytes_in = Family::<TopicLabels, Counter>::default();
        registry.register(
            "mq_bytes_in",
            "Key and value bytes appended, by topic",
            bytes_in.clone(),
        );
        let records_out = Family::<TopicLabels, Counter>::default();
        registry.register(
            "mq_records_out",
            "Records returned by fetches, by topic",
            records_out.clone(),
        );
        let bytes_out = Family::<TopicLabels, Counter>::default();
        registry.register(
            "mq_bytes_out",
            "Key and value bytes returned by fetches, by topic",
            bytes_out.clone(),
        );
        let log_start = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "mq_partition_log_start_offset",
            "First retained offset",
            log_start.clone(),
        );
        let log_end = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "mq_partition_log_end_offset",
            "Offset the next record will get",
            log_end.clone(),
        );
        let partition_bytes = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "mq_partition_size_bytes",
            "Bytes held by the partition's segments",
            partition_bytes.clone(),
        );
        let group_lag = Family::<LagLabels, Gauge>::default();
        registry.register(
            "mq_group_lag",
            "Log end minus committed offset, per group and partition",
            group_lag.clone(),
        );
        let memory_used = Gauge::default();
        registry.register(
            "mq_memory_used_bytes",
            "Bytes of stored records counted against limits.memory",
            memory_used.clone(),
        );
        let fetches_waiting = Gauge::default();
        registry.register(
            "mq_fetches_waiting",
            "Fetches parked in a long poll, waiting for records",
            fetches_waiting.clone(),
        );
        let memory_limit = Gauge::default();
        registry.register(
            "mq_memory_limit_bytes",
            "limits.memory in bytes (the figure \"auto\" chose, when it is auto)",
            memory_limit.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register(
            "process_resident_memory_bytes",
            "Resident memory of the mqd process",
            resident_memory.clone(),
        );
        let role = Family::<RoleLabels, Gauge>::default();
        registry.register(
            "mq_cluster_role",
            "1 for the node's role in the cluster",
            role.clone(),
        );
        let under_replicated = Gauge::default();
        registry.register(
            "mq_under_replicated_partitions",
            "Partitions whose ISR is smaller than their replicas",
            under_replicated.clone(),
        );
        let connections = Gauge::default();
        registry.register(
            "mq_open_connections",
            "Open client connections",
            connections.clone(),
        );
        let restarted_empty = Counter::default();
        registry.register(
            "mq_partitions_restarted_empty",
            "Partitions this node leads that came back empty after a restart (their records were in memory)",
            restarted_empty.clone(),
        );
        let high_watermark = Family::<PartitionLabels, Gauge>::default();
        registry.register(
            "mq_partition_high_watermark",
            "High watermark of each partition this node leads",
            high_watermark.clone(),
        );
        let replication_lag = Family::<FollowerLabels, Gauge>::default();
        registry.register(
            "mq_replication_lag_records",
            "Records each follower lacks of a partition this node leads (leader log end minus the follower's)",
            replication_lag.clone(),
        );
        let isr_shrinks = Counter::default();
        registry.register(
            "mq_isr_shrinks",
            "ISR shrinks this node proposed and the controller applied, as leader",
            isr_shrinks.clone(),
        );
        let isr_expands = Counter::default();
        registry.register(
            "mq_isr_expands",
            "ISR expansions this node proposed and the controller applied, as leader",
            isr_expands.clone(),
        );
        let replica_fetches = Counter::default();
        registry.register(
            "mq_replica_fetches",
            "Fetches this node answered to its followers, as leader",
            replica_fetches.clone(),
        );
        let replica_fetch_bytes = Counter::default();
        registry.register(
            "mq_replica_fetch_bytes",
            "Bytes of fetch answers this node sent to its followers, as leader",
            replica_fetch_bytes.clone(),
        );
        Metrics {
            replica_fetches,
            replica_fetch_bytes,
            restarted_empty,
            high_watermark,
            replication_lag,
            isr_shrinks,
            isr_expands,
            registry,
            requests,
            request_seconds,
            records_in,
            bytes_in,
            records_out,
            bytes_out,
            log_start,
            log_end,
            partition_bytes,
            group_lag,
            memory_used,
            memory_limit,
            fetches_waiting,
            resident_memory,
            role,
            under_replicated,
            connections,
        }
    }

    pub fn request(&self, endpoint: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels {
            endpoint: endpoint.to_owned(),
            method: method.to_owned(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds
            .get_or_create(&EndpointLabels {
                endpoint: labels.endpoint,
            })
            .observe(seconds);
    }

    pub fn produced(&self, topic: &str, records: u64, bytes: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.records_in.get_or_create(&labels).inc_by(records);
        self.bytes_in.get_or_create(&labels).inc_by(bytes);
    }

    pub fn fetched(&self, topic: &str, records: u64, bytes: u64) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        self.records_out.get_or_create(&labels).inc_by(records);
        self.bytes_out.get_or_create(&labels).inc_by(bytes);
    }

    /// Drops a deleted topic's series, so a node whose topics come and go does not keep a
    /// counter for every name it ever saw.
    pub fn forget_topic(&self, topic: &str) {
        let labels = TopicLabels {
            topic: topic.to_owned(),
        };
        for family in [
            &self.records_in,
            &self.bytes_in,
            &self.records_out,
            &self.bytes_out,
        ] {
            family.remove(&labels);
        }
    }

    /// A partition this node leads started empty after a restart: its records are gone.
    pub fn partition_restarted_empty(&self) {
        self.restarted_empty.inc();
    }

    /// A follower's fetch answered with `bytes` of answer.
    pub fn replica_fetch_answered(&self, bytes: usize) {
        self.replica_fetches.inc();
        self.replica_fetch_bytes.inc_by(bytes as u64);
    }

    /// An ISR change this node proposed was applied: `shrunk` when a follower left it.
    pub fn isr_changed(&self, shrunk: bool, expanded: bool) {
        if shrunk {
            self.isr_shrinks.inc();
        }
        if expanded {
            self.isr_expands.inc();
        }
    }

    pub fn connections(&self) -> &Gauge {
        &self.connections
    }

    /// Refreshes the state gauges and renders everything.
    pub fn render(&self, broker: &Broker, groups: &Groups, role: &str) -> String {
        self.log_start.clear();
        self.log_end.clear();
        self.partition_bytes.clear();
        self.high_watermark.clear();
        self.replication_lag.clear();
        let mut under_replicated = 0;
        for topic in broker.topics() {
            for partition in topic.partitions() {
                if !partition.is_hosted() {
                    continue;
                }
                let info = partition.info();
                if info.isr.len() < info.replicas.len() {
                    under_replicated += 1;
                }
                for (follower, lag) in partition.follower_lags() {
                    self.replication_lag
                        .get_or_create(&FollowerLabels {
                            topic: topic.name().to_owned(),
                            partition: info.partition,
                            follower,
                        })
                        .set(lag as i64);
                }
                let labels = PartitionLabels {
                    topic: topic.name().to_owned(),
                    partition: info.partition,
                };
                self.log_start
                    .get_or_create(&labels)
                    .set(info.log_start as i64);
                self.log_end.get_or_create(&labels).set(info.log_end as i64);
                self.partition_bytes
                    .get_or_create(&labels)
                    .set(info.bytes as i64);
                self.high_watermark
                    .get_or_create(&labels)
                    .set(info.high_watermark as i64);
            }
        }
        self.group_lag.clear();
        for summary in groups.list(broker).groups {
            // In a cluster each group's lag is exported by its coordinator alone.
            if !groups.coordinated_here(&summary.group) {
                continue;
            }
            let Ok(description) = groups.describe(broker, &summary.group) else {
                continue;
            };
            for lag in description.offsets {
                let labels = LagLabels {
                    group: summary.group.clone(),
                    topic: lag.topic,
                    partition: lag.partition,
                };
                self.group_lag.get_or_create(&labels).set(lag.lag as i64);
            }
        }
        let budget = broker.memory_budget();
        self.memory_used.set(budget.used() as i64);
        self.memory_limit.set(budget.limit() as i64);
        self.fetches_waiting.set(broker.waiting_fetches() as i64);
        self.resident_memory
            .set(resident_memory_bytes().unwrap_or(0) as i64);
        self.role.clear();
        self.role
            .get_or_create(&RoleLabels {
                role: role.to_owned(),
            })
            .set(1);
        self.under_replicated.set(under_replicated);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// Resident set size of this process, from /proc/self/statm (Linux).
pub fn resident_memory_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // Every Linux platform mq targets uses 4 KiB pages.
    Some(pages * 4096)
}
