//! `mqctl topic create|list|describe|alter|delete-records|delete`.

use crate::args::{OutputFormat, TopicCommand};
use crate::output::{bytes, json_line, table};
use anyhow::{Context, Result};
use mq_wire::api::{AlterTopicConfigRequest, CreateTopicRequest, DiscardPolicy, TopicDescription};
use mqctl::Client;

pub async fn run(client: &Client, command: TopicCommand, format: OutputFormat) -> Result<()> {
    match command {
        TopicCommand::Create {
            name,
            partitions,
            replication_factor,
            min_insync_replicas,
            unclean_leader_election,
            retention,
            retention_bytes,
            discard,
        } => {
            let request = CreateTopicRequest {
                name: name.clone(),
                partitions,
                replication_factor,
                min_insync_replicas,
                unclean_leader_election: unclean_leader_election.then_some(true),
                retention_ms: retention.map(|d| d.as_millis() as u64),
                retention_bytes,
                discard: discard.map(Into::into),
            };
            let created = client
                .create_topic(&request)
                .await
                .with_context(|| format!("topic create {name}"))?;
            match format {
                OutputFormat::Json => json_line(&created),
                OutputFormat::Table => println!(
                    "created topic {} with {} partition(s)",
                    created.name, created.config.partitions
                ),
            }
        }
        TopicCommand::List => {
            let list = client.list_topics().await.context("topic list")?;
            match format {
                OutputFormat::Json => list.topics.iter().for_each(json_line),
                OutputFormat::Table => table(
                    &["TOPIC", "PARTITIONS", "REPLICATION", "RECORDS", "SIZE"],
                    list.topics
                        .iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.partitions.to_string(),
                                t.replication_factor.to_string(),
                                t.records.to_string(),
                                bytes(t.bytes),
                            ]
                        })
                        .collect(),
                ),
            }
        }
        TopicCommand::Describe { name } => {
            let topic = client
                .describe_topic(&name)
                .await
                .with_context(|| format!("topic describe {name}"))?;
            match format {
                OutputFormat::Json => json_line(&topic),
                OutputFormat::Table => describe_table(&topic),
            }
        }
        TopicCommand::Alter {
            name,
            min_insync_replicas,
            unclean_leader_election,
            retention,
            retention_bytes,
            discard,
        } => {
            let changes = AlterTopicConfigRequest {
                min_insync_replicas,
                unclean_leader_election,
                retention_ms: retention.map(|d| d.as_millis() as u64),
                retention_bytes,
                discard: discard.map(Into::into),
            };
            let altered = client
                .alter_topic_config(&name, &changes)
                .await
                .with_context(|| format!("topic alter {name}"))?;
            match format {
                OutputFormat::Json => json_line(&altered),
                OutputFormat::Table => describe_table(&altered),
            }
        }
        TopicCommand::DeleteRecords {
            name,
            partition,
            before,
        } => {
            let deleted = client
                .delete_records(&name, partition, before)
                .await
                .with_context(|| format!("topic delete-records {name}"))?;
            match format {
                OutputFormat::Json => json_line(&deleted),
                OutputFormat::Table => println!(
                    "{name}/{partition} now starts at offset {}",
                    deleted.log_start
                ),
            }
        }
        TopicCommand::Delete { name } => {
            let deleted = client
                .delete_topic(&name)
                .await
                .with_context(|| format!("topic delete {name}"))?;
            match format {
                OutputFormat::Json => json_line(&deleted),
                OutputFormat::Table => println!("deleted topic {name}"),
            }
        }
    }
    Ok(())
}

fn describe_table(topic: &TopicDescription) {
    let config = &topic.config;
    let retention = if config.retention_ms == 0 {
        "forever".to_owned()
    } else {
        humantime::format_duration(std::time::Duration::from_millis(config.retention_ms))
            .to_string()
    };
    println!(
        "topic {}: {} partition(s), replication {} (min in-sync {}{}), retention {}, retention bytes {}, discard {}",
        topic.name,
        config.partitions,
        config.replication_factor,
        config.min_insync_replicas,
        if config.unclean_leader_election {
            ", unclean elections"
        } else {
            ""
        },
        retention,
        if config.retention_bytes == 0 {
            "unlimited".to_owned()
        } else {
            bytes(config.retention_bytes)
        },
        match config.discard {
            DiscardPolicy::New => "new (refuse when memory is full)",
            DiscardPolicy::Old => "old (evict oldest when memory is full)",
        }
    );
    let join = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(",");
    table(
        &[
            "PARTITION",
            "LEADER",
            "EPOCH",
            "REPLICAS",
            "ISR",
            "LOG-START",
            "LOG-END",
            "HIGH-WATERMARK",
            "SIZE",
        ],
        topic
            .partitions
            .iter()
            .map(|p| {
                vec![
                    p.partition.to_string(),
                    p.leader.to_string(),
                    p.leader_epoch.to_string(),
                    join(&p.replicas),
                    join(&p.isr),
                    p.log_start.to_string(),
                    p.log_end.to_string(),
                    p.high_watermark.to_string(),
                    bytes(p.bytes),
                ]
            })
            .collect(),
    );
}
