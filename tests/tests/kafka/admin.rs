//! Administration through Kafka: topic configs altered (AlterConfigs and its incremental form)
//! and records deleted (DeleteRecords), each seen through the HTTP API too.

use crate::client::*;
use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::json;

/// `kafka-configs --alter` and admin clients change a topic's configs: AlterConfigs through
/// librdkafka's admin client (the whole config: what it leaves out goes back to its default),
/// IncrementalAlterConfigs v0 in a raw frame (SET one, DELETE another). The change is the topic's
/// own, so the HTTP API shows it too; a config mq does not alter is refused with INVALID_CONFIG.
#[test]
fn topic_configs_are_altered_through_kafka() {
    use rdkafka::admin::{AlterConfig, ResourceSpecifier};
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "tuned", 1);
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let default_retention = mqd.get("/v1/topics/tuned").body["config"]["retention_ms"].clone();

    let alter = AlterConfig::new(ResourceSpecifier::Topic("tuned"))
        .set("retention.ms", "60000")
        .set("retention.bytes", "1048576");
    let altered = runtime()
        .block_on(admin.alter_configs(&[alter], &AdminOptions::new()))
        .expect("AlterConfigs answered");
    assert!(altered[0].is_ok(), "{altered:?}");
    let config = &mqd.get("/v1/topics/tuned").body["config"];
    assert_eq!(
        (
            config["retention_ms"].as_u64(),
            config["retention_bytes"].as_u64()
        ),
        (Some(60_000), Some(1 << 20))
    );
    let described = runtime()
        .block_on(
            admin.describe_configs(&[ResourceSpecifier::Topic("tuned")], &AdminOptions::new()),
        )
        .expect("DescribeConfigs answered");
    let described = described[0].as_ref().expect("the topic's configs");
    let retention = described.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("60000"));
    assert!(!retention.is_read_only, "alterable: {retention:?}");
    assert_eq!(
        retention.source,
        rdkafka::admin::ConfigSource::DynamicTopic,
        "set for the topic"
    );
    let segment = described.get("segment.bytes").expect("segment.bytes");
    assert!(segment.is_read_only, "{segment:?}");

    // A config mq does not alter, in a raw AlterConfigs v0 (the rdkafka crate drops the
    // per-resource error): INVALID_CONFIG (40) with a message naming it.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // one resource
    body.push(2); // a topic
    body.extend_from_slice(b"\x00\x05tuned");
    body.extend_from_slice(&1i32.to_be_bytes()); // one config
    body.extend_from_slice(b"\x00\x0dsegment.bytes");
    body.extend_from_slice(b"\x00\x041024");
    body.push(0); // validate_only
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    let answer = exchange(&mut socket, 33, 0, &body);
    // Correlation id, throttle, one resource: error code, message.
    assert_eq!(answer[8..12], 1i32.to_be_bytes(), "{answer:?}");
    assert_eq!(
        i16::from_be_bytes([answer[12], answer[13]]),
        40,
        "{answer:?}"
    );
    assert!(
        String::from_utf8_lossy(&answer).contains("segment.bytes=1024"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(
        mqd.get("/v1/topics/tuned").body["config"]["retention_ms"],
        60_000,
        "a refused alter changes nothing"
    );

    // IncrementalAlterConfigs v0: topic "tuned", SET retention.bytes=-1 (unlimited), DELETE
    // retention.ms (back to the node's default), validate_only false.
    let mut body = Vec::new();
    body.extend_from_slice(&1i32.to_be_bytes()); // one resource
    body.push(2); // a topic
    body.extend_from_slice(b"\x00\x05tuned");
    body.extend_from_slice(&2i32.to_be_bytes()); // two configs
    body.extend_from_slice(b"\x00\x0fretention.bytes");
    body.push(0); // SET
    body.extend_from_slice(b"\x00\x02-1");
    body.extend_from_slice(b"\x00\x0cretention.ms");
    body.push(1); // DELETE
    body.extend_from_slice(&(-1i16).to_be_bytes()); // null value
    body.push(0); // validate_only
    let answer = exchange(&mut socket, 44, 0, &body);
    // Correlation id, throttle, one resource: error code 0.
    assert_eq!(answer[8..12], 1i32.to_be_bytes(), "{answer:?}");
    assert_eq!(
        i16::from_be_bytes([answer[12], answer[13]]),
        0,
        "{answer:?}"
    );
    let config = &mqd.get("/v1/topics/tuned").body["config"];
    assert_eq!(config["retention_bytes"], 0, "unlimited");
    assert_eq!(config["retention_ms"], default_retention);
}

/// DeleteRecords through librdkafka's admin client (`kafka-delete-records`): the low watermark it
/// answers is the partition's new log start, over HTTP too; `Offset::End` deletes up to the high
/// watermark.
#[test]
fn records_are_deleted_through_kafka() {
    let (mqd, bootstrap) = start();
    create_topic(&bootstrap, "purged", 2);
    for partition in 0..2 {
        let records: Vec<_> = (0..10).map(|i| json!({"value": format!("v{i}")})).collect();
        let produced = mqd.post(
            &format!("/v1/topics/purged/partitions/{partition}/records"),
            &json!({ "records": records }),
        );
        assert_eq!(produced.status, 200, "{:?}", produced.body);
    }
    let admin: AdminClient<DefaultClientContext> = client_config(&bootstrap).create().unwrap();
    let mut offsets = TopicPartitionList::new();
    offsets
        .add_partition_offset("purged", 0, Offset::Offset(4))
        .unwrap();
    offsets
        .add_partition_offset("purged", 1, Offset::End)
        .unwrap();
    let deleted = runtime()
        .block_on(admin.delete_records(&offsets, &AdminOptions::new()))
        .expect("DeleteRecords answered");
    let low: Vec<(i32, Offset)> = deleted
        .elements()
        .iter()
        .map(|e| {
            assert!(e.error().is_ok(), "{e:?}");
            (e.partition(), e.offset())
        })
        .collect();
    assert_eq!(low, [(0, Offset::Offset(4)), (1, Offset::Offset(10))]);
    let described = mqd.get("/v1/topics/purged").body;
    assert_eq!(described["partitions"][0]["log_start"], 4);
    assert_eq!(described["partitions"][1]["log_start"], 10);

    let mut past = TopicPartitionList::new();
    past.add_partition_offset("purged", 0, Offset::Offset(11))
        .unwrap();
    let refused = runtime()
        .block_on(admin.delete_records(&past, &AdminOptions::new()))
        .expect("DeleteRecords answered");
    assert_eq!(
        refused.elements()[0].error(),
        Err(rdkafka::error::KafkaError::OffsetFetch(
            rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange
        )),
        "past the high watermark: {refused:?}"
    );
    assert_eq!(
        mqd.get("/v1/topics/purged").body["partitions"][0]["log_start"],
        4
    );
}
