//! Answers for requests this listener does not serve: an API it does not list in ApiVersions, or
//! a version outside what it lists. Kafka's clients only send what ApiVersions offered, but tools
//! and older clients do not always ask first; they get the API's own response carrying
//! `UNSUPPORTED_VERSION` (for SASL, `UNSUPPORTED_SASL_MECHANISM`; for ACLs, `SECURITY_DISABLED`,
//! as a Kafka broker without an authorizer answers), in the top-level error code or in each
//! resource's. The requests that have neither (the brokers' and controllers' own APIs) are not
//! answered: their connection is closed with a log line, which is what Kafka does for any API it
//! does not expose.

use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

/// `XResponse::default()` with its top-level error code set, for the APIs listed, when the
/// version asked has that field (the ranges are the codec's): at another version the error
/// would be dropped and the answer would read as a success.
macro_rules! top_level_error {
    ($request:expr, $version:expr, $code:expr,
     [$($kind:ident => $response:ident ($from:literal..=$to:literal)),* $(,)?]) => {
        match $request {
            $(RequestKind::$kind(_) if ($from..=$to).contains(&$version) => {
                Some(ResponseKind::$kind($response::default().with_error_code($code)))
            })*
            _ => None,
        }
    };
}

/// The refusal of `request` at `version`, or `None` when its response has no error code there to
/// carry one.
pub(super) fn refusal(request: &RequestKind, version: i16) -> Option<ResponseKind> {
    let unsupported = ResponseError::UnsupportedVersion.code();
    let refused = match request {
        RequestKind::SaslHandshake(_) => ResponseKind::SaslHandshake(
            SaslHandshakeResponse::default()
                .with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
        ),
        RequestKind::SaslAuthenticate(_) => ResponseKind::SaslAuthenticate(
            SaslAuthenticateResponse::default()
                .with_error_code(ResponseError::UnsupportedSaslMechanism.code()),
        ),
        RequestKind::DescribeAcls(_) => ResponseKind::DescribeAcls(
            DescribeAclsResponse::default().with_error_code(ResponseError::SecurityDisabled.code()),
        ),
        other => {
            return top_level_error!(other, version, unsupported, [
                // Served APIs asked at a version not served, where that version has the field.
                Fetch => FetchResponse(7..=18),
                Metadata => MetadataResponse(13..=13),
                FindCoordinator => FindCoordinatorResponse(0..=3),
                OffsetFetch => OffsetFetchResponse(2..=7),
                JoinGroup => JoinGroupResponse(0..=9),
                SyncGroup => SyncGroupResponse(0..=5),
                Heartbeat => HeartbeatResponse(0..=4),
                LeaveGroup => LeaveGroupResponse(0..=5),
                ListGroups => ListGroupsResponse(0..=5),
                InitProducerId => InitProducerIdResponse(0..=6),
                DescribeCluster => DescribeClusterResponse(0..=2),
                // APIs not served.
                ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse(0..=1),
                ShareGroupHeartbeat => ShareGroupHeartbeatResponse(1..=1),
                ShareFetch => ShareFetchResponse(1..=1),
                ShareAcknowledge => ShareAcknowledgeResponse(1..=1),
                OffsetDelete => OffsetDeleteResponse(0..=0),
                AddOffsetsToTxn => AddOffsetsToTxnResponse(0..=4),
                AddPartitionsToTxn => AddPartitionsToTxnResponse(4..=5),
                EndTxn => EndTxnResponse(0..=5),
                ListTransactions => ListTransactionsResponse(0..=2),
                DescribeLogDirs => DescribeLogDirsResponse(3..=4),
                ElectLeaders => ElectLeadersResponse(1..=2),
                AlterPartitionReassignments => AlterPartitionReassignmentsResponse(0..=1),
                ListPartitionReassignments => ListPartitionReassignmentsResponse(0..=0),
                DescribeClientQuotas => DescribeClientQuotasResponse(0..=1),
                DescribeUserScramCredentials => DescribeUserScramCredentialsResponse(0..=0),
                CreateDelegationToken => CreateDelegationTokenResponse(1..=3),
                RenewDelegationToken => RenewDelegationTokenResponse(1..=2),
                ExpireDelegationToken => ExpireDelegationTokenResponse(1..=2),
                DescribeDelegationToken => DescribeDelegationTokenResponse(1..=3),
                UpdateFeatures => UpdateFeaturesResponse(0..=2),
                DescribeQuorum => DescribeQuorumResponse(0..=2),
                GetTelemetrySubscriptions => GetTelemetrySubscriptionsResponse(0..=0),
                PushTelemetry => PushTelemetryResponse(0..=0),
                ListConfigResources => ListConfigResourcesResponse(0..=1),
            ]);
        }
    };
    Some(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_made_only_where_the_version_asked_can_carry_its_error() {
        let cases = [
            (RequestKind::Metadata(MetadataRequest::default()), 0, false),
            (RequestKind::Metadata(MetadataRequest::default()), 13, true),
            (
                RequestKind::FindCoordinator(FindCoordinatorRequest::default()),
                5,
                false,
            ),
            (
                RequestKind::OffsetFetch(OffsetFetchRequest::default()),
                8,
                false,
            ),
            (
                RequestKind::ElectLeaders(ElectLeadersRequest::default()),
                0,
                false,
            ),
            (
                RequestKind::ElectLeaders(ElectLeadersRequest::default()),
                1,
                true,
            ),
            (
                RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
                2,
                false,
            ),
            (
                RequestKind::DescribeLogDirs(DescribeLogDirsRequest::default()),
                3,
                true,
            ),
            (RequestKind::Fetch(FetchRequest::default()), 13, true),
        ];
        for (request, version, answered) in cases {
            let refusal = refusal(&request, version);
            assert_eq!(refusal.is_some(), answered, "{request:?} v{version}");
            if let Some(refusal) = refusal {
                let mut out = bytes::BytesMut::new();
                refusal
                    .encode(&mut out, version)
                    .unwrap_or_else(|e| panic!("{request:?} v{version}: {e}"));
            }
        }
    }
}
