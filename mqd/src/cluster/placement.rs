//! Placement: which live nodes hold each partition of a new topic, and which of them leads. Leaders
//! spread evenly: each partition goes to the live node leading the fewest partitions so far (9
//! partitions on 3 empty nodes: 3 each), ties broken by a rotation that starts at a different node
//! for each topic. A partition's followers are the live nodes after its leader in id order, so
//! with replication factor R every node holds the same share of copies and no two copies of a
//! partition share a node.

use super::metadata::Metadata;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlacementError {
    #[error(
        "replication_factor {wanted} needs {wanted} live nodes; {live} of the cluster's nodes are alive"
    )]
    NotEnoughNodes { wanted: u32, live: usize },
}

/// The replicas of each partition, its preferred leader first, all on distinct live nodes.
pub fn place_replicas(
    metadata: &Metadata,
    topic: &str,
    partitions: u32,
    replication_factor: u32,
    usable: &dyn Fn(u64) -> bool,
) -> Result<Vec<Vec<u64>>, PlacementError> {
    let leaders = place_leaders(metadata, topic, partitions, replication_factor, usable)?;
    let live: Vec<u64> = metadata
        .live_nodes()
        .into_iter()
        .filter(|&n| usable(n))
        .collect();
    Ok(leaders
        .into_iter()
        .map(|leader| {
            let at = live.iter().position(|&n| n == leader).unwrap_or(0);
            (0..replication_factor as usize)
                .map(|i| live[(at + i) % live.len()])
                .collect()
        })
        .collect())
}

/// One leader per partition, on live nodes only: alive in the metadata and `usable` (the
/// controller heard from them lately, so a node that died a moment ago gets nothing).
pub fn place_leaders(
    metadata: &Metadata,
    topic: &str,
    partitions: u32,
    replication_factor: u32,
    usable: &dyn Fn(u64) -> bool,
) -> Result<Vec<u64>, PlacementError> {
    let live: Vec<u64> = metadata
        .live_nodes()
        .into_iter()
        .filter(|&n| usable(n))
        .collect();
    if live.is_empty() || replication_factor as usize > live.len() {
        return Err(PlacementError::NotEnoughNodes {
            wanted: replication_factor,
            live: live.len(),
        });
    }
    let all = metadata.leader_counts();
    let mut counts: Vec<(u64, u32)> = live
        .iter()
        .map(|id| (*id, all.get(id).copied().unwrap_or(0)))
        .collect();
    let start = murmur2::murmur2(topic.as_bytes(), murmur2::KAFKA_SEED) as usize % live.len();
    counts.rotate_left(start);
    let mut leaders = Vec::with_capacity(partitions as usize);
    for _ in 0..partitions {
        let (position, _) = counts
            .iter()
            .enumerate()
            .min_by_key(|(position, (_, count))| (*count, *position))
            .expect("live is not empty");
        counts[position].1 += 1;
        leaders.push(counts[position].0);
        // The node just chosen goes last among its equals.
        let chosen = counts.remove(position);
        counts.push(chosen);
    }
    Ok(leaders)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::metadata::{Command, NodeState};
    use uuid::Uuid;

    fn cluster_of(nodes: &[u64]) -> Metadata {
        let mut metadata = Metadata::default();
        for &id in nodes {
            metadata
                .apply(&Command::NodeUp {
                    id,
                    addr: format!("127.0.0.1:{}", 9400 + id),
                    incarnation: Uuid::new_v4(),
                    now_ms: 0,
                })
                .unwrap();
        }
        metadata
    }

    fn per_node(leaders: &[u64]) -> std::collections::BTreeMap<u64, usize> {
        let mut counts = std::collections::BTreeMap::new();
        for leader in leaders {
            *counts.entry(*leader).or_default() += 1;
        }
        counts
    }

    #[test]
    fn nine_partitions_on_three_nodes_give_three_each() {
        let metadata = cluster_of(&[1, 2, 3]);
        let leaders = place_leaders(&metadata, "events", 9, 1, &|_| true).unwrap();
        assert_eq!(
            per_node(&leaders).values().collect::<Vec<_>>(),
            [&3, &3, &3]
        );
    }

    #[test]
    fn topics_of_one_partition_spread_over_the_nodes() {
        let mut metadata = cluster_of(&[1, 2, 3]);
        for name in ["a", "b", "c", "d", "e", "f"] {
            let leaders = place_leaders(&metadata, name, 1, 1, &|_| true).unwrap();
            metadata
                .apply(&Command::CreateTopic {
                    name: name.to_owned(),
                    id: Uuid::new_v4(),
                    config: crate::cluster::metadata::tests::topic_config(1),
                    replicas: leaders.into_iter().map(|l| vec![l]).collect(),
                })
                .unwrap();
        }
        let counts = metadata.leader_counts();
        assert_eq!(counts.values().collect::<Vec<_>>(), [&2, &2, &2]);
    }

    #[test]
    fn down_nodes_get_nothing_and_too_many_replicas_are_refused() {
        let mut metadata = cluster_of(&[1, 2, 3]);
        metadata
            .apply(&Command::NodeDown { id: 2, now_ms: 5 })
            .unwrap();
        assert_eq!(metadata.nodes[&2].state, NodeState::Down);
        let leaders = place_leaders(&metadata, "events", 8, 1, &|_| true).unwrap();
        assert!(!leaders.contains(&2));
        assert_eq!(per_node(&leaders).values().collect::<Vec<_>>(), [&4, &4]);
        assert_eq!(
            place_leaders(&metadata, "events", 3, 3, &|_| true),
            Err(PlacementError::NotEnoughNodes { wanted: 3, live: 2 })
        );
        let leaders = place_leaders(&metadata, "events", 4, 1, &|n| n != 3).unwrap();
        assert_eq!(
            leaders,
            vec![1, 1, 1, 1],
            "a node not heard from lately gets nothing"
        );
    }

    #[test]
    fn replicas_sit_on_distinct_nodes_and_share_the_load() {
        let metadata = cluster_of(&[1, 2, 3]);
        let replicas = place_replicas(&metadata, "events", 9, 3, &|_| true).unwrap();
        let mut copies = std::collections::BTreeMap::<u64, usize>::new();
        for set in &replicas {
            let mut distinct = set.clone();
            distinct.sort_unstable();
            distinct.dedup();
            assert_eq!(distinct.len(), 3, "{set:?}");
            for node in set {
                *copies.entry(*node).or_default() += 1;
            }
        }
        assert_eq!(copies.values().collect::<Vec<_>>(), [&9, &9, &9]);
        let leaders: Vec<u64> = replicas.iter().map(|set| set[0]).collect();
        assert_eq!(
            per_node(&leaders).values().collect::<Vec<_>>(),
            [&3, &3, &3]
        );
        let two = place_replicas(&metadata, "events", 3, 2, &|_| true).unwrap();
        assert!(two.iter().all(|set| set.len() == 2 && set[0] != set[1]));
    }
}
