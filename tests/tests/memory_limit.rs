//! The node-wide memory limit refuses produce with 507 and a JSON error, keeps what was stored,
//! and accepts again once room is freed.

use mq_e2e::{fetch_all, Mqd};
use serde_json::json;

#[test]
fn produce_past_the_memory_limit_is_refused_cleanly() {
    let mqd = Mqd::start_with_config("[limits]\nmemory = \"2MiB\"\n");
    mqd.create_topic("fill", 2);
    let value = "m".repeat(1000);
    let batch: Vec<_> = (0..100).map(|_| json!({ "value": value })).collect();
    let mut accepted = 0;
    let refused = loop {
        let answer = mqd.post("/v1/topics/fill/records", &json!({ "records": batch }));
        if answer.status != 200 {
            break answer;
        }
        accepted += 100;
        assert!(accepted < 10_000, "the limit never refused");
    };
    assert_eq!(
        (refused.status, refused.error_code()),
        (507, "memory_limit_exceeded")
    );
    assert!(refused.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("limits.memory"));
    assert!(
        accepted >= 1500,
        "accepted only {accepted} records of 1 KB under 2 MiB"
    );

    // Everything acknowledged is still there, and nothing of the refused request.
    let stored: usize = (0..2).map(|p| fetch_all(&mqd, "fill", p, 0).len()).sum();
    assert_eq!(stored, accepted);
    assert_eq!(mqd.get("/health").status, 200);

    // Deleting the topic frees room for new data.
    assert_eq!(mqd.delete("/v1/topics/fill").status, 200);
    mqd.create_topic("again", 1);
    assert_eq!(
        mqd.post("/v1/topics/again/records", &json!({ "records": batch }))
            .status,
        200
    );
}
