//! Consumer groups through Kafka's classic protocol, as the same groups HTTP members join: the
//! coordinator computes assignments server side (range, or round-robin made sticky, picked by
//! the first protocol a member offers among `range`, `roundrobin`, `sticky` and
//! `cooperative-sticky`), so no member is made leader and the assignments a SyncGroup carries
//! are not used. `group/classic.rs` says when a Kafka member's partitions are freed. Offsets
//! committed here are the group's offsets for HTTP too (`mqctl group describe` shows the lag).

use super::error_codes::kafka_error;
use super::{text, KafkaState};
use crate::group::{GroupError, Liveness, TopicPartition};
use crate::http::ApiError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::delete_groups_response::DeletableGroupResult;
use kafka_protocol::messages::describe_groups_response::{DescribedGroup, DescribedGroupMember};
use kafka_protocol::messages::leave_group_response::MemberResponse;
use kafka_protocol::messages::list_groups_response::ListedGroup;
use kafka_protocol::messages::offset_commit_response::{
    OffsetCommitResponsePartition, OffsetCommitResponseTopic,
};
use kafka_protocol::messages::offset_fetch_response::{
    OffsetFetchResponsePartition, OffsetFetchResponseTopic,
};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use kafka_protocol::ResponseError;
use mq_wire::api::{
    AssignmentStrategy, CommitRequest, GroupState, JoinGroupRequest as MqJoin, OffsetCommit,
    TopicPartitions,
};
use std::collections::BTreeSet;

const CONSUMER: &str = "consumer";

fn code_of(error: GroupError) -> i16 {
    match error {
        // Kafka's own codes for a join it refuses; our HTTP API calls them all invalid_request.
        GroupError::NoTopics | GroupError::StrategyMismatch { .. } => {
            ResponseError::InconsistentGroupProtocol.code()
        }
        GroupError::SessionTimeoutOutOfRange { .. } => ResponseError::InvalidSessionTimeout.code(),
        error => kafka_error(ApiError::from(error).code).code(),
    }
}

/// [`code_of`], except that a request naming a static member (`group.instance.id`) whose name
/// another member id holds now gets Kafka's `FENCED_INSTANCE_ID`: a newer process with the same
/// name replaced this one, and the error is fatal for the older, so that two processes never
/// take turns replacing each other.
fn code_for_member(
    state: &KafkaState,
    group: &str,
    instance: Option<&StrBytes>,
    member_id: &str,
    error: GroupError,
) -> i16 {
    let error = state.app.groups.refine(group, error);
    if matches!(error, GroupError::UnknownMember { .. })
        && fenced_instance(state, group, instance, member_id)
    {
        return ResponseError::FencedInstanceId.code();
    }
    code_of(error)
}

/// Whether a request from `member_id` naming the static member `instance` is to be refused
/// `FENCED_INSTANCE_ID` before it runs: another member id holds that name now (Kafka's
/// `isStaticMemberFenced`). A member id that is not in the group at all gets its own error
/// from the coordinator ([`code_for_member`]).
///
/// The look-up takes the group's lock on its own, before the request runs. That is safe: a
/// replacement landing between the two makes the request's own member id unknown, and
/// [`code_for_member`] turns that into `FENCED_INSTANCE_ID` too (the group remembers replaced
/// ids). LeaveGroup, which acts on whoever holds the name, resolves it under the lock instead.
fn fenced_instance(
    state: &KafkaState,
    group: &str,
    instance: Option<&StrBytes>,
    member_id: &str,
) -> bool {
    let Some(instance) = instance.filter(|i| !i.is_empty()) else {
        return false;
    };
    state
        .app
        .groups
        .member_of_instance(group, instance.as_str())
        .is_some_and(|holder| holder != member_id)
}

/// The assignor a protocol name stands for here.
fn strategy_of(protocol: &str) -> Option<AssignmentStrategy> {
    match protocol {
        "range" => Some(AssignmentStrategy::Range),
        "roundrobin" | "sticky" | "cooperative-sticky" => Some(AssignmentStrategy::RoundRobin),
        _ => None,
    }
}

/// A member's subscription (Kafka's ConsumerProtocolSubscription, version-prefixed).
fn subscription(mut metadata: Bytes) -> Option<ConsumerProtocolSubscription> {
    if metadata.remaining() < 2 {
        return None;
    }
    let version = metadata.get_i16().clamp(0, 3);
    ConsumerProtocolSubscription::decode(&mut metadata, version).ok()
}

