//! Membership: join, heartbeat, leave and session expiry, on the groups held by [`Groups`].
//!
//! Every operation first brings its group up to date (expired members out, target recomputed if
//! anything changed, free partitions granted), so an answer always reflects the present.

use super::consumer_group::ConsumerGroup;
use super::member::Member;
use super::{GroupError, Groups};
use crate::broker::Broker;
use mq_wire::api::{GroupState, HeartbeatRequest, JoinGroupRequest, MemberAssignment};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

impl Groups {
    /// Partition counts of the topics that exist among `topics`.
    fn partition_counts(broker: &Broker, topics: &BTreeSet<String>) -> BTreeMap<String, u32> {
        topics
            .iter()
            .filter_map(|name| {
                broker
                    .topic(name)
                    .ok()
                    .map(|t| (name.clone(), t.partition_count()))
            })
            .collect()
    }

    /// Expires members, then rebalances if membership or the subscribed partitions changed.
    pub(super) fn refresh(group: &mut ConsumerGroup, broker: &Broker, membership_changed: bool) {
        let expired = group.expire(Instant::now());
        for member in &expired {
            tracing::info!(group = %group.name, %member, "member session expired");
        }
        let counts = Self::partition_counts(broker, &group.subscribed_topics());
        group.rebalance(membership_changed || !expired.is_empty(), counts);
    }

    pub fn join(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &JoinGroupRequest,
    ) -> Result<MemberAssignment, GroupError> {
        if request.topics.is_empty() {
            return Err(GroupError::NoTopics);
        }
        if request.instance_id.as_deref() == Some("") {
            return Err(GroupError::InvalidArgument(
                "instance_id must not be empty: leave it out for a dynamic member".to_owned(),
            ));
        }
        let session_timeout = self.session_timeout(request.session_timeout_ms)?;
        let strategy = request.strategy.unwrap_or_default();
        let mut groups = self.groups.lock();
        let group = groups.entry(group_name.to_owned()).or_insert_with(|| {
            let mut group = ConsumerGroup::new(group_name, strategy);
            // Generations go on from where the previous coordinator left them (Kafka keeps
            // them in __consumer_offsets): a member of the old one can never pass for a
            // member of the new one's generation.
            group.generation = self.generation_base(group_name);
            group.claim_epoch = self.claim_epoch(group_name);
            group
        });
        if group.members.is_empty() {
            group.strategy = strategy;
        } else if request.strategy.is_some_and(|s| s != group.strategy) {
            return Err(GroupError::StrategyMismatch {
                group: group_name.to_owned(),
                strategy: serde_json::to_value(group.strategy)
                    .unwrap_or_default()
                    .to_string(),
            });
        }
        let prefix = request.client_id.as_deref().unwrap_or("member");
        let id = format!("{prefix}-{}", uuid::Uuid::new_v4().simple());
        let mut topics = request.topics.clone();
        topics.sort();
        topics.dedup();
        let returning = request
            .instance_id
            .as_deref()
            .and_then(|instance| group.member_of_instance(instance))
            .map(str::to_owned);
        if let Some(previous) = returning {
            group.replace_member(&previous, &id);
            let member = group.members.get_mut(&id).expect("just replaced");
            member.client_id = request.client_id.clone();
            member.session_timeout = session_timeout;
            member.last_seen = Instant::now();
            member.offset_reset = request.auto_offset_reset.unwrap_or_default();
            let resubscribed = member.topics != topics;
            member.topics = topics;
            tracing::info!(group = %group_name, member = %id, %previous, instance = ?request.instance_id, "static member back: it takes its previous member's place");
            if resubscribed {
                Self::refresh(group, broker, true);
            }
            // A new process holds nothing: it acknowledges the generation at once, freeing what
            // moved away from it meanwhile.
            let delivered = group.deliver(&id).expect("the member was just replaced");
            group.acknowledge(&id, delivered.generation);
            Self::refresh(group, broker, false);
            return Ok(group.deliver(&id).expect("the member was just replaced"));
        }
        group.members.insert(
            id.clone(),
            Member {
                id: id.clone(),
                client_id: request.client_id.clone(),
                instance_id: request.instance_id.clone(),
                topics,
                session_timeout,
                last_seen: Instant::now(),
                offset_reset: request.auto_offset_reset.unwrap_or_default(),
                delivered_generation: 0,
                delivered_target: BTreeSet::new(),
                owned: BTreeSet::new(),
                positions: HashMap::new(),
                fetch_rotation: 0,
                synced: BTreeSet::new(),
                client_protocol: None,
            },
        );
        tracing::info!(group = %group_name, member = %id, "member joined");
        Self::refresh(group, broker, true);
        Ok(group.deliver(&id).expect("the member was just added"))
    }

