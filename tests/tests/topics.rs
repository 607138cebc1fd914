//! Topic administration over HTTP: create, list, describe, delete, and their errors.

use mq_e2e::Mqd;
use serde_json::json;

#[test]
fn topics_are_created_listed_described_and_deleted() {
    let mqd = Mqd::start();
    let created = mqd.create_topic("orders", 3);
    assert_eq!(created["name"], "orders");
    assert_eq!(created["partitions"].as_array().unwrap().len(), 3);
    assert_eq!(created["config"]["partitions"], 3);
    mqd.create_topic("audit", 1);

    let listed = mqd.get("/v1/topics");
    assert_eq!(listed.status, 200);
    let names: Vec<&str> = listed.body["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["audit", "orders"]);

    let described = mqd.get("/v1/topics/orders");
    assert_eq!(described.status, 200);
    let partition = &described.body["partitions"][2];
    assert_eq!(partition["partition"], 2);
    assert_eq!(
        (
            partition["log_start"].as_u64(),
            partition["log_end"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(partition["leader"], 1);

    let deleted = mqd.delete("/v1/topics/orders");
    assert_eq!(
        (deleted.status, deleted.body["deleted"].as_bool()),
        (200, Some(true))
    );
    assert_eq!(mqd.get("/v1/topics/orders").error_code(), "unknown_topic");
    assert_eq!(
        mqd.get("/v1/topics").body["topics"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The name is free again.
    mqd.create_topic("orders", 1);
}

#[test]
fn topic_errors_have_their_codes() {
    let mqd = Mqd::start();
    mqd.create_topic("dup", 1);
    let again = mqd.post("/v1/topics", &json!({"name": "dup"}));
    assert_eq!((again.status, again.error_code()), (409, "topic_exists"));
    let bad_name = mqd.post("/v1/topics", &json!({"name": "no spaces"}));
    assert_eq!(
        (bad_name.status, bad_name.error_code()),
        (400, "invalid_topic_name")
    );
    let zero = mqd.post("/v1/topics", &json!({"name": "z", "partitions": 0}));
    assert_eq!((zero.status, zero.error_code()), (400, "invalid_request"));
    let replicated = mqd.post("/v1/topics", &json!({"name": "r", "replication_factor": 3}));
    assert_eq!(
        (replicated.status, replicated.error_code()),
        (400, "invalid_request")
    );
    let unknown = mqd.delete("/v1/topics/ghost");
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "unknown_topic")
    );
}

#[test]
fn alter_errors_have_their_codes() {
    let mqd = Mqd::start();
    mqd.create_topic("fixed", 2);
    let path = "/v1/topics/fixed/config";
    for (body, code, fragment) in [
        (
            json!({"partitions": 4}),
            "invalid_request",
            "unknown field `partitions`",
        ),
        (
            json!({"replication_factor": 3}),
            "invalid_request",
            "unknown field `replication_factor`",
        ),
        (json!({}), "invalid_request", "changes nothing"),
        (
            json!({"min_insync_replicas": 2}),
            "invalid_request",
            "replication_factor (1)",
        ),
        (
            json!({"min_insync_replicas": 0}),
            "invalid_request",
            "not 0",
        ),
        (
            json!({"retention_ms": -1}),
            "invalid_request",
            "retention_ms",
        ),
        (
            json!({"discard": "sometimes"}),
            "invalid_request",
            "discard",
        ),
    ] {
        let answer = mqd.patch(path, &body);
        assert_eq!(
            (answer.status, answer.error_code()),
            (400, code),
            "{body}: {:?}",
            answer.body
        );
        let message = answer.body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{body}: {message}");
    }
    let unknown = mqd.patch("/v1/topics/ghost/config", &json!({"retention_ms": 1}));
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "unknown_topic")
    );
    let malformed = mqd
        .http()
        .patch(mqd.url("/v1/topics/fixed/config"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let body: serde_json::Value = malformed.json().unwrap();
    assert_eq!(body["error"]["code"], "malformed_json", "{body}");
    let wrong_method = mqd.post("/v1/topics/fixed/config", &json!({"retention_ms": 1}));
    assert_eq!(wrong_method.status, 405, "{:?}", wrong_method.body);
    let described = mqd.get("/v1/topics/fixed");
    assert_eq!(
        described.body["config"]["min_insync_replicas"], 1,
        "nothing changed"
    );
}
