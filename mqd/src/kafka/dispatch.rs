//! One request frame to its answer: the header, the version check, the handler, the response
//! header. The response keeps the request's correlation id; a produce with `acks=0` gets none,
//! as Kafka's clients expect.

use super::{
    admin, alter_configs, configs, coordinator, delete_records, fetch, groups, list_offsets,
    metadata, offset_for_leader_epoch, produce, producer_id, refusals, versions, KafkaState,
};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

/// A request this listener will not answer: its connection is closed. An API or version it does
/// not serve is answered with a refusal where the response can carry one (`refusals.rs`).
#[derive(Debug, thiserror::Error)]
pub(super) enum DispatchError {
    #[error("unknown API key {0}")]
    UnknownApi(i16),
    #[error("{api:?} version {version} is not served (ApiVersions lists what is)")]
    Unsupported { api: ApiKey, version: i16 },
    #[error("malformed {api:?} v{version} request: {reason}")]
    Malformed {
        api: ApiKey,
        version: i16,
        reason: String,
    },
    #[error("cannot encode the {api:?} v{version} response: {reason}")]
    Encode {
        api: ApiKey,
        version: i16,
        reason: String,
    },
}

/// The answer to one frame as chunks to write after the size, or `None` when the request wants
/// no answer.
pub(super) async fn answer(
    state: &KafkaState,
    mut frame: Bytes,
) -> Result<Option<Vec<Bytes>>, DispatchError> {
    let key = (&frame[0..2]).get_i16();
    let version = (&frame[2..4]).get_i16();
    let api = ApiKey::try_from(key).map_err(|_| DispatchError::UnknownApi(key))?;
    let malformed = |reason: String| DispatchError::Malformed {
        api,
        version,
        reason,
    };
    if api == ApiKey::ApiVersions && !versions::supported(api, version) {
        // Kafka's rule: the header is read at version 1 whatever the body's version, and the
        // answer is UNSUPPORTED_VERSION with our table at version 0.
        let header = RequestHeader::decode(&mut frame, 1).map_err(|e| malformed(e.to_string()))?;
        let (response, at) = versions::api_versions(version);
        return encode(
            header.correlation_id,
            ResponseKind::ApiVersions(response),
            api,
            at,
        )
        .map(Some);
    }
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(|e| malformed(e.to_string()))?;
    let request =
        RequestKind::decode(api, &mut frame, version).map_err(|e| malformed(e.to_string()))?;
    if !versions::supported(api, version) {
        let Some(refusal) = refusals::refusal(&request, version) else {
            return Err(DispatchError::Unsupported { api, version });
        };
        tracing::debug!(
            ?api,
            version,
            "kafka request refused: not served at this version"
        );
        return encode(header.correlation_id, refusal, api, version).map(Some);
    }
    tracing::trace!(
        ?api,
        version,
        correlation_id = header.correlation_id,
        ?request,
        "kafka request"
    );
    let response = match request {
        RequestKind::ApiVersions(_) => ResponseKind::ApiVersions(versions::api_versions(version).0),
        RequestKind::Metadata(request) => {
            ResponseKind::Metadata(metadata::metadata(state, &request, version))
        }
        RequestKind::Produce(request) => {
            let acks = request.acks;
            let response = produce::produce(state, request, version).await;
            if acks == 0 {
                return Ok(None);
            }
            ResponseKind::Produce(response)
        }
        RequestKind::Fetch(request) => ResponseKind::Fetch(fetch::fetch(state, request).await),
        RequestKind::ListOffsets(request) => {
            ResponseKind::ListOffsets(list_offsets::list_offsets(state, request, version))
        }
        RequestKind::CreateTopics(request) => {
            ResponseKind::CreateTopics(admin::create_topics(state, request).await)
        }
        RequestKind::DeleteTopics(request) => {
            ResponseKind::DeleteTopics(admin::delete_topics(state, request, version).await)
        }
        RequestKind::JoinGroup(request) => {
            let client_id = header.client_id.as_ref().map(|c| c.as_str());
            ResponseKind::JoinGroup(groups::join_group(state, request, client_id).await)
        }
        RequestKind::SyncGroup(request) => {
            ResponseKind::SyncGroup(groups::sync_group(state, &request))
        }
        RequestKind::Heartbeat(request) => {
            ResponseKind::Heartbeat(groups::heartbeat(state, &request))
        }
        RequestKind::LeaveGroup(request) => {
            ResponseKind::LeaveGroup(groups::leave_group(state, &request))
        }
        RequestKind::OffsetCommit(request) => {
            ResponseKind::OffsetCommit(groups::offset_commit(state, request).await)
        }
        RequestKind::OffsetFetch(request) => {
            ResponseKind::OffsetFetch(groups::offset_fetch(state, &request))
        }
        RequestKind::ListGroups(_) => ResponseKind::ListGroups(groups::list_groups(state)),
        RequestKind::DescribeGroups(request) => {
            ResponseKind::DescribeGroups(groups::describe_groups(state, &request).await)
        }
        RequestKind::DeleteGroups(request) => {
            ResponseKind::DeleteGroups(groups::delete_groups(state, &request).await)
        }
        RequestKind::DescribeConfigs(request) => {
            ResponseKind::DescribeConfigs(configs::describe_configs(state, &request))
        }
        RequestKind::DeleteRecords(request) => {
            ResponseKind::DeleteRecords(delete_records::delete_records(state, &request).await)
        }
        RequestKind::AlterConfigs(request) => {
            ResponseKind::AlterConfigs(alter_configs::alter_configs(state, request).await)
        }
        RequestKind::IncrementalAlterConfigs(request) => ResponseKind::IncrementalAlterConfigs(
            alter_configs::incremental_alter_configs(state, request).await,
        ),
        RequestKind::DescribeCluster(_) => {
            ResponseKind::DescribeCluster(configs::describe_cluster(state))
        }
        RequestKind::FindCoordinator(request) => {
            ResponseKind::FindCoordinator(coordinator::find_coordinator(state, &request, version))
        }
        RequestKind::InitProducerId(request) => {
            ResponseKind::InitProducerId(producer_id::init_producer_id(&request))
        }
        RequestKind::OffsetForLeaderEpoch(request) => ResponseKind::OffsetForLeaderEpoch(
            offset_for_leader_epoch::offset_for_leader_epoch(state, request),
        ),
        RequestKind::CreatePartitions(request) => {
            ResponseKind::CreatePartitions(admin::create_partitions(state, &request))
        }
        _ => return Err(DispatchError::Unsupported { api, version }),
    };
    tracing::trace!(?api, ?response, "kafka response");
    encode(header.correlation_id, response, api, version).map(Some)
}