    fn session_timeout(&self, requested_ms: Option<u64>) -> Result<Duration, GroupError> {
        let settings = &self.settings;
        let timeout = requested_ms.map_or(settings.default_session_timeout, Duration::from_millis);
        if timeout < settings.min_session_timeout || timeout > settings.max_session_timeout {
            return Err(GroupError::SessionTimeoutOutOfRange {
                min_ms: settings.min_session_timeout.as_millis(),
                max_ms: settings.max_session_timeout.as_millis(),
            });
        }
        Ok(timeout)
    }

    /// Keeps the member alive, acknowledges the generation it carries, and answers with the
    /// current generation and assignment.
    pub fn heartbeat(
        &self,
        broker: &Broker,
        group_name: &str,
        request: &HeartbeatRequest,
    ) -> Result<MemberAssignment, GroupError> {
        self.check_coordinated_here(group_name)?;
        let mut groups = self.groups.lock();
        let unknown = || GroupError::UnknownMember {
            group: group_name.to_owned(),
            member: request.member_id.clone(),
        };
        let group = groups.get_mut(group_name).ok_or_else(unknown)?;
        Self::refresh(group, broker, false);
        let member = group
            .members
            .get_mut(&request.member_id)
            .ok_or_else(unknown)?;
        if request.generation > member.delivered_generation {
            return Err(GroupError::StaleGeneration {
                member: request.member_id.clone(),
                given: request.generation,
                current: member.delivered_generation,
            });
        }
        member.last_seen = Instant::now();
        group.acknowledge(&request.member_id, request.generation);
        Self::refresh(group, broker, false);
        Ok(group
            .deliver(&request.member_id)
            .expect("the member is in the group"))
    }

    /// Removes a member at once; its partitions go to the others without waiting for its session
    /// to expire. Commit before leaving.
    pub fn leave(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
    ) -> Result<(), GroupError> {
        self.leave_as(broker, group_name, member_id, None)
    }

    /// Kafka's LeaveGroup for one member: by id, by id and static name (`instance`), or by the
    /// static name alone (an empty `member_id`, as `kafka-consumer-groups --delete-members`
    /// sends). The name is resolved under the group's lock, so a newer process replacing the
    /// member between the look-up and the removal cannot make the leave miss it or remove the
    /// wrong one. A name another member id holds is refused [`GroupError::FencedInstance`].
    pub fn leave_as(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
        instance: Option<&str>,
    ) -> Result<(), GroupError> {
        let mut groups = self.groups.lock();
        let unknown = || GroupError::UnknownMember {
            group: group_name.to_owned(),
            member: member_id.to_owned(),
        };
        let group = groups.get_mut(group_name).ok_or_else(unknown)?;
        let holder = instance.and_then(|i| group.member_of_instance(i).map(str::to_owned));
        let member_id = match (holder, instance) {
            (Some(holder), _) if member_id.is_empty() => holder,
            (Some(holder), Some(instance)) if holder != member_id => {
                return Err(GroupError::FencedInstance {
                    group: group_name.to_owned(),
                    member: member_id.to_owned(),
                    instance: instance.to_owned(),
                })
            }
            // A name nobody holds: Kafka answers UNKNOWN_MEMBER_ID, whatever the member id.
            (None, Some(_)) => return Err(group.refine(unknown())),
            _ => member_id.to_owned(),
        };
        let member_id = member_id.as_str();
        if !group.remove_member(member_id) {
            return Err(group.refine(unknown()));
        }
        tracing::info!(group = %group_name, member = %member_id, "member left");
        Self::refresh(group, broker, true);
        Ok(())
    }

    /// One expiry pass over every group (run periodically by the server); dead groups (no
    /// members, no committed offsets) are removed.
    pub fn expire_sessions(&self, broker: &Broker) {
        let with_offsets = self.offsets.groups();
        let mut groups = self.groups.lock();
        for group in groups.values_mut() {
            Self::refresh(group, broker, false);
        }
        groups.retain(|name, group| group.state(with_offsets.contains(name)) != GroupState::Dead);
    }
}