/// An assignment as a Kafka client reads it (ConsumerProtocolAssignment v0, version-prefixed).
fn assignment_bytes(assigned: &[TopicPartitions]) -> Bytes {
    let assignment = ConsumerProtocolAssignment::default().with_assigned_partitions(
        assigned
            .iter()
            .map(|t| {
                AssignedPartitions::default()
                    .with_topic(TopicName(text(&t.topic)))
                    .with_partitions(t.partitions.iter().map(|&p| p as i32).collect())
            })
            .collect(),
    );
    let mut out = BytesMut::new();
    out.put_i16(0);
    // Encoding a plain struct of strings and numbers into memory cannot fail.
    let _ = assignment.encode(&mut out, 0);
    out.freeze()
}

/// A subscription to `topics` as a member's metadata (ConsumerProtocolSubscription, version 0).
fn subscription_bytes(topics: &[impl AsRef<str>]) -> Bytes {
    let subscription = ConsumerProtocolSubscription::default()
        .with_topics(topics.iter().map(|t| text(t.as_ref())).collect());
    let mut out = BytesMut::new();
    out.put_i16(0);
    // Encoding a list of strings into memory cannot fail.
    let _ = subscription.encode(&mut out, 0);
    out.freeze()
}

pub(super) async fn join_group(
    state: &KafkaState,
    request: JoinGroupRequest,
    client_id: Option<&str>,
) -> JoinGroupResponse {
    let failed = |code: i16| {
        JoinGroupResponse::default()
            .with_error_code(code)
            .with_generation_id(-1)
            .with_member_id(request.member_id.clone())
    };
    if request.protocol_type.as_str() != CONSUMER {
        return failed(ResponseError::InconsistentGroupProtocol.code());
    }
    let Some((protocol, strategy, subscription, metadata)) =
        request.protocols.iter().find_map(|p| {
            let strategy = strategy_of(p.name.as_str())?;
            let subscription = subscription(p.metadata.clone())?;
            Some((p.name.clone(), strategy, subscription, &p.metadata))
        })
    else {
        return failed(ResponseError::InconsistentGroupProtocol.code());
    };
    let group = request.group_id.as_str();
    let topics: Vec<String> = subscription
        .topics
        .iter()
        .map(|t| t.as_str().to_owned())
        .collect();
    let app = &state.app;
    if !request.member_id.is_empty()
        && fenced_instance(
            state,
            group,
            request.group_instance_id.as_ref(),
            request.member_id.as_str(),
        )
    {
        return failed(ResponseError::FencedInstanceId.code());
    }
    let joined = if request.member_id.is_empty() {
        match crate::http::groups::ready_to_join(app, group).await {
            Err(error) => return failed(kafka_error(error.code).code()),
            Ok(()) => app.groups.join(
                &app.broker,
                group,
                &MqJoin {
                    topics,
                    session_timeout_ms: u64::try_from(request.session_timeout_ms).ok(),
                    strategy: Some(strategy),
                    client_id: client_id.map(str::to_owned),
                    instance_id: request
                        .group_instance_id
                        .as_ref()
                        .map(|i| i.as_str().to_owned()),
                    ..MqJoin::default()
                },
            ),
        }
    } else {
        let still_held: BTreeSet<TopicPartition> = subscription
            .owned_partitions
            .iter()
            .flat_map(|t| {
                t.partitions.iter().filter_map(|&p| {
                    Some(TopicPartition::new(
                        t.topic.as_str(),
                        u32::try_from(p).ok()?,
                    ))
                })
            })
            .collect();
        app.groups.rejoin(
            &app.broker,
            group,
            request.member_id.as_str(),
            &topics,
            &still_held,
        )
    };
    if let Ok(assignment) = &joined {
        app.groups.remember_client_protocol(
            group,
            &assignment.member_id,
            protocol.as_str(),
            metadata,
        );
    }
    match joined {
        Ok(assignment) => JoinGroupResponse::default()
            .with_generation_id(assignment.generation as i32)
            .with_protocol_type(Some(text(CONSUMER)))
            .with_protocol_name(Some(protocol))
            .with_member_id(text(&assignment.member_id)),
        Err(error) => failed(code_for_member(
            state,
            group,
            request.group_instance_id.as_ref(),
            request.member_id.as_str(),
            error,
        )),
    }
}

