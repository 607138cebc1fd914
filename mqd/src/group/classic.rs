//! Kafka's classic group protocol (JoinGroup, SyncGroup, Heartbeat) on this coordinator. The
//! coordinator computes the assignment, as for HTTP members; what Kafka adds is *when* a member
//! lets go of partitions, since a Kafka client has no way to acknowledge a generation but to
//! rejoin:
//!
//! - a heartbeat only keeps the member alive; it answers "rejoin" when the member is not in the
//!   group's generation or its last SyncGroup did not hand it its whole target (Kafka's
//!   `REBALANCE_IN_PROGRESS`), so a partition freed after that SyncGroup reaches it;
//! - a rejoin names what the member still holds (eager clients hold nothing by then; cooperative
//!   ones list their owned partitions). When it holds none of the partitions moved away from it,
//!   the rejoin acknowledges the current generation and those partitions are freed for their new
//!   owner, exactly as an HTTP member's heartbeat would;
//! - SyncGroup hands out only what the member owns (never a partition another member may still
//!   be processing), so a member waiting for a partition is told to rejoin until it owns it.
//!
//! Commits keep their fencing: only a partition's owner in its current generation commits it.

use super::consumer_group::ConsumerGroup;
use super::member::ClientProtocol;
use super::{GroupError, Groups, TopicPartition};
use crate::broker::Broker;
use mq_wire::api::MemberAssignment;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// In the group's generation and owning its whole target.
    Settled,
    /// Must rejoin to learn a new generation or to take partitions now free.
    MustRejoin,
}

impl Groups {
    /// A known member rejoins: its subscription may have changed, and `still_held` is what it
    /// says it still processes. Returns its view of the current generation.
    pub fn rejoin(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
        topics: &[String],
        still_held: &BTreeSet<TopicPartition>,
    ) -> Result<MemberAssignment, GroupError> {
        self.with_member(broker, group_name, member_id, |group, unknown| {
            Self::rejoin_in(group, broker, member_id, topics, still_held, unknown)
        })
    }

    fn rejoin_in(
        group: &mut ConsumerGroup,
        broker: &Broker,
        member_id: &str,
        topics: &[String],
        still_held: &BTreeSet<TopicPartition>,
        unknown: &dyn Fn() -> GroupError,
    ) -> Result<MemberAssignment, GroupError> {
        let member = group.members.get_mut(member_id).ok_or_else(unknown)?;
        let mut topics = topics.to_vec();
        topics.sort();
        topics.dedup();
        let resubscribed = !topics.is_empty() && topics != member.topics;
        if resubscribed {
            member.topics = topics;
            Self::refresh(group, broker, true);
        }
        let delivered = group.deliver(member_id).ok_or_else(unknown)?;
        let member = group.members.get(member_id).ok_or_else(unknown)?;
        let moved_away_but_held = member
            .owned
            .difference(&member.delivered_target)
            .any(|tp| still_held.contains(tp));
        if moved_away_but_held {
            return Ok(delivered);
        }
        group.acknowledge(member_id, delivered.generation);
        Self::refresh(group, broker, false);
        group.deliver(member_id).ok_or_else(unknown)
    }

    /// SyncGroup: the member's assignment in `generation` (what it owns), or `None` when the
    /// group has moved on and the member must rejoin.
    pub fn sync(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
        generation: u64,
    ) -> Result<Option<MemberAssignment>, GroupError> {
        self.with_member(broker, group_name, member_id, |group, unknown| {
            if group.generation != generation {
                return Ok(None);
            }
            let delivered = group.deliver(member_id).ok_or_else(unknown)?;
            if let Some(member) = group.members.get_mut(member_id) {
                member.synced = member
                    .owned
                    .intersection(&member.delivered_target)
                    .cloned()
                    .collect();
            }
            Ok(Some(delivered))
        })
    }

    /// A Kafka heartbeat: keeps the member alive and says whether it must rejoin.
    pub fn keep_alive(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
        generation: u64,
    ) -> Result<Liveness, GroupError> {
        self.with_member(broker, group_name, member_id, |group, unknown| {
            let member = group.members.get(member_id).ok_or_else(unknown)?;
            if generation != member.delivered_generation {
                return Err(GroupError::StaleGeneration {
                    member: member_id.to_owned(),
                    given: generation,
                    current: member.delivered_generation,
                });
            }
            let target = group.target.get(member_id);
            let settled = group.generation == member.delivered_generation
                && target.is_some_and(|t| *t == member.synced);
            Ok(if settled {
                Liveness::Settled
            } else {
                Liveness::MustRejoin
            })
        })
    }

