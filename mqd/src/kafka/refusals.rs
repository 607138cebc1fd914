//! Answers for requests this listener does not serve: an API it does not list in ApiVersions, or
//! a version outside what it lists. Kafka's clients only send what ApiVersions offered, but tools
//! and older clients do not always ask first; they get the API's own response carrying
//! `UNSUPPORTED_VERSION` (for SASL, `UNSUPPORTED_SASL_MECHANISM`; for ACLs, `SECURITY_DISABLED`,
//! as a Kafka broker without an authorizer answers), in the top-level error code or in each
//! resource's. The requests that have neither (the brokers' and controllers' own APIs) are not
//! answered: their connection is closed with a log line, which is what Kafka does for any API it
//! does not expose.

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::delete_records_response::{
    DeleteRecordsPartitionResult, DeleteRecordsTopicResult,
};
use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as IncrementalResourceResponse;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

/// Why configs cannot be altered here.
const FIXED_CONFIGS: &str = "mq sets a topic's configs when it is created; they cannot be altered";

/// `XResponse::default()` with its top-level error code set, for the APIs listed.
macro_rules! top_level_error {
    ($request:expr, $code:expr, [$($kind:ident => $response:ident),* $(,)?]) => {
        match $request {
            $(RequestKind::$kind(_) => {
                Some(ResponseKind::$kind($response::default().with_error_code($code)))
            })*
            _ => None,
        }
    };
}

/// The refusal of `request`, or `None` when its response has no error code to carry one.
pub(super) fn refusal(request: &RequestKind) -> Option<ResponseKind> {
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
        RequestKind::AlterConfigs(request) => ResponseKind::AlterConfigs(
            AlterConfigsResponse::default().with_responses(
                request
                    .resources
                    .iter()
                    .map(|r| {
                        AlterConfigsResourceResponse::default()
                            .with_resource_type(r.resource_type)
                            .with_resource_name(r.resource_name.clone())
                            .with_error_code(unsupported)
                            .with_error_message(Some(FIXED_CONFIGS.into()))
                    })
                    .collect(),
            ),
        ),
        RequestKind::IncrementalAlterConfigs(request) => ResponseKind::IncrementalAlterConfigs(
            IncrementalAlterConfigsResponse::default().with_responses(
                request
                    .resources
                    .iter()
                    .map(|r| {
                        IncrementalResourceResponse::default()
                            .with_resource_type(r.resource_type)
                            .with_resource_name(r.resource_name.clone())
                            .with_error_code(unsupported)
                            .with_error_message(Some(FIXED_CONFIGS.into()))
                    })
                    .collect(),
            ),
        ),
        RequestKind::DeleteRecords(request) => ResponseKind::DeleteRecords(
            DeleteRecordsResponse::default().with_topics(
                request
                    .topics
                    .iter()
                    .map(|t| {
                        let partitions = t.partitions.iter().map(|p| {
                            DeleteRecordsPartitionResult::default()
                                .with_partition_index(p.partition_index)
                                .with_low_watermark(-1)
                                .with_error_code(unsupported)
                        });
                        DeleteRecordsTopicResult::default()
                            .with_name(t.name.clone())
                            .with_partitions(partitions.collect())
                    })
                    .collect(),
            ),
        ),
        other => {
            return top_level_error!(other, unsupported, [
                // Served APIs asked at a version not served (where that version has the field).
                Fetch => FetchResponse,
                Metadata => MetadataResponse,
                FindCoordinator => FindCoordinatorResponse,
                OffsetFetch => OffsetFetchResponse,
                JoinGroup => JoinGroupResponse,
                SyncGroup => SyncGroupResponse,
                Heartbeat => HeartbeatResponse,
                LeaveGroup => LeaveGroupResponse,
                ListGroups => ListGroupsResponse,
                InitProducerId => InitProducerIdResponse,
                DescribeCluster => DescribeClusterResponse,
                // APIs not served.
                ConsumerGroupHeartbeat => ConsumerGroupHeartbeatResponse,
                ShareGroupHeartbeat => ShareGroupHeartbeatResponse,
                ShareFetch => ShareFetchResponse,
                ShareAcknowledge => ShareAcknowledgeResponse,
                OffsetDelete => OffsetDeleteResponse,
                AddOffsetsToTxn => AddOffsetsToTxnResponse,
                AddPartitionsToTxn => AddPartitionsToTxnResponse,
                EndTxn => EndTxnResponse,
                ListTransactions => ListTransactionsResponse,
                DescribeLogDirs => DescribeLogDirsResponse,
                ElectLeaders => ElectLeadersResponse,
                AlterPartitionReassignments => AlterPartitionReassignmentsResponse,
                ListPartitionReassignments => ListPartitionReassignmentsResponse,
                DescribeClientQuotas => DescribeClientQuotasResponse,
                DescribeUserScramCredentials => DescribeUserScramCredentialsResponse,
                CreateDelegationToken => CreateDelegationTokenResponse,
                RenewDelegationToken => RenewDelegationTokenResponse,
                ExpireDelegationToken => ExpireDelegationTokenResponse,
                DescribeDelegationToken => DescribeDelegationTokenResponse,
                UpdateFeatures => UpdateFeaturesResponse,
                DescribeQuorum => DescribeQuorumResponse,
                GetTelemetrySubscriptions => GetTelemetrySubscriptionsResponse,
                PushTelemetry => PushTelemetryResponse,
                ListConfigResources => ListConfigResourcesResponse,
            ]);
        }
    };
    Some(refused)
}
