//! CreateTopics and DeleteTopics, through the same code as `POST /v1/topics` and
//! `DELETE /v1/topics/{topic}`; CreatePartitions, refused per topic with `INVALID_PARTITIONS`
//! (a topic keeps the partition count it was created with: records with one key stay in one
//! partition). Topic configs take Kafka's names for the settings mq has; any
//! other is refused with `INVALID_CONFIG`, naming it. In a cluster, CreateTopics is answered by
//! the controller (others answer `NOT_CONTROLLER`, and clients ask the controller Metadata
//! names), as Kafka's admin clients expect.

use super::alter_configs::TopicSetting;
use super::error_codes::kafka_error;
use super::KafkaState;
use crate::http::topics::{create_in_cluster, delete_topic};
use crate::http::ApiError;
use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreatePartitionsResponse, CreateTopicsRequest, CreateTopicsResponse,
    DeleteTopicsRequest, DeleteTopicsResponse, TopicName,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use mq_wire::api::CreateTopicRequest;

pub(super) async fn create_topics(
    state: &KafkaState,
    request: CreateTopicsRequest,
) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    for topic in request.topics {
        let name = topic.name.clone();
        let result = match create_one(state, topic, request.validate_only).await {
            Ok((partitions, replication_factor)) => CreatableTopicResult::default()
                .with_num_partitions(partitions as i32)
                .with_replication_factor(replication_factor as i16),
            Err((error, message)) => CreatableTopicResult::default()
                .with_error_code(error.code())
                .with_error_message(Some(StrBytes::from_string(message)))
                .with_num_partitions(-1)
                .with_replication_factor(-1),
        };
        results.push(result.with_name(name));
    }
    CreateTopicsResponse::default().with_topics(results)
}

/// Creates (or with `validate_only` checks) one topic; its partitions and replication factor.
async fn create_one(
    state: &KafkaState,
    topic: CreatableTopic,
    validate_only: bool,
) -> Result<(u32, u32), (ResponseError, String)> {
    if !topic.assignments.is_empty() {
        return Err((
            ResponseError::InvalidReplicaAssignment,
            "replicas are placed by the controller; manual assignments are not supported".into(),
        ));
    }
    let mut request = CreateTopicRequest {
        name: topic.name.as_str().to_owned(),
        partitions: u32::try_from(topic.num_partitions).ok(),
        replication_factor: u32::try_from(topic.replication_factor).ok(),
        ..CreateTopicRequest::default()
    };
    for config in &topic.configs {
        if let Some(value) = config.value.as_deref() {
            TopicSetting::parse(config.name.as_str(), value)?.apply_to_create(&mut request);
        }
    }
    let app = &state.app;
    let refused = |error: ApiError| (kafka_error(error.code), error.message);
    let config = app
        .broker
        .topic_config_for(&request)
        .map_err(|e| refused(e.into()))?;
    if validate_only {
        return Ok((config.partitions, config.replication_factor));
    }
    match &app.cluster {
        None => {
            app.broker
                .create_topic(&request)
                .map_err(|e| refused(e.into()))?;
        }
        Some(cluster) if !cluster.is_controller() => {
            return Err((
                ResponseError::NotController,
                "topics are created by the controller".into(),
            ))
        }
        Some(cluster) => create_in_cluster(app, cluster, request)
            .await
            .map_err(refused)?,
    }
    Ok((config.partitions, config.replication_factor))
}

pub(super) async fn delete_topics(
    state: &KafkaState,
    request: DeleteTopicsRequest,
    _version: i16,
) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = request
        .topic_names
        .into_iter()
        .chain(request.topics.into_iter().filter_map(|t| t.name))
        .collect();
    let mut results = Vec::with_capacity(names.len());
    for name in names {
        let outcome = delete_topic(&state.app, name.as_str()).await;
        let mut result = DeletableTopicResult::default().with_name(Some(name));
        if let Err(error) = outcome {
            result = result
                .with_error_code(kafka_error(error.code).code())
                .with_error_message(Some(StrBytes::from_string(error.message)));
        }
        results.push(result);
    }
    DeleteTopicsResponse::default().with_responses(results)
}

/// CreatePartitions: the count cannot change here, so each topic is answered with why.
pub(super) fn create_partitions(
    state: &KafkaState,
    request: &CreatePartitionsRequest,
) -> CreatePartitionsResponse {
    let results = request
        .topics
        .iter()
        .map(|asked| {
            let result = CreatePartitionsTopicResult::default().with_name(asked.name.clone());
            match state.app.broker.topic(asked.name.as_str()) {
                Err(error) => result
                    .with_error_code(kafka_error(error.code()).code())
                    .with_error_message(Some(StrBytes::from_string(error.to_string()))),
                Ok(topic) => result
                    .with_error_code(ResponseError::InvalidPartitions.code())
                    .with_error_message(Some(StrBytes::from_string(format!(
                        "topic `{}` has {} partitions, and mq keeps the count a topic was created with",
                        asked.name.as_str(),
                        topic.partition_count()
                    )))),
            }
        })
        .collect();
    CreatePartitionsResponse::default().with_results(results)
}
