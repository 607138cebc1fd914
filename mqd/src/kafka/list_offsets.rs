//! ListOffsets: earliest (-2), latest (-1, the high watermark) and by timestamp, through the
//! broker's `list_offsets`, on the partition's leader.

use super::error_codes::kafka_error;
use super::KafkaState;
use crate::broker::{OffsetSpec, Role};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::{ListOffsetsRequest, ListOffsetsResponse};
use mq_wire::ErrorCode;

const LATEST: i64 = -1;
const EARLIEST: i64 = -2;

pub(super) fn list_offsets(state: &KafkaState, request: ListOffsetsRequest) -> ListOffsetsResponse {
    let broker = &state.app.broker;
    let topics = request
        .topics
        .into_iter()
        .map(|asked| {
            let topic = broker.topic(asked.name.as_str());
            let partitions = asked
                .partitions
                .iter()
                .map(|wanted| {
                    let index = wanted.partition_index;
                    let outcome = topic.as_ref().map_err(|e| e.code()).and_then(|topic| {
                        let spec = match wanted.timestamp {
                            LATEST => OffsetSpec::Latest,
                            EARLIEST => OffsetSpec::Earliest,
                            ts => OffsetSpec::Timestamp(ts),
                        };
                        let at = u32::try_from(index).unwrap_or(u32::MAX);
                        let partition = topic.partition(at).map_err(|e| e.code())?;
                        if partition.role() != Role::Leader {
                            return Err(ErrorCode::NotLeader);
                        }
                        let found = broker
                            .list_offsets(topic, spec, Some(at))
                            .map_err(|e| e.code())?;
                        Ok((
                            found[0].offset,
                            found[0].timestamp,
                            partition.leader_epoch(),
                        ))
                    });
                    match outcome {
                        Ok((offset, timestamp, epoch)) => ListOffsetsPartitionResponse::default()
                            .with_partition_index(index)
                            .with_offset(offset as i64)
                            .with_timestamp(timestamp.unwrap_or(-1))
                            .with_leader_epoch(epoch as i32),
                        Err(code) => ListOffsetsPartitionResponse::default()
                            .with_partition_index(index)
                            .with_error_code(kafka_error(code).code())
                            .with_offset(-1)
                            .with_timestamp(-1),
                    }
                })
                .collect();
            ListOffsetsTopicResponse::default()
                .with_name(asked.name)
                .with_partitions(partitions)
        })
        .collect();
    ListOffsetsResponse::default().with_topics(topics)
}