pub(super) fn sync_group(state: &KafkaState, request: &SyncGroupRequest) -> SyncGroupResponse {
    let app = &state.app;
    let response = SyncGroupResponse::default()
        .with_protocol_type(Some(text(CONSUMER)))
        .with_protocol_name(request.protocol_name.clone());
    if fenced_instance(
        state,
        request.group_id.as_str(),
        request.group_instance_id.as_ref(),
        request.member_id.as_str(),
    ) {
        return response.with_error_code(ResponseError::FencedInstanceId.code());
    }
    let synced = app.groups.sync(
        &app.broker,
        request.group_id.as_str(),
        request.member_id.as_str(),
        u64::try_from(request.generation_id).unwrap_or(u64::MAX),
    );
    match synced {
        Ok(Some(assignment)) => response.with_assignment(assignment_bytes(&assignment.assignment)),
        Ok(None) => response.with_error_code(ResponseError::RebalanceInProgress.code()),
        Err(error) => response.with_error_code(code_for_member(
            state,
            request.group_id.as_str(),
            request.group_instance_id.as_ref(),
            request.member_id.as_str(),
            error,
        )),
    }
}

pub(super) fn heartbeat(state: &KafkaState, request: &HeartbeatRequest) -> HeartbeatResponse {
    let app = &state.app;
    if fenced_instance(
        state,
        request.group_id.as_str(),
        request.group_instance_id.as_ref(),
        request.member_id.as_str(),
    ) {
        return HeartbeatResponse::default()
            .with_error_code(ResponseError::FencedInstanceId.code());
    }
    let alive = app.groups.keep_alive(
        &app.broker,
        request.group_id.as_str(),
        request.member_id.as_str(),
        u64::try_from(request.generation_id).unwrap_or(u64::MAX),
    );
    let code = match alive {
        Ok(Liveness::Settled) => 0,
        Ok(Liveness::MustRejoin) => ResponseError::RebalanceInProgress.code(),
        Err(error) => code_for_member(
            state,
            request.group_id.as_str(),
            request.group_instance_id.as_ref(),
            request.member_id.as_str(),
            error,
        ),
    };
    HeartbeatResponse::default().with_error_code(code)
}

pub(super) fn leave_group(state: &KafkaState, request: &LeaveGroupRequest) -> LeaveGroupResponse {
    let app = &state.app;
    let group = request.group_id.as_str();
    // A static member may leave by its name alone (member id empty: `kafka-consumer-groups
    // --delete-members`); named with another member's id, it is fenced.
    let leave = |member: &str, instance: Option<&StrBytes>| {
        let instance = instance.map(StrBytes::as_str).filter(|i| !i.is_empty());
        match app.groups.leave_as(&app.broker, group, member, instance) {
            Ok(()) => 0,
            Err(error) => code_of(error),
        }
    };
    if request.members.is_empty() {
        return LeaveGroupResponse::default()
            .with_error_code(leave(request.member_id.as_str(), None));
    }
    let members = request
        .members
        .iter()
        .map(|m| {
            MemberResponse::default()
                .with_member_id(m.member_id.clone())
                .with_group_instance_id(m.group_instance_id.clone())
                .with_error_code(leave(m.member_id.as_str(), m.group_instance_id.as_ref()))
        })
        .collect();
    LeaveGroupResponse::default().with_members(members)
}

