//! SIGTERM stops the node cleanly: exit code 0, after logging that it stopped.

use mq_e2e::Mqd;
use serde_json::json;
use std::time::Duration;

#[test]
fn sigterm_exits_zero_even_with_a_long_poll_in_flight() {
    let mut mqd = Mqd::start();
    mqd.create_topic("t", 1);
    let url = mqd.url("/v1/topics/t/partitions/0/records?max_wait_ms=30000");
    let http = mqd.http().clone();
    let poll = std::thread::spawn(move || http.get(url).send().map(|r| r.status().as_u16()));
    // Make sure the node is serving before it is stopped.
    assert_eq!(
        mqd.post(
            "/v1/topics/t/records",
            &json!({"records": [{"value": "x"}]})
        )
        .status,
        200
    );
    let status = mqd
        .terminate(Duration::from_secs(15))
        .expect("mqd exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    assert!(mqd.log().contains("mqd stopped"));
    // The poll was answered (or had not been sent yet); either way nothing hangs.
    let _ = poll.join().unwrap();
}
