//! AlterConfigs and IncrementalAlterConfigs (what `kafka-configs --alter` and admin clients send)
//! for topics, over the same alter the HTTP API's `PATCH /v1/topics/{topic}/config` makes; and the
//! one reading of a topic config by Kafka's name, which CreateTopics shares.
//!
//! Alterable: `retention.ms`, `retention.bytes` (-1: unlimited), `min.insync.replicas`,
//! `unclean.leader.election.enable`, and `cleanup.policy` as `delete` (the only policy there is).
//! A broker's configs come from its file and are not altered here.

use super::error_codes::kafka_error;
use super::{text, KafkaState};
use crate::broker::topic_config::altered;
use crate::http::topics::alter_topic_config;
use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResourceResponse;
use kafka_protocol::messages::{
    AlterConfigsRequest, AlterConfigsResponse, IncrementalAlterConfigsRequest,
    IncrementalAlterConfigsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use mq_wire::api::{AlterTopicConfigRequest, CreateTopicRequest};
use mq_wire::ErrorCode;

const TOPIC: i8 = 2;
const BROKER: i8 = 4;

/// IncrementalAlterConfigs' operations.
const SET: i8 = 0;
const DELETE: i8 = 1;

/// A refusal: the Kafka error and why.
type Refusal = (ResponseError, String);

/// One topic setting, read from Kafka's name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TopicSetting {
    RetentionMs(u64),
    RetentionBytes(u64),
    MinInsyncReplicas(u32),
    UncleanLeaderElection(bool),
    /// `cleanup.policy=delete`: what every topic does already.
    CleanupPolicyDelete,
}

impl TopicSetting {
    pub(super) fn parse(name: &str, value: &str) -> Result<Self, Refusal> {
        let invalid = |why: &str| {
            (
                ResponseError::InvalidConfig,
                format!("{name}={value}: {why}"),
            )
        };
        let number = || {
            value
                .trim()
                .parse::<i64>()
                .map_err(|_| invalid("not a number"))
        };
        // Kafka's -1 is unlimited, mq's 0; Kafka's 0 keeps nothing past the active segment,
        // the closest mq has is 1 (ms or byte). Below -1 Kafka refuses, and so does this.
        let limit = || match number()? {
            -1 => Ok(0),
            0 => Ok(1),
            n if n > 0 => Ok(n as u64),
            _ => Err(invalid("-1 (unlimited) or more")),
        };
        Ok(match name {
            "retention.ms" => Self::RetentionMs(limit()?),
            "retention.bytes" => Self::RetentionBytes(limit()?),
            "min.insync.replicas" => Self::MinInsyncReplicas(
                u32::try_from(number()?).map_err(|_| invalid("out of range"))?,
            ),
            "unclean.leader.election.enable" => Self::UncleanLeaderElection(
                value
                    .parse::<bool>()
                    .map_err(|_| invalid("not true or false"))?,
            ),
            "cleanup.policy" if value == "delete" => Self::CleanupPolicyDelete,
            "cleanup.policy" => return Err(invalid("only `delete` is supported")),
            "segment.bytes" | "max.message.bytes" => {
                return Err(invalid("set by the node's config file, not per topic"))
            }
            _ => return Err(invalid("not a topic config mq has")),
        })
    }

    pub(super) fn apply_to_create(self, request: &mut CreateTopicRequest) {
        match self {
            Self::RetentionMs(ms) => request.retention_ms = Some(ms),
            Self::RetentionBytes(bytes) => request.retention_bytes = Some(bytes),
            Self::MinInsyncReplicas(n) => request.min_insync_replicas = Some(n),
            Self::UncleanLeaderElection(on) => request.unclean_leader_election = Some(on),
            Self::CleanupPolicyDelete => {}
        }
    }

    fn apply_to_alter(self, changes: &mut AlterTopicConfigRequest) {
        match self {
            Self::RetentionMs(ms) => changes.retention_ms = Some(ms),
            Self::RetentionBytes(bytes) => changes.retention_bytes = Some(bytes),
            Self::MinInsyncReplicas(n) => changes.min_insync_replicas = Some(n),
            Self::UncleanLeaderElection(on) => changes.unclean_leader_election = Some(on),
            Self::CleanupPolicyDelete => {}
        }
    }
}

