//! The APIs this listener serves and at which versions (what ApiVersions answers). A version is
//! listed only when its handler fills every field that version has; versions that name topics by
//! id instead of by name (Fetch 13+, Produce 13+) are left out.

use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse};
use kafka_protocol::ResponseError;

/// `(api, min, max)`, in key order.
pub(super) const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 9),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Metadata, 1, 12),
    (ApiKey::OffsetCommit, 2, 8),
    (ApiKey::OffsetFetch, 1, 7),
    (ApiKey::FindCoordinator, 0, 4),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 5),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
];

/// Whether `version` of `api` is served here.
pub(super) fn supported(api: ApiKey, version: i16) -> bool {
    SUPPORTED
        .iter()
        .any(|&(key, min, max)| key == api && (min..=max).contains(&version))
}

/// ApiVersions: the table above. A client that asked at a version newer than ours gets
/// `UNSUPPORTED_VERSION` with the table, encoded at version 0, as Kafka answers, and asks again.
pub(super) fn api_versions(asked_version: i16) -> (ApiVersionsResponse, i16) {
    let api_keys = SUPPORTED
        .iter()
        .map(|&(key, min, max)| {
            ApiVersion::default()
                .with_api_key(key as i16)
                .with_min_version(min)
                .with_max_version(max)
        })
        .collect();
    let response = ApiVersionsResponse::default().with_api_keys(api_keys);
    if supported(ApiKey::ApiVersions, asked_version) {
        (response, asked_version)
    } else {
        (
            response.with_error_code(ResponseError::UnsupportedVersion.code()),
            0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_version_is_one_the_codec_knows() {
        for &(key, min, max) in SUPPORTED {
            let known = key.valid_versions();
            assert!(
                known.min <= min && max <= known.max,
                "{key:?} {min}..={max} outside {known:?}"
            );
        }
    }

    #[test]
    fn a_newer_api_versions_is_answered_at_version_0_with_unsupported_version() {
        let (answer, version) = api_versions(99);
        assert_eq!(version, 0);
        assert_eq!(answer.error_code, ResponseError::UnsupportedVersion.code());
        assert!(answer
            .api_keys
            .iter()
            .any(|k| k.api_key == ApiKey::Fetch as i16));
        let (answer, version) = api_versions(3);
        assert_eq!((answer.error_code, version), (0, 3));
    }
}
