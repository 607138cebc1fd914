//! Bad input gets a JSON error with the documented status and code, never a panic or a hang.

use mq_e2e::Mqd;
use serde_json::json;

fn small_body_node() -> Mqd {
    Mqd::start_with_config("[limits]\nmax_request_bytes = \"64KiB\"\nmax_record_bytes = \"8KiB\"\nmax_batch_records = 100\n")
}

#[test]
fn malformed_json_and_wrong_types_are_400_with_distinct_codes() {
    let mqd = small_body_node();
    mqd.create_topic("t", 1);
    let broken = mqd.post_raw(
        "/v1/topics/t/records",
        "application/json",
        b"{\"records\": [".to_vec(),
    );
    assert_eq!(
        (broken.status, broken.error_code()),
        (400, "malformed_json")
    );
    let wrong_type = mqd.post("/v1/topics/t/records", &json!({"records": [{"value": 42}]}));
    assert_eq!(
        (wrong_type.status, wrong_type.error_code()),
        (400, "invalid_request")
    );
    assert!(wrong_type.body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("records[0].value"));
    let unknown_field = mqd.post("/v1/topics/t/records", &json!({"records": [{"valu": "x"}]}));
    assert_eq!(unknown_field.error_code(), "invalid_request");
    let no_value = mqd.post("/v1/topics/t/records", &json!({"records": [{"key": "k"}]}));
    assert_eq!(no_value.error_code(), "invalid_request");
    let bad_base64 = mqd.post(
        "/v1/topics/t/records",
        &json!({"records": [{"value_b64": "***"}]}),
    );
    assert_eq!(bad_base64.error_code(), "invalid_request");
    let both = mqd.post(
        "/v1/topics/t/records",
        &json!({"records": [{"value": "a", "value_b64": "YQ=="}]}),
    );
    assert_eq!(both.error_code(), "invalid_request");
    let bad_acks = mqd.post("/v1/topics/t/records", &json!({"records": [], "acks": "2"}));
    assert_eq!(bad_acks.error_code(), "invalid_request");
    let seed_wrong = mqd.post("/consume", &json!({"topicId": 1, "consumerId": "c"}));
    assert_eq!(
        (seed_wrong.status, seed_wrong.error_code()),
        (400, "invalid_request")
    );
    let bad_query = mqd.get("/v1/topics/t/partitions/0/records?offset=minus-one");
    assert_eq!(
        (bad_query.status, bad_query.error_code()),
        (400, "invalid_request")
    );
    let bad_path = mqd.get("/v1/topics/t/partitions/first/records");
    assert_eq!(
        (bad_path.status, bad_path.error_code()),
        (400, "invalid_request")
    );
}

#[test]
fn unknown_topic_route_and_method_are_404_and_405() {
    let mqd = small_body_node();
    let topic = mqd.post(
        "/v1/topics/ghost/records",
        &json!({"records": [{"value": "x"}]}),
    );
    assert_eq!((topic.status, topic.error_code()), (404, "unknown_topic"));
    let fetch = mqd.get("/v1/topics/ghost/partitions/0/records");
    assert_eq!((fetch.status, fetch.error_code()), (404, "unknown_topic"));
    let route = mqd.get("/v2/anything");
    assert_eq!((route.status, route.error_code()), (404, "not_found"));
    let method = mqd.delete("/v1/topics/ghost/records");
    assert_eq!(
        (method.status, method.error_code()),
        (405, "method_not_allowed")
    );
}

#[test]
fn wrong_content_type_is_415() {
    let mqd = small_body_node();
    let form = mqd.post_raw(
        "/v1/topics",
        "application/x-www-form-urlencoded",
        b"name=x".to_vec(),
    );
    assert_eq!(
        (form.status, form.error_code()),
        (415, "unsupported_media_type")
    );
}

#[test]
fn oversized_bodies_records_and_batches_are_413() {
    let mqd = small_body_node();
    mqd.create_topic("t", 1);
    let big = json!({"records": [{"value": "x".repeat(100 * 1024)}]})
        .to_string()
        .into_bytes();
    let declared = mqd.post_raw("/v1/topics/t/records", "application/json", big.clone());
    assert_eq!(
        (declared.status, declared.error_code()),
        (413, "payload_too_large")
    );
    // Refused on its Content-Length, unread: the answer closes the connection, so that a client
    // does not send its next request on it as the server drops it (that raced into a broken pipe).
    let refused = mqd
        .http()
        .post(mqd.url("/v1/topics/t/records"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .unwrap();
    assert_eq!(refused.status().as_u16(), 413);
    assert_eq!(refused.headers()["connection"], "close");

    // Without a Content-Length (chunked), the limit is enforced while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(8 * 1024).map(|c| Ok(c.to_vec())).collect();
    let streamed = mqd
        .http()
        .post(mqd.url("/v1/topics/t/records"))
        .header("content-type", "application/json")
        .body(reqwest::blocking::Body::new(ChunkReader::new(chunks)))
        .send()
        .unwrap();
    assert_eq!(streamed.status().as_u16(), 413);
    let body: serde_json::Value = streamed.json().unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");

    let record = mqd.post(
        "/v1/topics/t/records",
        &json!({"records": [{"value": "x".repeat(9 * 1024)}]}),
    );
    assert_eq!(
        (record.status, record.error_code()),
        (413, "record_too_large")
    );
    let many: Vec<_> = (0..101).map(|_| json!({"value": "x"})).collect();
    let batch = mqd.post("/v1/topics/t/records", &json!({ "records": many }));
    assert_eq!(
        (batch.status, batch.error_code()),
        (413, "too_many_records")
    );
    // Nothing of the refused requests was stored, and the node still serves.
    assert_eq!(mqd.get("/v1/topics/t").body["partitions"][0]["log_end"], 0);
    assert_eq!(
        mqd.post(
            "/v1/topics/t/records",
            &json!({"records": [{"value": "ok"}]})
        )
        .status,
        200
    );
}

/// A body reader without a known length, so the request goes out chunked.
struct ChunkReader {
    chunks: std::vec::IntoIter<Result<Vec<u8>, std::io::Error>>,
    current: std::io::Cursor<Vec<u8>>,
}

impl ChunkReader {
    fn new(chunks: Vec<Result<Vec<u8>, std::io::Error>>) -> Self {
        ChunkReader {
            chunks: chunks.into_iter(),
            current: std::io::Cursor::new(Vec::new()),
        }
    }
}

impl std::io::Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 {
                return Ok(n);
            }
            match self.chunks.next() {
                Some(chunk) => self.current = std::io::Cursor::new(chunk?),
                None => return Ok(0),
            }
        }
    }
}