    /// Remembers the protocol a Kafka member chose at its (re)join, for DescribeGroups. Its
    /// metadata is copied (never a slice pinning the request) and dropped past
    /// [`ClientProtocol::MAX_METADATA_BYTES`].
    pub fn remember_client_protocol(
        &self,
        group_name: &str,
        member_id: &str,
        name: &str,
        metadata: &[u8],
    ) {
        let mut groups = self.groups.lock();
        let Some(member) = groups
            .get_mut(group_name)
            .and_then(|g| g.members.get_mut(member_id))
        else {
            return;
        };
        let metadata = if metadata.len() <= ClientProtocol::MAX_METADATA_BYTES {
            bytes::Bytes::copy_from_slice(metadata)
        } else {
            bytes::Bytes::new()
        };
        member.client_protocol = Some(ClientProtocol {
            name: name.to_owned(),
            metadata,
        });
    }

    /// The protocols the group's Kafka members chose, by member id.
    pub fn client_protocols(&self, group_name: &str) -> HashMap<String, ClientProtocol> {
        let groups = self.groups.lock();
        groups
            .get(group_name)
            .map(|g| {
                g.members
                    .values()
                    .filter_map(|m| Some((m.id.clone(), m.client_protocol.clone()?)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Runs `act` on the member's group, brought up to date, with the member marked alive; an
    /// unknown group or member is `UnknownMember`, a group not served here its coordinator error.
    fn with_member<T>(
        &self,
        broker: &Broker,
        group_name: &str,
        member_id: &str,
        act: impl FnOnce(&mut ConsumerGroup, &dyn Fn() -> GroupError) -> Result<T, GroupError>,
    ) -> Result<T, GroupError> {
        self.check_coordinated_here(group_name)?;
        let unknown = || GroupError::UnknownMember {
            group: group_name.to_owned(),
            member: member_id.to_owned(),
        };
        let mut groups = self.groups.lock();
        let group = groups.get_mut(group_name).ok_or_else(unknown)?;
        Self::refresh(group, broker, false);
        group
            .members
            .get_mut(member_id)
            .ok_or_else(unknown)?
            .last_seen = Instant::now();
        act(group, &unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_wire::api::JoinGroupRequest;

    fn setup() -> (Broker, Groups) {
        crate::group::tests::setup_with(4)
    }

    fn join(broker: &Broker, groups: &Groups) -> MemberAssignment {
        groups
            .join(
                broker,
                "g",
                &JoinGroupRequest {
                    topics: vec!["t".into()],
                    ..JoinGroupRequest::default()
                },
            )
            .unwrap()
    }

    fn owned(assignment: &MemberAssignment) -> usize {
        assignment
            .assignment
            .iter()
            .map(|t| t.partitions.len())
            .sum()
    }

    #[test]
    fn a_partition_moves_only_once_its_holder_rejoins_without_it() {
        let (broker, groups) = setup();
        let a = join(&broker, &groups);
        let a_sync = groups
            .sync(&broker, "g", &a.member_id, a.generation)
            .unwrap()
            .unwrap();
        assert_eq!(owned(&a_sync), 4);
        let b = join(&broker, &groups);
        // B is told only what it owns: nothing yet, A still holds everything.
        let b_sync = groups
            .sync(&broker, "g", &b.member_id, b.generation)
            .unwrap()
            .unwrap();
        assert_eq!(owned(&b_sync), 0);
        assert_eq!(
            groups
                .keep_alive(&broker, "g", &b.member_id, b.generation)
                .unwrap(),
            Liveness::MustRejoin
        );
        // A learns of the rebalance from its heartbeat, and a cooperative A that still holds
        // its partitions frees none by rejoining.
        assert_eq!(
            groups
                .keep_alive(&broker, "g", &a.member_id, a.generation)
                .unwrap(),
            Liveness::MustRejoin
        );
        let all: BTreeSet<TopicPartition> = (0..4).map(|p| TopicPartition::new("t", p)).collect();
        let a2 = groups
            .rejoin(&broker, "g", &a.member_id, &[], &all)
            .unwrap();
        let b2 = groups
            .rejoin(&broker, "g", &b.member_id, &[], &BTreeSet::new())
            .unwrap();
        assert_eq!(owned(&b2), 0, "A still holds them");
        // A gives them up (eager: it holds nothing when it rejoins).
        let a3 = groups
            .rejoin(&broker, "g", &a.member_id, &[], &BTreeSet::new())
            .unwrap();
        assert_eq!(a3.generation, a2.generation, "a rejoin is no new member");
        assert_eq!(owned(&a3), 2);
        let b3 = groups
            .rejoin(&broker, "g", &b.member_id, &[], &BTreeSet::new())
            .unwrap();
        let b_sync = groups
            .sync(&broker, "g", &b.member_id, b3.generation)
            .unwrap()
            .unwrap();
        assert_eq!(owned(&b_sync), 2);
        assert_eq!(
            groups
                .keep_alive(&broker, "g", &b.member_id, b3.generation)
                .unwrap(),
            Liveness::Settled
        );
        // A sync at a generation the group has left asks for a rejoin.
        assert!(groups
            .sync(&broker, "g", &b.member_id, b3.generation - 1)
            .unwrap()
            .is_none());
    }
}