/// What a topic config is when nothing sets it (IncrementalAlterConfigs' DELETE, and every
/// config AlterConfigs leaves out): the node's defaults, as a new topic would get them.
fn defaults(state: &KafkaState, replication_factor: u32) -> AlterTopicConfigRequest {
    let node = state.app.broker.config();
    AlterTopicConfigRequest {
        retention_ms: Some(node.log.retention.as_millis()),
        retention_bytes: Some(node.log.retention_bytes.0),
        min_insync_replicas: Some(
            node.topics
                .default_min_insync_replicas
                .min(replication_factor),
        ),
        unclean_leader_election: Some(false),
        discard: None,
    }
}

/// The default of one config, by Kafka's name (`None` for `cleanup.policy`, which has one value).
fn default_of(
    name: &str,
    defaults: &AlterTopicConfigRequest,
) -> Result<Option<TopicSetting>, Refusal> {
    Ok(match name {
        "retention.ms" => defaults.retention_ms.map(TopicSetting::RetentionMs),
        "retention.bytes" => defaults.retention_bytes.map(TopicSetting::RetentionBytes),
        "min.insync.replicas" => defaults
            .min_insync_replicas
            .map(TopicSetting::MinInsyncReplicas),
        "unclean.leader.election.enable" => defaults
            .unclean_leader_election
            .map(TopicSetting::UncleanLeaderElection),
        "cleanup.policy" => None,
        _ => TopicSetting::parse(name, "").map(Some)?,
    })
}

/// The refusal of a resource that is not a topic.
fn not_a_topic(resource_type: i8) -> Refusal {
    match resource_type {
        BROKER => (
            ResponseError::InvalidRequest,
            "a broker's configs come from mqd's config file and cannot be altered at run time"
                .to_owned(),
        ),
        other => (
            ResponseError::InvalidRequest,
            format!("resource type {other}: only topics (2) have configs to alter"),
        ),
    }
}

/// One resource of either API: a topic's changes, made by `changes` from the defaults of the
/// topic's replication factor, applied through the same alter as the HTTP API's (or with
/// `validate_only` checked against the topic's settings); any other resource refused.
async fn alter_resource(
    state: &KafkaState,
    (resource_type, name): (i8, &str),
    validate_only: bool,
    changes: impl FnOnce(&AlterTopicConfigRequest) -> Result<AlterTopicConfigRequest, Refusal>,
) -> Result<(), Refusal> {
    if resource_type != TOPIC {
        return Err(not_a_topic(resource_type));
    }
    let current = state.app.broker.topic(name).map(|t| t.config());
    let replication_factor = current.as_ref().map_or(1, |c| c.replication_factor);
    let changes = changes(&defaults(state, replication_factor))?;
    let current = current.map_err(|e| {
        let error: crate::http::ApiError = e.into();
        (kafka_error(error.code), error.message)
    })?;
    if changes.is_empty() {
        return Ok(());
    }
    if validate_only {
        return altered(&current, &changes)
            .map(|_| ())
            .map_err(|e| (ResponseError::InvalidConfig, e.to_string()));
    }
    alter_topic_config(&state.app, name, &changes)
        .await
        .map_err(|error| {
            let kafka = match error.code {
                ErrorCode::InvalidRequest => ResponseError::InvalidConfig,
                code => kafka_error(code),
            };
            (kafka, error.message)
        })
}

