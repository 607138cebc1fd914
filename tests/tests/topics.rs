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
