//! `mqctl group list|describe|reset-offsets|delete` and `mqctl commit`.

use crate::args::{CommitArgs, GroupCommand, OutputFormat, ResetArgs};
use crate::output::{json_line, table};
use anyhow::{Context, Result};
use mq_wire::api::{CommitRequest, OffsetCommit, ResetOffsetsRequest, ResetTo};
use mqctl::Client;

fn name_of<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub async fn run(client: &Client, command: GroupCommand, format: OutputFormat) -> Result<()> {
    match command {
        GroupCommand::List => {
            let list = client.list_groups().await.context("group list")?;
            match format {
                OutputFormat::Json => list.groups.iter().for_each(json_line),
                OutputFormat::Table => table(
                    &["GROUP", "STATE", "MEMBERS", "GENERATION"],
                    list.groups
                        .iter()
                        .map(|g| {
                            vec![
                                g.group.clone(),
                                name_of(&g.state),
                                g.members.to_string(),
                                g.generation.to_string(),
                            ]
                        })
                        .collect(),
                ),
            }
        }
        GroupCommand::Describe { group } => {
            let described = client
                .describe_group(&group)
                .await
                .with_context(|| format!("group describe {group}"))?;
            match format {
                OutputFormat::Json => json_line(&described),
                OutputFormat::Table => {
                    println!(
                        "group {}: {}, generation {}, {} member(s), strategy {}",
                        described.group,
                        name_of(&described.state),
                        described.generation,
                        described.members.len(),
                        name_of(&described.strategy)
                    );
                    table(
                        &[
                            "TOPIC",
                            "PARTITION",
                            "CURRENT-OFFSET",
                            "LOG-END-OFFSET",
                            "LAG",
                            "CONSUMER-ID",
                        ],
                        described
                            .offsets
                            .iter()
                            .map(|o| {
                                vec![
                                    o.topic.clone(),
                                    o.partition.to_string(),
                                    o.committed_offset.map_or("-".to_owned(), |c| c.to_string()),
                                    o.log_end_offset.to_string(),
                                    o.lag.to_string(),
                                    o.member_id.clone().unwrap_or_else(|| "-".to_owned()),
                                ]
                            })
                            .collect(),
                    );
                }
            }
        }
        GroupCommand::ResetOffsets(args) => reset(client, args, format).await?,
        GroupCommand::Delete { group } => {
            let deleted = client
                .delete_group(&group)
                .await
                .with_context(|| format!("group delete {group}"))?;
            match format {
                OutputFormat::Json => json_line(&deleted),
                OutputFormat::Table => println!("deleted group {group}"),
            }
        }
    }
    Ok(())
}

async fn reset(client: &Client, args: ResetArgs, format: OutputFormat) -> Result<()> {
    let to = if args.to_earliest {
        ResetTo::Earliest
    } else if args.to_latest {
        ResetTo::Latest
    } else if let Some(offset) = args.to_offset {
        ResetTo::Offset(offset)
    } else {
        ResetTo::ShiftBy(args.shift_by.unwrap_or(0))
    };
    let request = ResetOffsetsRequest {
        topic: args.topic.clone(),
        partitions: args.partitions.clone(),
        to,
        execute: args.execute,
    };
    let answer = client
        .reset_offsets(&args.group, &request)
        .await
        .with_context(|| format!("group reset-offsets {}", args.group))?;
    match format {
        OutputFormat::Json => json_line(&answer),
        OutputFormat::Table => {
            table(
                &["TOPIC", "PARTITION", "CURRENT-OFFSET", "NEW-OFFSET"],
                answer
                    .plan
                    .iter()
                    .map(|e| {
                        vec![
                            e.topic.clone(),
                            e.partition.to_string(),
                            e.current_offset.map_or("-".to_owned(), |c| c.to_string()),
                            e.new_offset.to_string(),
                        ]
                    })
                    .collect(),
            );
            if !answer.executed {
                println!("dry run: nothing changed; add --execute to apply");
            }
        }
    }
    Ok(())
}

pub async fn commit(client: &Client, args: CommitArgs, format: OutputFormat) -> Result<()> {
    let request = CommitRequest {
        member_id: None,
        generation: None,
        offsets: vec![OffsetCommit {
            topic: args.topic.clone(),
            partition: args.partition,
            offset: args.offset,
            metadata: None,
        }],
    };
    let context = || {
        format!(
            "commit --group {} {} {} {}",
            args.group, args.topic, args.partition, args.offset
        )
    };
    let answer = client
        .commit(&args.group, &request)
        .await
        .with_context(context)?;
    match format {
        OutputFormat::Json => json_line(&answer),
        OutputFormat::Table => println!(
            "committed offset {} of {}/{} for group {}",
            args.offset, args.topic, args.partition, args.group
        ),
    }
    Ok(())
}