/// AlterConfigs (the older API): the configs named are set and every other goes back to its
/// default, as Kafka replaces a topic's whole config.
pub(super) async fn alter_configs(
    state: &KafkaState,
    request: AlterConfigsRequest,
) -> AlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.as_str().to_owned();
        let outcome = alter_resource(
            state,
            (resource.resource_type, &name),
            request.validate_only,
            |defaults| {
                let mut changes = defaults.clone();
                for config in &resource.configs {
                    let setting = match config.value.as_deref() {
                        Some(value) => Some(TopicSetting::parse(config.name.as_str(), value)?),
                        None => default_of(config.name.as_str(), defaults)?,
                    };
                    if let Some(setting) = setting {
                        setting.apply_to_alter(&mut changes);
                    }
                }
                Ok(changes)
            },
        )
        .await;
        responses.push(answer(
            AlterConfigsResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name),
            outcome,
            |r, code, message| r.with_error_code(code).with_error_message(message),
        ));
    }
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET a config or DELETE it (back to its default); the others are
/// kept. APPEND and SUBTRACT are for list configs, of which mq has none to change.
pub(super) async fn incremental_alter_configs(
    state: &KafkaState,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let mut responses = Vec::with_capacity(request.resources.len());
    for resource in request.resources {
        let name = resource.resource_name.as_str().to_owned();
        let outcome = alter_resource(
            state,
            (resource.resource_type, &name),
            request.validate_only,
            |defaults| {
                let mut changes = AlterTopicConfigRequest::default();
                for config in &resource.configs {
                    let key = config.name.as_str();
                    let setting = match (config.config_operation, config.value.as_deref()) {
                        (SET, Some(value)) => Some(TopicSetting::parse(key, value)?),
                        (SET, None) | (DELETE, _) => default_of(key, defaults)?,
                        (operation, _) => {
                            return Err((
                                ResponseError::InvalidConfig,
                                format!("{key}: operation {operation} (APPEND or SUBTRACT) applies to list configs only; use SET (0) or DELETE (1)"),
                            ))
                        }
                    };
                    if let Some(setting) = setting {
                        setting.apply_to_alter(&mut changes);
                    }
                }
                Ok(changes)
            },
        )
        .await;
        responses.push(answer(
            IncrementalResourceResponse::default()
                .with_resource_type(resource.resource_type)
                .with_resource_name(resource.resource_name),
            outcome,
            |r, code, message| r.with_error_code(code).with_error_message(message),
        ));
    }
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

/// One resource's answer: success, or the refusal's code and message.
fn answer<R>(
    response: R,
    outcome: Result<(), Refusal>,
    with_error: impl FnOnce(R, i16, Option<StrBytes>) -> R,
) -> R {
    match outcome {
        Ok(()) => response,
        Err((error, message)) => with_error(response, error.code(), Some(text(&message))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::alter_configs_request::{AlterConfigsResource, AlterableConfig};
    use kafka_protocol::messages::incremental_alter_configs_request::{
        AlterConfigsResource as IncrementalResource, AlterableConfig as IncrementalConfig,
    };

    fn state_with_topic(replication_factor: u32) -> KafkaState {
        let state = KafkaState::for_tests();
        state
            .app
            .broker
            .create_topic(&CreateTopicRequest {
                name: "t".into(),
                partitions: Some(1),
                replication_factor: Some(replication_factor),
                ..Default::default()
            })
            .unwrap();
        state
    }

    fn incremental(
        configs: &[(&str, i8, Option<&str>)],
        validate_only: bool,
    ) -> IncrementalAlterConfigsRequest {
        IncrementalAlterConfigsRequest::default()
            .with_validate_only(validate_only)
            .with_resources(vec![IncrementalResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("t"))
                .with_configs(
                    configs
                        .iter()
                        .map(|(name, operation, value)| {
                            IncrementalConfig::default()
                                .with_name(text(name))
                                .with_config_operation(*operation)
                                .with_value(value.map(text))
                        })
                        .collect(),
                )])
    }

    #[tokio::test]
    async fn incremental_sets_named_configs_and_deletes_back_to_the_default() {
        let state = state_with_topic(1);
        let default_retention = state.app.broker.topic("t").unwrap().config().retention_ms;
        let set = incremental(
            &[
                ("retention.ms", SET, Some("60000")),
                ("retention.bytes", SET, Some("-1")),
                ("cleanup.policy", SET, Some("delete")),
            ],
            false,
        );
        let answer = incremental_alter_configs(&state, set).await;
        assert_eq!(answer.responses[0].error_code, 0, "{answer:?}");
        let config = state.app.broker.topic("t").unwrap().config();
        assert_eq!((config.retention_ms, config.retention_bytes), (60_000, 0));

        let validate = incremental(&[("retention.ms", SET, Some("5"))], true);
        let answer = incremental_alter_configs(&state, validate).await;
        assert_eq!(answer.responses[0].error_code, 0, "{answer:?}");
        assert_eq!(
            state.app.broker.topic("t").unwrap().config().retention_ms,
            60_000,
            "validate_only changes nothing"
        );

        let delete = incremental(&[("retention.ms", DELETE, None)], false);
        let answer = incremental_alter_configs(&state, delete).await;
        assert_eq!(answer.responses[0].error_code, 0, "{answer:?}");
        assert_eq!(
            state.app.broker.topic("t").unwrap().config().retention_ms,
            default_retention
        );
    }

    #[tokio::test]
    async fn incremental_refusals_name_the_config_and_change_nothing() {
        let state = state_with_topic(1);
        let before = state.app.broker.topic("t").unwrap().config();
        for (configs, expected) in [
            (
                vec![
                    ("retention.ms", SET, Some("1000")),
                    ("min.insync.replicas", SET, Some("2")),
                ],
                "replication_factor",
            ),
            (vec![("segment.bytes", SET, Some("1024"))], "segment.bytes"),
            (
                vec![("cleanup.policy", SET, Some("compact"))],
                "cleanup.policy",
            ),
            (vec![("no.such.config", SET, Some("1"))], "no.such.config"),
            (vec![("retention.ms", 2, Some("1"))], "APPEND"),
            (
                vec![("retention.bytes", SET, Some("-7"))],
                "-1 (unlimited) or more",
            ),
        ] {
            let answer = incremental_alter_configs(&state, incremental(&configs, false)).await;
            let response = &answer.responses[0];
            assert_eq!(
                response.error_code,
                ResponseError::InvalidConfig.code(),
                "{configs:?}: {response:?}"
            );
            let message = response.error_message.as_deref().unwrap_or_default();
            assert!(message.contains(expected), "{configs:?}: {message}");
        }
        assert_eq!(state.app.broker.topic("t").unwrap().config(), before);
    }

    #[tokio::test]
    async fn an_unknown_topic_and_a_broker_are_refused_per_resource() {
        let state = state_with_topic(1);
        let request = IncrementalAlterConfigsRequest::default().with_resources(vec![
            IncrementalResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("nope"))
                .with_configs(vec![IncrementalConfig::default()
                    .with_name(text("retention.ms"))
                    .with_value(Some(text("1")))]),
            IncrementalResource::default()
                .with_resource_type(BROKER)
                .with_resource_name(text("1")),
        ]);
        let answer = incremental_alter_configs(&state, request).await;
        let codes: Vec<i16> = answer.responses.iter().map(|r| r.error_code).collect();
        assert_eq!(
            codes,
            [
                ResponseError::UnknownTopicOrPartition.code(),
                ResponseError::InvalidRequest.code()
            ]
        );
        assert_eq!(answer.responses[0].resource_name.as_str(), "nope");
    }

    #[tokio::test]
    async fn alter_configs_replaces_the_whole_config() {
        let state = state_with_topic(1);
        let default_retention = state.app.broker.topic("t").unwrap().config().retention_ms;
        let first =
            AlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("t"))
                .with_configs(vec![
                    AlterableConfig::default()
                        .with_name(text("retention.ms"))
                        .with_value(Some(text("1234"))),
                    AlterableConfig::default()
                        .with_name(text("unclean.leader.election.enable"))
                        .with_value(Some(text("true"))),
                ])]);
        let answer = alter_configs(&state, first).await;
        assert_eq!(answer.responses[0].error_code, 0, "{answer:?}");
        let config = state.app.broker.topic("t").unwrap().config();
        assert_eq!(
            (config.retention_ms, config.unclean_leader_election),
            (1234, true)
        );

        let second =
            AlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
                .with_resource_type(TOPIC)
                .with_resource_name(text("t"))
                .with_configs(vec![AlterableConfig::default()
                    .with_name(text("retention.bytes"))
                    .with_value(Some(text("4096")))])]);
        let answer = alter_configs(&state, second).await;
        assert_eq!(answer.responses[0].error_code, 0, "{answer:?}");
        let config = state.app.broker.topic("t").unwrap().config();
        assert_eq!(
            (
                config.retention_ms,
                config.unclean_leader_election,
                config.retention_bytes
            ),
            (default_retention, false, 4096),
            "what the second request left out went back to its default"
        );
    }
}
