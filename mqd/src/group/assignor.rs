//! Computes a group's target assignment on the broker. The strategy (range or round-robin) decides
//! how many partitions each member gets; a sticky pass then keeps every member's current partitions
//! within that count, so a rebalance moves only what the new balance needs.

use super::TopicPartition;
use mq_wire::api::AssignmentStrategy;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A member as the assignor sees it: the topics it reads.
pub struct Subscriber<'a> {
    pub id: &'a str,
    pub topics: &'a [String],
}

/// The target assignment: for each member (all of them present, maybe empty), its partitions.
pub fn assign(
    strategy: AssignmentStrategy,
    members: &[Subscriber<'_>],
    partition_counts: &BTreeMap<String, u32>,
    current_owner: &HashMap<TopicPartition, String>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let base = match strategy {
        AssignmentStrategy::Range => range(members, partition_counts),
        AssignmentStrategy::RoundRobin => round_robin(members, partition_counts),
    };
    make_sticky(members, base, current_owner)
}

fn sorted_ids<'a>(members: &[Subscriber<'a>]) -> Vec<&'a str> {
    let mut ids: Vec<&str> = members.iter().map(|m| m.id).collect();
    ids.sort_unstable();
    ids
}

fn subscribes(member: &Subscriber<'_>, topic: &str) -> bool {
    member.topics.iter().any(|t| t == topic)
}

