//! The listener at the frame level: a malformed frame closes only its own connection, and an API
//! it does not serve is answered per Kafka's rules with the connection kept open.

use crate::client::*;
use rdkafka::consumer::{BaseConsumer, Consumer};
use std::time::Duration;

#[test]
fn a_request_claiming_two_billion_topics_closes_its_connection_and_nothing_else() {
    use std::io::Read;
    let (mqd, bootstrap) = start();
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    // Metadata v1 whose topic array claims 2^31 - 1 entries, none sent.
    send_request(&mut socket, 3, 1, &i32::MAX.to_be_bytes());
    let mut answer = Vec::new();
    let _ = socket.read_to_end(&mut answer);
    assert!(
        answer.is_empty(),
        "no answer to a malformed frame: {answer:?}"
    );
    // The node lives on, for HTTP and Kafka clients alike.
    assert_eq!(mqd.get("/health").status, 200);
    let consumer: BaseConsumer = client_config(&bootstrap).create().unwrap();
    consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("Metadata still answered");
    assert!(
        mqd.log().contains("malformed Metadata v1 request"),
        "{}",
        mqd.log()
    );
}

#[test]
fn an_api_the_listener_does_not_serve_is_answered_and_the_connection_stays_open() {
    let (mqd, bootstrap) = start();
    let mut socket = std::net::TcpStream::connect(&bootstrap).unwrap();
    socket.set_read_timeout(Some(DEADLINE)).unwrap();
    // SaslHandshake v1 asking for PLAIN: UNSUPPORTED_SASL_MECHANISM (33).
    let answer = exchange(&mut socket, 17, 1, b"\x00\x05PLAIN");
    assert_eq!(i16::from_be_bytes([answer[4], answer[5]]), 33, "{answer:?}");
    // DescribeAcls v1, any ACL: SECURITY_DISABLED (54), as a broker without an authorizer.
    let mut body = vec![1u8]; // resource type: any
    body.extend_from_slice(&(-1i16).to_be_bytes()); // resource name: null
    body.push(1); // pattern type: any
    body.extend_from_slice(&(-1i16).to_be_bytes()); // principal: null
    body.extend_from_slice(&(-1i16).to_be_bytes()); // host: null
    body.extend_from_slice(&[1, 1]); // operation, permission: any
    let answer = exchange(&mut socket, 29, 1, &body);
    // correlation id, throttle, error code
    assert_eq!(i16::from_be_bytes([answer[8], answer[9]]), 54, "{answer:?}");
    // The same connection still answers what is served: ApiVersions v0.
    let answer = exchange(&mut socket, 18, 0, &[]);
    assert_eq!(i16::from_be_bytes([answer[4], answer[5]]), 0);
    drop(socket);
    assert_every_request_answered(&mqd);
}