fn encode(
    correlation_id: i32,
    response: ResponseKind,
    api: ApiKey,
    version: i16,
) -> Result<Vec<Bytes>, DispatchError> {
    let failed = |reason: String| DispatchError::Encode {
        api,
        version,
        reason,
    };
    let mut out = BytesMut::new();
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut out, response.header_version(version))
        .map_err(|e| failed(e.to_string()))?;
    response
        .encode(&mut out, version)
        .map_err(|e| failed(e.to_string()))?;
    Ok(vec![out.freeze()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::ResponseError;

    /// A request frame (without its size) with header v1 (v2 when `flexible`) and `body`.
    /// Written out by hand: the codec crate is built without the client side's request encoders.
    fn frame(api: ApiKey, version: i16, flexible: bool, body: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        out.put_i16(api as i16);
        out.put_i16(version);
        out.put_i32(42);
        out.put_i16(-1); // no client id
        if flexible {
            out.put_u8(0); // no tagged fields
        }
        out.put_slice(body);
        out.freeze()
    }

    /// The answer's bytes after the correlation id (checked) and, for `flexible`, the header's
    /// tagged fields.
    async fn ask(frame: Bytes, flexible: bool) -> Bytes {
        let chunks = answer(&KafkaState::for_tests(), frame)
            .await
            .unwrap()
            .expect("an answer");
        let mut bytes = Bytes::from(chunks.concat());
        assert_eq!(bytes.get_i32(), 42, "the correlation id");
        if flexible {
            assert_eq!(bytes.get_u8(), 0, "no tagged fields");
        }
        bytes
    }

    #[tokio::test]
    async fn an_api_not_served_is_answered_with_its_own_refusal() {
        // SaslHandshake v1: the mechanism. Answer: error code, mechanisms.
        let mut body = BytesMut::new();
        body.put_i16(5);
        body.put_slice(b"PLAIN");
        let mut sasl = ask(frame(ApiKey::SaslHandshake, 1, false, &body), false).await;
        assert_eq!(
            sasl.get_i16(),
            ResponseError::UnsupportedSaslMechanism.code()
        );

        // DescribeAcls v1, any ACL: SECURITY_DISABLED, as a broker without an authorizer.
        // Answer: throttle, error code.
        let mut body = BytesMut::new();
        body.put_i8(1); // resource type: any
        body.put_i16(-1); // resource name: null
        body.put_i8(1); // pattern type: any
        body.put_i16(-1); // principal: null
        body.put_i16(-1); // host: null
        body.put_i8(1); // operation: any
        body.put_i8(1); // permission: any
        let mut acls = ask(frame(ApiKey::DescribeAcls, 1, false, &body), false).await;
        let _throttle = acls.get_i32();
        assert_eq!(acls.get_i16(), ResponseError::SecurityDisabled.code());

        // ListGroups v5 (served up to v4): empty states and types filters.
        let mut groups = ask(frame(ApiKey::ListGroups, 5, true, &[1, 1, 0]), true).await;
        let _throttle = groups.get_i32();
        assert_eq!(groups.get_i16(), ResponseError::UnsupportedVersion.code());
    }

    #[tokio::test]
    async fn a_request_with_no_error_to_carry_closes_its_connection() {
        let unknown_key = Bytes::from_static(&[0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0xff, 0xff]);
        assert!(matches!(
            answer(&KafkaState::for_tests(), unknown_key).await,
            Err(DispatchError::UnknownApi(0x7f00))
        ));
        // Produce v13 (topics by id) has no error code outside its partitions.
        let mut body = BytesMut::new();
        body.put_u8(0); // transactional id: null (compact)
        body.put_i16(1); // acks
        body.put_i32(1000); // timeout
        body.put_u8(1); // no topics (compact array)
        body.put_u8(0); // no tagged fields
        assert!(matches!(
            answer(
                &KafkaState::for_tests(),
                frame(ApiKey::Produce, 13, true, &body)
            )
            .await,
            Err(DispatchError::Unsupported { .. })
        ));
    }
}
