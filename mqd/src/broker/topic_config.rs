//! Changing a topic's settings after creation: which settings may change and what they may
//! become. The one rule both a node alone ([`super::Broker::alter_topic_config`]) and the
//! cluster's metadata (`Command::AlterTopicConfig`) apply.

use mq_wire::api::{AlterTopicConfigRequest, TopicConfig};

/// Why a change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidConfigChange {
    #[error("the request changes nothing: name at least one of min_insync_replicas, unclean_leader_election, retention_ms, retention_bytes, discard")]
    Empty,
    #[error("min_insync_replicas must be between 1 and the topic's replication_factor ({replication_factor}), not {asked}")]
    MinInsyncOutOfRange { asked: u32, replication_factor: u32 },
}

/// `current` with `changes` applied. The partition count and replication factor never change.
pub fn altered(
    current: &TopicConfig,
    changes: &AlterTopicConfigRequest,
) -> Result<TopicConfig, InvalidConfigChange> {
    if changes.is_empty() {
        return Err(InvalidConfigChange::Empty);
    }
    let mut config = current.clone();
    if let Some(min_insync) = changes.min_insync_replicas {
        if min_insync == 0 || min_insync > config.replication_factor {
            return Err(InvalidConfigChange::MinInsyncOutOfRange {
                asked: min_insync,
                replication_factor: config.replication_factor,
            });
        }
        config.min_insync_replicas = min_insync;
    }
    if let Some(unclean) = changes.unclean_leader_election {
        config.unclean_leader_election = unclean;
    }
    if let Some(retention_ms) = changes.retention_ms {
        config.retention_ms = retention_ms;
    }
    if let Some(retention_bytes) = changes.retention_bytes {
        config.retention_bytes = retention_bytes;
    }
    if let Some(discard) = changes.discard {
        config.discard = discard;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mq_wire::api::DiscardPolicy;

    fn three_replicas() -> TopicConfig {
        TopicConfig {
            partitions: 4,
            replication_factor: 3,
            retention_ms: 1_000,
            retention_bytes: 0,
            segment_bytes: 1 << 20,
            discard: DiscardPolicy::New,
            min_insync_replicas: 1,
            unclean_leader_election: false,
        }
    }

    #[test]
    fn named_settings_change_and_the_rest_stay() {
        let current = three_replicas();
        let changes = AlterTopicConfigRequest {
            min_insync_replicas: Some(2),
            retention_bytes: Some(4096),
            discard: Some(DiscardPolicy::Old),
            ..Default::default()
        };
        let config = altered(&current, &changes).unwrap();
        assert_eq!(
            config,
            TopicConfig {
                min_insync_replicas: 2,
                retention_bytes: 4096,
                discard: DiscardPolicy::Old,
                ..current.clone()
            }
        );
        let changes = AlterTopicConfigRequest {
            unclean_leader_election: Some(true),
            retention_ms: Some(0),
            ..Default::default()
        };
        let config = altered(&config, &changes).unwrap();
        assert!(config.unclean_leader_election);
        assert_eq!(config.retention_ms, 0);
        assert_eq!((config.partitions, config.replication_factor), (4, 3));
    }

    #[test]
    fn min_insync_stays_within_the_replication_factor() {
        let current = three_replicas();
        for asked in [0, 4] {
            let changes = AlterTopicConfigRequest {
                min_insync_replicas: Some(asked),
                ..Default::default()
            };
            assert_eq!(
                altered(&current, &changes),
                Err(InvalidConfigChange::MinInsyncOutOfRange {
                    asked,
                    replication_factor: 3
                })
            );
        }
        let changes = AlterTopicConfigRequest {
            min_insync_replicas: Some(3),
            ..Default::default()
        };
        assert_eq!(altered(&current, &changes).unwrap().min_insync_replicas, 3);
    }

    #[test]
    fn a_change_of_nothing_is_refused() {
        assert_eq!(
            altered(&three_replicas(), &AlterTopicConfigRequest::default()),
            Err(InvalidConfigChange::Empty)
        );
    }
}
