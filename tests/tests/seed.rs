//! The seed's endpoints, unchanged in shape: /health, /topics, /produce, /consume, /commit.

use mq_e2e::Mqd;
use serde_json::json;

#[test]
fn health_answers_ok_in_plain_text() {
    let mqd = Mqd::start();
    let response = mqd.http().get(mqd.url("/health")).send().unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(response.text().unwrap(), "OK");
}

#[test]
fn consume_repeats_until_commit_then_moves_on() {
    let mqd = Mqd::start();
    let created = mqd.post("/topics", &json!({"topicId": "greetings"}));
    assert_eq!(created.status, 201);
    assert_eq!(created.body["partitions"], 1, "one partition unless told");
    let mut ids = Vec::new();
    for message in ["hello", "world", "again"] {
        let produced = mqd.post(
            "/produce",
            &json!({"topicId": "greetings", "message": message}),
        );
        assert_eq!(produced.status, 200, "{:?}", produced.body);
        ids.push(produced.body["id"].as_str().unwrap().to_owned());
    }
    let consumer = json!({"topicId": "greetings", "consumerId": "alice"});
    for (i, message) in ["hello", "world", "again"].iter().enumerate() {
        let first = mqd.post("/consume", &consumer);
        let second = mqd.post("/consume", &consumer);
        assert_eq!(first.status, 200);
        assert_eq!(
            first.body, second.body,
            "at-least-once: the same record until committed"
        );
        assert_eq!(first.body["body"], *message);
        assert_eq!(first.body["id"], ids[i].as_str());
        assert_eq!(first.body["topicId"], "greetings");
        assert!(first.body["created"].as_i64().unwrap() > 1_600_000_000_000);
        let committed = mqd.post("/commit", &consumer);
        assert_eq!(committed.status, 200);
        assert_eq!(committed.body["next"], i as u64 + 1);
        assert_eq!(committed.body["consumerId"], "alice");
        assert!(committed.body["message"].is_string());
    }
    let drained = mqd.post("/consume", &consumer);
    assert_eq!((drained.status, drained.error_code()), (404, "no_record"));
    let nothing_to_commit = mqd.post("/commit", &consumer);
    assert_eq!(nothing_to_commit.error_code(), "no_record");

    // A consumer id is a group: while a real group of that name has members, the seed's
    // implicit member is refused rather than committing around their fencing.
    let member = mq_e2e::group::GroupMember::join(&mqd.base, "busy", &["greetings"], 5_000);
    let refused = mqd.post(
        "/consume",
        &json!({"topicId": "greetings", "consumerId": "busy"}),
    );
    assert_eq!(
        (refused.status, refused.error_code()),
        (409, "group_not_empty")
    );
    let refused = mqd.post(
        "/commit",
        &json!({"topicId": "greetings", "consumerId": "busy"}),
    );
    assert_eq!(
        (refused.status, refused.error_code()),
        (409, "group_not_empty")
    );
    member.leave().unwrap();

    // Another consumer has its own position.
    let bob = mqd.post(
        "/consume",
        &json!({"topicId": "greetings", "consumerId": "bob"}),
    );
    assert_eq!(bob.body["body"], "hello");
}

#[test]
fn a_seed_topic_with_partitions_delivers_every_message_once_per_consumer() {
    let mqd = Mqd::start();
    mqd.post("/topics", &json!({"topicId": "many", "partitions": 4}));
    for i in 0..40 {
        mqd.post(
            "/produce",
            &json!({"topicId": "many", "message": format!("m{i}"), "key": format!("k{i}")}),
        );
    }
    let consumer = json!({"topicId": "many", "consumerId": "c"});
    let mut seen = Vec::new();
    loop {
        let record = mqd.post("/consume", &consumer);
        if record.status == 404 {
            break;
        }
        seen.push(record.body["body"].as_str().unwrap().to_owned());
        assert_eq!(mqd.post("/commit", &consumer).status, 200);
    }
    seen.sort();
    let mut expected: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
    expected.sort();
    assert_eq!(seen, expected);
}

#[test]
fn seed_produce_with_an_id_appends_once() {
    let mqd = Mqd::start();
    mqd.post("/topics", &json!({"topicId": "unique"}));
    let body = json!({"topicId": "unique", "message": "only once", "id": "0190a0b0-0000-7000-8000-0000000000aa"});
    let first = mqd.post("/produce", &body);
    let second = mqd.post("/produce", &body);
    assert_eq!(first.body["duplicate"], false);
    assert_eq!(second.body["duplicate"], true);
    assert_eq!(first.body["offset"], second.body["offset"]);
    let unknown = mqd.post("/produce", &json!({"topicId": "nope", "message": "x"}));
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "unknown_topic")
    );
}
