//! Error responses as a contract: each error response of the document names its codes in its
//! description (`` `unknown_topic`, `unknown_partition` ``), and its schema is narrowed here to
//! exactly those codes, so a client (or the fuzzer) can hold the server to them. Every operation
//! also gets the 503 `too_many_connections` that the listener answers before any route is chosen,
//! and the cluster's routing answers (421 and 503) that come before any handler runs.

use mq_wire::ErrorCode;
use serde_json::{json, Value};

const ERROR_BODY: &str = "#/components/schemas/ErrorBody";

const TOO_MANY_CONNECTIONS: &str =
    "`too_many_connections`: the node has `limits.max_connections` open connections. In a cluster \
     also `partition_unavailable` (the partition's leader is down or unreachable), \
     `controller_unavailable`, `coordinator_unavailable`, `not_enough_nodes` (fewer live nodes \
     than `replication_factor`), and on produce `not_enough_replicas` (fewer in-sync replicas \
     than `min_insync_replicas`: an `acks=all` produce is refused before anything is appended)";

const FORWARD_TIMEOUT: &str = "In a cluster: `forward_timeout`: the node serving the request \
     did not answer in time; the request may or may not have been applied. On produce, \
     `replication_timeout`: the in-sync replicas did not copy an `acks=all` produce within \
     `cluster.replication_timeout`; it may or may not survive a failover";

const MISDIRECTED: &str = "In a cluster: `not_leader`, `not_controller`, `not_coordinator`: a \
     request forwarded by another node met a node whose metadata disagrees; refresh and retry";

/// Narrows every error response of `doc` (an OpenAPI document as JSON) to the codes it names.
pub fn apply(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let operations = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        responses.entry("503").or_insert_with(|| {
            json!({
                "description": TOO_MANY_CONNECTIONS,
                "content": {"application/json": {"schema": {"$ref": ERROR_BODY}}},
            })
        });
        responses.entry("504").or_insert_with(|| {
            json!({
                "description": FORWARD_TIMEOUT,
                "content": {"application/json": {"schema": {"$ref": ERROR_BODY}}},
            })
        });
        responses.entry("421").or_insert_with(|| {
            json!({
                "description": MISDIRECTED,
                "content": {"application/json": {"schema": {"$ref": ERROR_BODY}}},
            })
        });
        for (status, response) in responses.iter_mut() {
            if !is_error_status(status) {
                continue;
            }
            let codes = named_codes(response["description"].as_str().unwrap_or_default());
            if let Some(schema) = response.pointer_mut("/content/application~1json/schema") {
                *schema = narrowed(&codes);
            }
        }
    }
}

/// Whether a response key of the document is a 4xx or 5xx status.
pub fn is_error_status(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

/// The error codes a description names between backticks; other quoted words are skipped.
pub fn named_codes(description: &str) -> Vec<ErrorCode> {
    description
        .split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|word| serde_json::from_value(Value::String(word.to_owned())).ok())
        .filter(|code| *code != ErrorCode::Unknown)
        .collect()
}

/// The error body with its `code` limited to `codes`.
fn narrowed(codes: &[ErrorCode]) -> Value {
    json!({
        "allOf": [
            {"$ref": ERROR_BODY},
            {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": {"enum": codes}}}},
            },
        ]
    })
}