pub(super) async fn offset_commit(
    state: &KafkaState,
    request: OffsetCommitRequest,
) -> OffsetCommitResponse {
    let app = &state.app;
    // A member commits with its id and generation; a consumer outside the group (assign())
    // with neither, allowed while the group has no members, as in Kafka.
    let member = (!request.member_id.is_empty() && request.generation_id_or_member_epoch >= 0)
        .then(|| {
            (
                request.member_id.as_str().to_owned(),
                request.generation_id_or_member_epoch as u64,
            )
        });
    let mut offsets = Vec::new();
    let mut invalid = false;
    for topic in &request.topics {
        for partition in &topic.partitions {
            match (
                u32::try_from(partition.partition_index),
                u64::try_from(partition.committed_offset),
            ) {
                (Ok(index), Ok(offset)) => offsets.push(OffsetCommit {
                    topic: topic.name.as_str().to_owned(),
                    partition: index,
                    offset,
                    metadata: partition
                        .committed_metadata
                        .as_ref()
                        .map(|m| m.as_str().to_owned()),
                }),
                _ => invalid = true,
            }
        }
    }
    let code = if invalid {
        ResponseError::InvalidCommitOffsetSize.code()
    } else if fenced_instance(
        state,
        request.group_id.as_str(),
        request.group_instance_id.as_ref(),
        request.member_id.as_str(),
    ) {
        ResponseError::FencedInstanceId.code()
    } else {
        let commit = CommitRequest {
            member_id: member.as_ref().map(|m| m.0.clone()),
            generation: member.as_ref().map(|m| m.1),
            offsets,
        };
        match app
            .groups
            .commit_offsets(&app.broker, request.group_id.as_str(), &commit)
            .await
        {
            Ok(_) => 0,
            Err(error) => code_for_member(
                state,
                request.group_id.as_str(),
                request.group_instance_id.as_ref(),
                request.member_id.as_str(),
                error,
            ),
        }
    };
    let topics = request
        .topics
        .iter()
        .map(|topic| {
            OffsetCommitResponseTopic::default()
                .with_name(topic.name.clone())
                .with_partitions(
                    topic
                        .partitions
                        .iter()
                        .map(|p| {
                            OffsetCommitResponsePartition::default()
                                .with_partition_index(p.partition_index)
                                .with_error_code(code)
                        })
                        .collect(),
                )
        })
        .collect();
    OffsetCommitResponse::default().with_topics(topics)
}

pub(super) fn offset_fetch(
    state: &KafkaState,
    request: &OffsetFetchRequest,
) -> OffsetFetchResponse {
    let offsets = &state.app.groups.offsets;
    let group = request.group_id.as_str();
    let committed = |topic: &str, partition: i32| {
        let found = u32::try_from(partition)
            .ok()
            .and_then(|p| offsets.get_full(group, topic, p));
        OffsetFetchResponsePartition::default()
            .with_partition_index(partition)
            .with_committed_offset(found.as_ref().map_or(-1, |c| c.offset as i64))
            .with_committed_leader_epoch(-1)
            .with_metadata(Some(text(
                found.and_then(|c| c.metadata).as_deref().unwrap_or(""),
            )))
    };
    let topics = match &request.topics {
        Some(asked) => asked
            .iter()
            .map(|t| {
                OffsetFetchResponseTopic::default()
                    .with_name(t.name.clone())
                    .with_partitions(
                        t.partition_indexes
                            .iter()
                            .map(|&p| committed(t.name.as_str(), p))
                            .collect(),
                    )
            })
            .collect(),
        None => {
            let mut by_topic: std::collections::BTreeMap<String, Vec<i32>> = Default::default();
            for (tp, _) in offsets.for_group(group) {
                by_topic
                    .entry(tp.topic)
                    .or_default()
                    .push(tp.partition as i32);
            }
            by_topic
                .into_iter()
                .map(|(topic, partitions)| {
                    OffsetFetchResponseTopic::default()
                        .with_name(TopicName(text(&topic)))
                        .with_partitions(partitions.iter().map(|&p| committed(&topic, p)).collect())
                })
                .collect()
        }
    };
    OffsetFetchResponse::default().with_topics(topics)
}

/// Kafka's name of a group state.
fn state_name(state: GroupState) -> &'static str {
    match state {
        GroupState::Empty => "Empty",
        GroupState::Rebalancing => "PreparingRebalance",
        GroupState::Stable => "Stable",
        GroupState::Dead => "Dead",
    }
}

pub(super) fn list_groups(state: &KafkaState) -> ListGroupsResponse {
    let app = &state.app;
    let groups = app
        .groups
        .list(&app.broker)
        .groups
        .into_iter()
        .filter(|g| app.groups.coordinated_here(&g.group))
        .map(|g| {
            ListedGroup::default()
                .with_group_id(GroupId(text(&g.group)))
                .with_protocol_type(text(CONSUMER))
                .with_group_state(text(state_name(g.state)))
                .with_group_type(text("classic"))
        })
        .collect();
    ListGroupsResponse::default().with_groups(groups)
}