/// Kafka's range assignor: per topic, the subscribers sorted by id get consecutive ranges, the first
/// ones one partition more when it does not divide evenly.
fn range(
    members: &[Subscriber<'_>],
    partition_counts: &BTreeMap<String, u32>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let mut assignment = empty_assignment(members);
    let by_id: HashMap<&str, &Subscriber<'_>> = members.iter().map(|m| (m.id, m)).collect();
    for (topic, &count) in partition_counts {
        let subscribers: Vec<&str> = sorted_ids(members)
            .into_iter()
            .filter(|id| subscribes(by_id[id], topic))
            .collect();
        if subscribers.is_empty() {
            continue;
        }
        let per_member = count as usize / subscribers.len();
        let extra = count as usize % subscribers.len();
        let mut next = 0u32;
        for (i, id) in subscribers.iter().enumerate() {
            let take = per_member + usize::from(i < extra);
            for partition in next..next + take as u32 {
                assignment
                    .get_mut(*id)
                    .expect("every member has an entry")
                    .insert(TopicPartition::new(topic, partition));
            }
            next += take as u32;
        }
    }
    assignment
}

/// Kafka's round-robin assignor: all partitions, sorted, dealt in turn to the members (sorted by
/// id) that subscribe to their topic.
fn round_robin(
    members: &[Subscriber<'_>],
    partition_counts: &BTreeMap<String, u32>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let mut assignment = empty_assignment(members);
    let by_id: HashMap<&str, &Subscriber<'_>> = members.iter().map(|m| (m.id, m)).collect();
    let ids = sorted_ids(members);
    if ids.is_empty() {
        return assignment;
    }
    let mut turn = 0usize;
    for (topic, &count) in partition_counts {
        for partition in 0..count {
            for _ in 0..ids.len() {
                let id = ids[turn % ids.len()];
                turn += 1;
                if subscribes(by_id[id], topic) {
                    assignment
                        .get_mut(id)
                        .expect("every member has an entry")
                        .insert(TopicPartition::new(topic, partition));
                    break;
                }
            }
        }
    }
    assignment
}

fn empty_assignment(members: &[Subscriber<'_>]) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    members
        .iter()
        .map(|m| (m.id.to_owned(), BTreeSet::new()))
        .collect()
}

/// Keeps the base assignment's count per member, but lets members keep the partitions they own now:
/// first every member keeps its current partitions (that it still subscribes to) up to its count,
/// then the rest go to the base choice if it has room, else to any subscriber with room.
fn make_sticky(
    members: &[Subscriber<'_>],
    base: BTreeMap<String, BTreeSet<TopicPartition>>,
    current_owner: &HashMap<TopicPartition, String>,
) -> BTreeMap<String, BTreeSet<TopicPartition>> {
    let quota: HashMap<&str, usize> = base
        .iter()
        .map(|(id, set)| (id.as_str(), set.len()))
        .collect();
    let by_id: HashMap<&str, &Subscriber<'_>> = members.iter().map(|m| (m.id, m)).collect();
    let mut result = empty_assignment(members);
    let mut unplaced: Vec<(TopicPartition, &str)> = Vec::new();

    let mut all: Vec<(&TopicPartition, &str)> = base
        .iter()
        .flat_map(|(id, set)| set.iter().map(move |tp| (tp, id.as_str())))
        .collect();
    all.sort();
    for (tp, base_choice) in all {
        let keeper = current_owner.get(tp).map(String::as_str).filter(|owner| {
            by_id.get(owner).is_some_and(|m| subscribes(m, &tp.topic))
                && result[*owner].len() < quota[owner]
        });
        match keeper {
            Some(owner) => {
                result.get_mut(owner).expect("member").insert(tp.clone());
            }
            None => unplaced.push((tp.clone(), base_choice)),
        }
    }
    for (tp, base_choice) in unplaced {
        let has_room = |id: &str| result[id].len() < quota[id];
        let target = if has_room(base_choice) {
            base_choice
        } else {
            sorted_ids(members)
                .into_iter()
                .find(|id| has_room(id) && subscribes(by_id[id], &tp.topic))
                .unwrap_or(base_choice)
        };
        result.get_mut(target).expect("member").insert(tp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(topics: &[(&str, u32)]) -> BTreeMap<String, u32> {
        topics.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn partitions_of(
        assignment: &BTreeMap<String, BTreeSet<TopicPartition>>,
        id: &str,
    ) -> Vec<u32> {
        assignment[id].iter().map(|tp| tp.partition).collect()
    }

    fn topics(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn range_gives_consecutive_ranges_first_members_one_more() {
        let t = topics(&["t"]);
        let members = [
            Subscriber {
                id: "a",
                topics: &t,
            },
            Subscriber {
                id: "b",
                topics: &t,
            },
        ];
        let result = assign(
            AssignmentStrategy::Range,
            &members,
            &counts(&[("t", 5)]),
            &HashMap::new(),
        );
        assert_eq!(partitions_of(&result, "a"), [0, 1, 2]);
        assert_eq!(partitions_of(&result, "b"), [3, 4]);
    }

    #[test]
    fn round_robin_deals_across_topics() {
        let t = topics(&["x", "y"]);
        let members = [
            Subscriber {
                id: "a",
                topics: &t,
            },
            Subscriber {
                id: "b",
                topics: &t,
            },
        ];
        let result = assign(
            AssignmentStrategy::RoundRobin,
            &members,
            &counts(&[("x", 3), ("y", 1)]),
            &HashMap::new(),
        );
        assert_eq!(result["a"].len(), 2);
        assert_eq!(result["b"].len(), 2);
    }

    #[test]
    fn only_subscribers_get_a_topic() {
        let (x, y) = (topics(&["x"]), topics(&["y"]));
        let members = [
            Subscriber {
                id: "a",
                topics: &x,
            },
            Subscriber {
                id: "b",
                topics: &y,
            },
        ];
        for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
            let result = assign(
                strategy,
                &members,
                &counts(&[("x", 4), ("y", 2)]),
                &HashMap::new(),
            );
            assert!(result["a"].iter().all(|tp| tp.topic == "x") && result["a"].len() == 4);
            assert!(result["b"].iter().all(|tp| tp.topic == "y") && result["b"].len() == 2);
        }
    }

    #[test]
    fn a_joining_member_takes_only_what_balance_needs() {
        let t = topics(&["t"]);
        let two = [
            Subscriber {
                id: "b",
                topics: &t,
            },
            Subscriber {
                id: "c",
                topics: &t,
            },
        ];
        let before = assign(
            AssignmentStrategy::Range,
            &two,
            &counts(&[("t", 6)]),
            &HashMap::new(),
        );
        let owners: HashMap<TopicPartition, String> = before
            .iter()
            .flat_map(|(id, set)| set.iter().map(move |tp| (tp.clone(), id.clone())))
            .collect();
        // "a" sorts first: plain range would move every partition; sticky moves two.
        let three = [
            Subscriber {
                id: "a",
                topics: &t,
            },
            Subscriber {
                id: "b",
                topics: &t,
            },
            Subscriber {
                id: "c",
                topics: &t,
            },
        ];
        let after = assign(
            AssignmentStrategy::Range,
            &three,
            &counts(&[("t", 6)]),
            &owners,
        );
        let moved = after
            .iter()
            .flat_map(|(id, set)| set.iter().map(move |tp| (tp, id)))
            .filter(|(tp, id)| owners.get(*tp) != Some(*id))
            .count();
        assert_eq!(moved, 2);
        assert!(after.values().all(|set| set.len() == 2));
    }

    #[test]
    fn every_partition_has_exactly_one_member() {
        let t = topics(&["t", "u"]);
        let members: Vec<String> = (0..4).map(|i| format!("m{i}")).collect();
        let subscribers: Vec<Subscriber> = members
            .iter()
            .map(|id| Subscriber { id, topics: &t })
            .collect();
        for strategy in [AssignmentStrategy::Range, AssignmentStrategy::RoundRobin] {
            let result = assign(
                strategy,
                &subscribers,
                &counts(&[("t", 7), ("u", 3)]),
                &HashMap::new(),
            );
            let mut all: Vec<&TopicPartition> = result.values().flatten().collect();
            let total = all.len();
            all.sort();
            all.dedup();
            assert_eq!((total, all.len()), (10, 10));
        }
    }
}
