//! `mqctl cluster status` and `mqctl health`.

use crate::args::OutputFormat;
use crate::output::{json_line, table};
use anyhow::{Context, Result};
use mqctl::Client;

pub async fn status(client: &Client, format: OutputFormat) -> Result<()> {
    let status = client.cluster_status().await.context("cluster status")?;
    match format {
        OutputFormat::Json => status.nodes.iter().for_each(json_line),
        OutputFormat::Table => {
            table(
                &[
                    "NODE", "ADDRESS", "ROLE", "STATE", "SINCE", "LEADS", "FOLLOWS",
                ],
                status
                    .nodes
                    .iter()
                    .map(|n| {
                        let role = serde_json::to_value(n.role).ok();
                        vec![
                            n.id.to_string(),
                            n.address.clone(),
                            role.and_then(|r| r.as_str().map(str::to_owned))
                                .unwrap_or_default(),
                            n.state.clone(),
                            n.since.clone().unwrap_or_else(|| "-".to_owned()),
                            n.partitions_led.to_string(),
                            n.partitions_followed.to_string(),
                        ]
                    })
                    .collect(),
            );
            println!(
                "under-replicated partitions: {}, offline partitions: {}",
                status.under_replicated_partitions, status.offline_partitions
            );
        }
    }
    Ok(())
}

pub async fn health(client: &Client, format: OutputFormat) -> Result<()> {
    let answer = client.health().await.context("health")?;
    match format {
        OutputFormat::Json => json_line(&serde_json::json!({"health": answer})),
        OutputFormat::Table => println!("{answer}"),
    }
    Ok(())
}