pub(super) async fn describe_groups(
    state: &KafkaState,
    request: &DescribeGroupsRequest,
) -> DescribeGroupsResponse {
    let app = &state.app;
    let mut described = Vec::with_capacity(request.groups.len());
    for group in &request.groups {
        let result = DescribedGroup::default()
            .with_group_id(group.clone())
            .with_protocol_type(text(CONSUMER));
        described.push(
            match app.groups.describe_group(&app.broker, group.as_str()).await {
                Ok(description) => {
                    // What the Kafka members chose and sent (cooperative-sticky, say); for a
                    // group of HTTP members, the assignor and subscription the coordinator runs.
                    let chosen = app.groups.client_protocols(group.as_str());
                    // The name most members chose (members whose names the coordinator runs
                    // alike may differ), ties to the first by name.
                    let mut counts = std::collections::BTreeMap::new();
                    for p in chosen.values() {
                        *counts.entry(p.name.as_str()).or_insert(0usize) += 1;
                    }
                    let most = counts
                        .iter()
                        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                        .map(|(name, _)| *name);
                    let protocol = most.map_or(
                        match description.strategy {
                            AssignmentStrategy::Range => "range",
                            AssignmentStrategy::RoundRobin => "roundrobin",
                        },
                        std::convert::identity,
                    );
                    let members = description
                        .members
                        .iter()
                        .map(|m| {
                            let metadata = chosen
                                .get(&m.member_id)
                                .map(|p| p.metadata.clone())
                                .filter(|bytes| !bytes.is_empty())
                                .unwrap_or_else(|| subscription_bytes(&m.topics));
                            DescribedGroupMember::default()
                                .with_member_id(text(&m.member_id))
                                .with_group_instance_id(m.instance_id.as_deref().map(text))
                                .with_client_id(text(m.client_id.as_deref().unwrap_or("")))
                                .with_member_metadata(metadata)
                                .with_member_assignment(assignment_bytes(&m.assignment))
                        })
                        .collect();
                    result
                        .with_group_state(text(state_name(description.state)))
                        .with_protocol_data(text(protocol))
                        .with_members(members)
                }
                Err(GroupError::UnknownGroup(_)) => result.with_group_state(text("Dead")),
                Err(error) => result.with_error_code(code_of(error)),
            },
        );
    }
    DescribeGroupsResponse::default().with_groups(described)
}

