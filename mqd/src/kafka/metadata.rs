//! Metadata: the brokers (every node with a Kafka listener), the controller, and for each topic
//! asked for its partitions with leader, leader epoch, replicas and ISR, as the cluster's
//! metadata has them on this node. Clients send each partition's produce and fetch to its leader.
//! Topics are never created by a Metadata request (Kafka's `auto.create.topics.enable=false`).

use super::error_codes::kafka_error;
use super::KafkaState;
use crate::broker::Topic;
use crate::cluster::raft::state_machine::Applied;
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use std::sync::Arc;

/// The cluster id clients see (KIP-78): one per mq cluster is enough for clients, which only
/// compare it between brokers.
pub(super) const CLUSTER_ID: &str = "mq";

pub(super) fn metadata(
    state: &KafkaState,
    request: &MetadataRequest,
    _version: i16,
) -> MetadataResponse {
    let broker = &state.app.broker;
    // One view of the cluster for the whole answer.
    let applied = state.app.cluster.as_ref().map(|c| c.metadata());
    let describe = |topic: &Arc<Topic>| describe(applied.as_deref(), topic);
    let topics: Vec<MetadataResponseTopic> = match &request.topics {
        None => broker.topics().iter().map(describe).collect(),
        Some(asked) => asked
            .iter()
            .filter_map(|t| t.name.as_ref())
            .map(|name| match broker.topic(name.as_str()) {
                Ok(topic) => describe(&topic),
                Err(error) => MetadataResponseTopic::default()
                    .with_name(Some(name.clone()))
                    .with_error_code(kafka_error(error.code()).code()),
            })
            .collect(),
    };
    MetadataResponse::default()
        .with_brokers(brokers(state))
        .with_cluster_id(Some(StrBytes::from_static_str(CLUSTER_ID)))
        .with_controller_id(BrokerId(controller(state)))
        .with_topics(topics)
}

/// Every node Kafka clients can reach: in a cluster, each `cluster.nodes` entry with a `kafka`
/// address (this node's own listener when its entry has none); alone, this node.
pub(super) fn brokers(state: &KafkaState) -> Vec<MetadataResponseBroker> {
    let me = state.app.broker.node_id();
    let own = |id: u64| {
        MetadataResponseBroker::default()
            .with_node_id(BrokerId(id as i32))
            .with_host(StrBytes::from_string(state.advertised.0.clone()))
            .with_port(state.advertised.1)
    };
    let Some(cluster) = &state.app.cluster else {
        return vec![own(me)];
    };
    cluster
        .settings()
        .nodes
        .iter()
        .filter_map(|node| match (&node.kafka, node.id == me) {
            (Some(addr), _) => {
                let (host, port) = addr.rsplit_once(':')?;
                Some(
                    MetadataResponseBroker::default()
                        .with_node_id(BrokerId(node.id as i32))
                        .with_host(StrBytes::from_string(host.to_owned()))
                        .with_port(port.parse().ok()?),
                )
            }
            (None, true) => Some(own(me)),
            (None, false) => None,
        })
        .collect()
}

/// The controller's id, or -1 while none is elected.
pub(super) fn controller(state: &KafkaState) -> i32 {
    match &state.app.cluster {
        None => state.app.broker.node_id() as i32,
        Some(cluster) => cluster.controller().map_or(-1, |id| id as i32),
    }
}

fn describe(applied: Option<&Applied>, topic: &Arc<Topic>) -> MetadataResponseTopic {
    let partitions = topic
        .partitions()
        .iter()
        .map(|partition| {
            let set = partition.replica_set();
            let alive = applied.is_none_or(|a| a.metadata.is_alive(set.leader));
            let ids = |nodes: &[u64]| nodes.iter().map(|&n| BrokerId(n as i32)).collect();
            let (leader, error) = if alive {
                (set.leader as i32, 0)
            } else {
                (-1, ResponseError::LeaderNotAvailable.code())
            };
            MetadataResponsePartition::default()
                .with_partition_index(partition.index() as i32)
                .with_error_code(error)
                .with_leader_id(BrokerId(leader))
                .with_leader_epoch(set.leader_epoch as i32)
                .with_replica_nodes(ids(&set.replicas))
                .with_isr_nodes(ids(&set.isr))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(TopicName(StrBytes::from_string(
            topic.name().to_owned(),
        ))))
        .with_partitions(partitions)
}
