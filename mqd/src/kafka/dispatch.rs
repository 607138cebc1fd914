//! One request frame to its answer: the header, the version check, the handler, the response
//! header. The response keeps the request's correlation id; a produce with `acks=0` gets none,
//! as Kafka's clients expect.

use super::{
    admin, configs, coordinator, fetch, groups, list_offsets, metadata, produce, producer_id,
    versions, KafkaState,
};
use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable};

/// A request this listener will not answer: its connection is closed.
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
    if !versions::supported(api, version) {
        return Err(DispatchError::Unsupported { api, version });
    }
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version))
        .map_err(|e| malformed(e.to_string()))?;
    let request =
        RequestKind::decode(api, &mut frame, version).map_err(|e| malformed(e.to_string()))?;
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
        RequestKind::DescribeCluster(_) => {
            ResponseKind::DescribeCluster(configs::describe_cluster(state))
        }
        RequestKind::FindCoordinator(request) => {
            ResponseKind::FindCoordinator(coordinator::find_coordinator(state, &request, version))
        }
        RequestKind::InitProducerId(request) => {
            ResponseKind::InitProducerId(producer_id::init_producer_id(&request))
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