pub(super) async fn delete_groups(
    state: &KafkaState,
    request: &DeleteGroupsRequest,
) -> DeleteGroupsResponse {
    let app = &state.app;
    let mut results = Vec::with_capacity(request.groups_names.len());
    for group in &request.groups_names {
        let code = match app.groups.delete_group(&app.broker, group.as_str()).await {
            Ok(()) => 0,
            Err(error) => code_of(error),
        };
        results.push(
            DeletableGroupResult::default()
                .with_group_id(group.clone())
                .with_error_code(code),
        );
    }
    DeleteGroupsResponse::default().with_results(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
    use kafka_protocol::messages::leave_group_request::MemberIdentity;

    fn state() -> KafkaState {
        let state = KafkaState::for_tests();
        state
            .app
            .broker
            .create_topic(&mq_wire::api::CreateTopicRequest {
                name: "t".into(),
                partitions: Some(2),
                ..Default::default()
            })
            .unwrap();
        state
    }

    fn join(protocol: &str, topics: &[&str], session_timeout_ms: i32) -> JoinGroupRequest {
        JoinGroupRequest::default()
            .with_group_id(GroupId(text("g")))
            .with_protocol_type(text(CONSUMER))
            .with_session_timeout_ms(session_timeout_ms)
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(text(protocol))
                .with_metadata(subscription_bytes(topics))])
    }

    #[tokio::test]
    async fn a_join_the_group_cannot_take_is_refused_with_kafkas_code_for_it() {
        let state = state();
        let first = join_group(&state, join("range", &["t"], 10_000), None).await;
        assert_eq!(first.error_code, 0);
        let other_strategy = join_group(&state, join("roundrobin", &["t"], 10_000), None).await;
        assert_eq!(
            other_strategy.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        );
        let no_topics = join_group(&state, join("range", &[], 10_000), None).await;
        assert_eq!(
            no_topics.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        );
        let unknown_assignor = join_group(&state, join("mine", &["t"], 10_000), None).await;
        assert_eq!(
            unknown_assignor.error_code,
            ResponseError::InconsistentGroupProtocol.code()
        );
        let too_short = join_group(&state, join("range", &["t"], 1), None).await;
        assert_eq!(
            too_short.error_code,
            ResponseError::InvalidSessionTimeout.code()
        );
    }

    #[tokio::test]
    async fn a_static_member_replaced_by_a_newer_process_is_fenced() {
        let state = state();
        let instance = Some(text("worker-1"));
        let join_as_worker =
            || join("range", &["t"], 10_000).with_group_instance_id(instance.clone());
        let first = join_group(&state, join_as_worker(), None).await;
        assert_eq!(first.error_code, 0);
        let second = join_group(&state, join_as_worker(), None).await;
        assert_eq!(second.error_code, 0);
        assert_ne!(second.member_id, first.member_id);
        assert_eq!(second.generation_id, first.generation_id, "no rebalance");

        let heartbeat_of = |member: &StrBytes| {
            HeartbeatRequest::default()
                .with_group_id(GroupId(text("g")))
                .with_member_id(member.clone())
                .with_generation_id(second.generation_id)
                .with_group_instance_id(instance.clone())
        };
        let old = heartbeat(&state, &heartbeat_of(&first.member_id));
        assert_eq!(old.error_code, ResponseError::FencedInstanceId.code());

        // A member in the group that names another member's instance is fenced too (Kafka's
        // isStaticMemberFenced), on every member request, before the request runs.
        let other = join_group(&state, join("range", &["t"], 10_000), None).await;
        assert_eq!(other.error_code, 0);
        let borrowed = heartbeat(&state, &heartbeat_of(&other.member_id));
        assert_eq!(borrowed.error_code, ResponseError::FencedInstanceId.code());
        let synced = sync_group(
            &state,
            &SyncGroupRequest::default()
                .with_group_id(GroupId(text("g")))
                .with_member_id(other.member_id.clone())
                .with_generation_id(other.generation_id)
                .with_group_instance_id(instance.clone()),
        );
        assert_eq!(synced.error_code, ResponseError::FencedInstanceId.code());
        let rejoined = join_group(
            &state,
            join("range", &["t"], 10_000)
                .with_member_id(other.member_id.clone())
                .with_group_instance_id(instance.clone()),
            None,
        )
        .await;
        assert_eq!(rejoined.error_code, ResponseError::FencedInstanceId.code());
        let committed = offset_commit(
            &state,
            OffsetCommitRequest::default()
                .with_group_id(GroupId(text("g")))
                .with_member_id(other.member_id.clone())
                .with_generation_id_or_member_epoch(other.generation_id)
                .with_group_instance_id(instance.clone())
                .with_topics(vec![
                    kafka_protocol::messages::offset_commit_request::OffsetCommitRequestTopic::default()
                        .with_name(TopicName(text("t")))
                        .with_partitions(vec![
                            kafka_protocol::messages::offset_commit_request::OffsetCommitRequestPartition::default()
                                .with_partition_index(0)
                                .with_committed_offset(0),
                        ]),
                ]),
        )
        .await;
        assert_eq!(
            committed.topics[0].partitions[0].error_code,
            ResponseError::FencedInstanceId.code()
        );
        let new = heartbeat(&state, &heartbeat_of(&second.member_id));
        assert_ne!(new.error_code, ResponseError::FencedInstanceId.code());

        // Leaving by name alone (what kafka-consumer-groups --delete-members sends).
        let leave = LeaveGroupRequest::default()
            .with_group_id(GroupId(text("g")))
            .with_members(vec![MemberIdentity::default()
                .with_member_id(text(""))
                .with_group_instance_id(instance.clone())]);
        let left = leave_group(&state, &leave);
        assert_eq!(left.members[0].error_code, 0, "{left:?}");
        assert_eq!(state.app.groups.member_of_instance("g", "worker-1"), None);
    }

    #[tokio::test]
    async fn describe_groups_answers_the_protocol_and_metadata_the_members_sent() {
        let state = state();
        // A cooperative client's subscription, in its own version (3), with what it owns.
        let subscription = ConsumerProtocolSubscription::default()
            .with_topics(vec![text("t")])
            .with_owned_partitions(vec![]);
        let mut metadata = BytesMut::new();
        metadata.put_i16(3);
        subscription.encode(&mut metadata, 3).unwrap();
        let metadata = metadata.freeze();
        let mut request = join("cooperative-sticky", &["t"], 10_000);
        request.protocols[0].metadata = metadata.clone();
        let joined = join_group(&state, request, None).await;
        assert_eq!(joined.error_code, 0);
        let described = describe_groups(
            &state,
            &DescribeGroupsRequest::default().with_groups(vec![GroupId(text("g"))]),
        )
        .await;
        let group = &described.groups[0];
        assert_eq!(group.protocol_data.as_str(), "cooperative-sticky");
        assert_eq!(group.members[0].member_id, joined.member_id);
        assert_eq!(group.members[0].member_metadata, metadata);
    }
}
