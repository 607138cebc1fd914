//! DescribeConfigs and DescribeCluster. A topic's configs are the settings mq has, under Kafka's
//! names (`retention.ms`, `retention.bytes`, `segment.bytes`, `max.message.bytes`,
//! `min.insync.replicas`, `unclean.leader.election.enable`, `cleanup.policy`); a broker's are the
//! node limits Kafka clients size their requests by. A topic's retention, `min.insync.replicas`
//! and `unclean.leader.election.enable` are alterable (`alter_configs.rs`), and shown as set for
//! the topic when they differ from the node's default; the rest come from the node's file.

use super::metadata::{brokers, controller, CLUSTER_ID};
use super::{text, KafkaState};
use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult,
};
use kafka_protocol::messages::{
    BrokerId, DescribeClusterResponse, DescribeConfigsRequest, DescribeConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;
/// Kafka's config sources: set for this topic, or the node's default.
const TOPIC_CONFIG: i8 = 1;
const DEFAULT_CONFIG: i8 = 5;

/// The topic configs AlterConfigs and IncrementalAlterConfigs change.
const ALTERABLE: [&str; 5] = [
    "cleanup.policy",
    "retention.ms",
    "retention.bytes",
    "min.insync.replicas",
    "unclean.leader.election.enable",
];

/// mq's "0: no limit" as Kafka's -1.
fn unlimited(value: u64) -> String {
    if value == 0 {
        "-1".to_owned()
    } else {
        value.to_string()
    }
}

pub(super) fn describe_configs(
    state: &KafkaState,
    request: &DescribeConfigsRequest,
) -> DescribeConfigsResponse {
    let node = state.app.broker.config();
    let results = request
        .resources
        .iter()
        .map(|resource| {
            let name = resource.resource_name.as_str();
            let result = DescribeConfigsResult::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name.clone());
            let entries: Vec<(&str, String, i8)> = match resource.resource_type {
                TOPIC => match state.app.broker.topic(name) {
                    Ok(topic) => {
                        let config = topic.config();
                        let source = |is_default: bool| {
                            if is_default {
                                DEFAULT_CONFIG
                            } else {
                                TOPIC_CONFIG
                            }
                        };
                        let default_min_insync = node
                            .topics
                            .default_min_insync_replicas
                            .min(config.replication_factor);
                        vec![
                            ("cleanup.policy", "delete".to_owned(), DEFAULT_CONFIG),
                            (
                                "retention.ms",
                                unlimited(config.retention_ms),
                                source(config.retention_ms == node.log.retention.as_millis()),
                            ),
                            (
                                "retention.bytes",
                                unlimited(config.retention_bytes),
                                source(config.retention_bytes == node.log.retention_bytes.0),
                            ),
                            (
                                "segment.bytes",
                                config.segment_bytes.to_string(),
                                DEFAULT_CONFIG,
                            ),
                            (
                                "max.message.bytes",
                                node.limits.max_record_bytes.0.to_string(),
                                DEFAULT_CONFIG,
                            ),
                            (
                                "min.insync.replicas",
                                config.min_insync_replicas.to_string(),
                                source(config.min_insync_replicas == default_min_insync),
                            ),
                            (
                                "unclean.leader.election.enable",
                                config.unclean_leader_election.to_string(),
                                source(!config.unclean_leader_election),
                            ),
                        ]
                    }
                    Err(_) => {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(text(&format!(
                                "topic `{name}` does not exist"
                            ))))
                    }
                },
                BROKER => vec![
                    (
                        "message.max.bytes",
                        node.limits.max_record_bytes.0.to_string(),
                        DEFAULT_CONFIG,
                    ),
                    (
                        "socket.request.max.bytes",
                        node.limits.max_request_bytes.0.to_string(),
                        DEFAULT_CONFIG,
                    ),
                    (
                        "num.partitions",
                        node.topics.default_partitions.to_string(),
                        DEFAULT_CONFIG,
                    ),
                    (
                        "default.replication.factor",
                        node.topics.default_replication_factor.to_string(),
                        DEFAULT_CONFIG,
                    ),
                    (
                        "auto.create.topics.enable",
                        "false".to_owned(),
                        DEFAULT_CONFIG,
                    ),
                ],
                other => {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(text(&format!(
                            "resource type {other}: only topics (2) and brokers (4) have configs"
                        ))))
                }
            };
            let wanted = |key: &str| {
                resource
                    .configuration_keys
                    .as_ref()
                    .is_none_or(|keys| keys.iter().any(|k| k.as_str() == key))
            };
            let configs = entries
                .into_iter()
                .filter(|(key, _, _)| wanted(key))
                .map(|(key, value, source)| {
                    let alterable = resource.resource_type == TOPIC && ALTERABLE.contains(&key);
                    DescribeConfigsResourceResult::default()
                        .with_name(text(key))
                        .with_value(Some(text(&value)))
                        .with_read_only(!alterable)
                        .with_config_source(source)
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

pub(super) fn describe_cluster(state: &KafkaState) -> DescribeClusterResponse {
    let brokers = brokers(state)
        .into_iter()
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(b.node_id)
                .with_host(b.host)
                .with_port(b.port)
        })
        .collect();
    DescribeClusterResponse::default()
        .with_cluster_id(StrBytes::from_static_str(CLUSTER_ID))
        .with_controller_id(BrokerId(controller(state)))
        .with_brokers(brokers)
}
