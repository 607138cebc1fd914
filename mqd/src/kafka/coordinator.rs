//! FindCoordinator: the node that coordinates a consumer group: this node alone, in a cluster
//! the node holding the group's coordinator slot in the metadata (the same slot HTTP requests to
//! `/v1/groups/{g}` are routed by). Transaction coordinators do not exist here.

use super::metadata::brokers;
use super::KafkaState;
use kafka_protocol::messages::find_coordinator_response::Coordinator;
use kafka_protocol::messages::{FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;

const GROUP: i8 = 0;

pub(super) fn find_coordinator(
    state: &KafkaState,
    request: &FindCoordinatorRequest,
    version: i16,
) -> FindCoordinatorResponse {
    if version < 4 {
        let found = locate(state, request.key_type, request.key.as_str());
        return FindCoordinatorResponse::default()
            .with_error_code(found.error_code)
            .with_error_message(found.error_message)
            .with_node_id(found.node_id)
            .with_host(found.host)
            .with_port(found.port);
    }
    let coordinators = request
        .coordinator_keys
        .iter()
        .map(|key| locate(state, request.key_type, key.as_str()))
        .collect();
    FindCoordinatorResponse::default().with_coordinators(coordinators)
}

fn locate(state: &KafkaState, key_type: i8, key: &str) -> Coordinator {
    let unavailable = |message: &str| {
        Coordinator::default()
            .with_key(StrBytes::from_string(key.to_owned()))
            .with_node_id(kafka_protocol::messages::BrokerId(-1))
            .with_port(-1)
            .with_error_code(ResponseError::CoordinatorNotAvailable.code())
            .with_error_message(Some(StrBytes::from_string(message.to_owned())))
    };
    if key_type != GROUP {
        return unavailable(
            "only consumer groups have coordinators here; transactions are not supported",
        );
    }
    let node = match &state.app.cluster {
        None => state.app.broker.node_id(),
        Some(cluster) => match cluster.metadata().metadata.slot(key) {
            Some((_, slot)) => slot.node,
            None => return unavailable("the cluster has not placed its coordinators yet"),
        },
    };
    match brokers(state)
        .into_iter()
        .find(|b| b.node_id.0 == node as i32)
    {
        Some(broker) => Coordinator::default()
            .with_key(StrBytes::from_string(key.to_owned()))
            .with_node_id(broker.node_id)
            .with_host(broker.host)
            .with_port(broker.port),
        None => unavailable(&format!(
            "node {node} coordinates this group and has no Kafka listener"
        )),
    }
}
