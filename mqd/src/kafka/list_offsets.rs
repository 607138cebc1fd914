//! ListOffsets: earliest (-2), latest (-1, the high watermark) and by timestamp (the first
//! record at or after it below the high watermark; -1 and -1 when there is none), through the
//! broker's `list_offsets`, on the partition's leader. A leader elected so recently that its high
//! watermark lags its election answers latest with `OFFSET_NOT_AVAILABLE` (KIP-207). Other
//! negative specs (-3, the largest timestamp, from v7) are refused with `INVALID_REQUEST`.

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

pub(super) fn list_offsets(
    state: &KafkaState,
    request: ListOffsetsRequest,
    version: i16,
) -> ListOffsetsResponse {
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
                            ts if ts >= 0 => OffsetSpec::Timestamp(ts),
                            _ => return Err(ErrorCode::InvalidRequest),
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
                        // A timestamp past every record: Kafka answers -1 and -1.
                        Ok((_, None, _)) if wanted.timestamp >= 0 => {
                            ListOffsetsPartitionResponse::default()
                                .with_partition_index(index)
                                .with_offset(-1)
                                .with_timestamp(-1)
                        }
                        Ok((offset, timestamp, epoch)) => ListOffsetsPartitionResponse::default()
                            .with_partition_index(index)
                            .with_offset(offset as i64)
                            .with_timestamp(timestamp.unwrap_or(-1))
                            // The field exists from version 4.
                            .with_leader_epoch(if version >= 4 { epoch as i32 } else { -1 }),
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
