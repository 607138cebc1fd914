//! Slow and idle clients cannot lock everyone out: with `limits.max_connections = 20`, more than
//! twenty sockets that send half a header, sit idle after a request, or trickle a body one byte a
//! second are each closed by their timeout, and a new client is served. Without the timeouts every
//! new client would get `503 too_many_connections` for as long as the attackers hold on.

use mq_e2e::{eventually, Mqd};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const MAX_CONNECTIONS: usize = 20;
const ATTACKERS: usize = 25;
/// How long the test waits for the first 200 (a bound on a hang, not a speed target: the
/// measured figure is printed).
const SERVED_DEADLINE: Duration = Duration::from_secs(20);

fn node(header: &str, idle: &str, body: &str, min_rate: u64) -> Mqd {
    Mqd::start_with_config(&format!(
        "[limits]\nmax_connections = {MAX_CONNECTIONS}\nheader_read_timeout = \"{header}\"\n\
         idle_timeout = \"{idle}\"\nbody_read_timeout = \"{body}\"\nbody_min_rate = {min_rate}\n"
    ))
}

fn connect(mqd: &Mqd) -> TcpStream {
    let address = mqd.base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    stream
}

/// Sends `request` on a new connection and reads the answer until the server closes.
fn exchange(mqd: &Mqd, request: &str) -> String {
    let mut stream = connect(mqd);
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// POSTs JSON on a connection of its own that closes, so that no pooled connection takes a slot.
fn post_closing(mqd: &Mqd, path: &str, body: &str) -> String {
    exchange(
        mqd,
        &format!(
            "POST {path} HTTP/1.1\r\nhost: mq\r\nconnection: close\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

/// One GET /health on a new connection: its status line's code (503 while every slot is taken).
fn health_status(mqd: &Mqd) -> Option<u16> {
    let mut stream = connect(mqd);
    stream
        .write_all(b"GET /health HTTP/1.1\r\nhost: mq\r\nconnection: close\r\n\r\n")
        .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.split_whitespace().nth(1)?.parse().ok()
}

/// Polls with new connections until one is served; returns how long that took.
fn time_until_served(mqd: &Mqd, attack_started: Instant) -> Duration {
    eventually(SERVED_DEADLINE, "a new client to be served", || {
        (health_status(mqd) == Some(200)).then(|| attack_started.elapsed())
    })
}

/// Whether the server closed `stream` (EOF or reset), reading whatever it sent first.
fn closed_by_server(stream: &mut TcpStream) -> (bool, String) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return (true, String::from_utf8_lossy(&seen).into_owned()),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (true, String::from_utf8_lossy(&seen).into_owned())
            }
            Err(_) => return (false, String::from_utf8_lossy(&seen).into_owned()),
        }
    }
}

#[test]
fn half_sent_headers_are_closed_after_the_header_timeout() {
    let mqd = node("1s", "60s", "60s", 1);
    let attack_started = Instant::now();
    let mut attackers: Vec<TcpStream> = (0..ATTACKERS)
        .map(|_| {
            let mut stream = connect(&mqd);
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: mq\r\n")
                .unwrap();
            stream
        })
        .collect();
    let served_after = time_until_served(&mqd, attack_started);
    println!("half-sent headers: a new client was served {served_after:?} after the attack began (header_read_timeout 1s)");
    for stream in attackers.iter_mut().take(MAX_CONNECTIONS) {
        let (closed, _) = closed_by_server(stream);
        assert!(closed, "an attacker's half-sent header was never cut off");
    }
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    // The header timeout is long: only the idle timeout can free these connections. It is 3 s so
    // that the twenty round trips below finish before the first connection goes idle for long.
    let mqd = node("60s", "3s", "60s", 1);
    let mut attackers = Vec::new();
    let first_request = Instant::now();
    for _ in 0..MAX_CONNECTIONS {
        let mut stream = connect(&mqd);
        stream
            .write_all(b"GET /health HTTP/1.1\r\nhost: mq\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
        attackers.push(stream);
    }
    let attack_started = Instant::now();
    assert_full_until(&mqd, first_request, Duration::from_secs(3));
    let served_after = time_until_served(&mqd, attack_started);
    println!("idle keep-alive: a new client was served {served_after:?} after the last request (idle_timeout 3s)");
    for stream in &mut attackers {
        assert!(closed_by_server(stream).0, "an idle connection was kept");
    }
}

#[test]
fn a_body_trickled_a_byte_a_second_gets_408_and_is_closed() {
    let mqd = node("60s", "60s", "1s", 100);
    let created = post_closing(&mqd, "/v1/topics", r#"{"name":"slow","partitions":1}"#);
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    // Each attacker first makes one whole request and reads its answer, so that it holds a
    // connection slot before the probes below begin (a connection still in the listen backlog
    // would otherwise find the slot a probe took, and be answered 503, not 408).
    let attackers: Vec<TcpStream> = (0..MAX_CONNECTIONS)
        .map(|_| {
            let mut stream = connect(&mqd);
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: mq\r\n\r\n")
                .unwrap();
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).unwrap();
            assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
            stream
        })
        .collect();
    let attack_started = Instant::now();
    for stream in &attackers {
        let mut stream = stream;
        stream
            .write_all(
                b"POST /v1/topics/slow/records HTTP/1.1\r\nhost: mq\r\n\
                  content-type: application/json\r\ncontent-length: 1000\r\n\r\n{",
            )
            .unwrap();
    }
    assert_full_until(&mqd, attack_started, Duration::from_secs(1));
    // Each attacker reads its answer at once: a byte trickled after the server closed would draw
    // a reset that could discard an answer not yet read.
    let readers: Vec<_> = attackers
        .iter()
        .map(|s| {
            let mut stream = s.try_clone().unwrap();
            std::thread::spawn(move || closed_by_server(&mut stream))
        })
        .collect();
    // Trickle one byte a second on every connection until the server gives up on them.
    let trickle = {
        let mut writers: Vec<TcpStream> =
            attackers.iter().map(|s| s.try_clone().unwrap()).collect();
        std::thread::spawn(move || {
            for _ in 0..30 {
                std::thread::sleep(Duration::from_secs(1));
                writers.retain_mut(|w| w.write_all(b" ").is_ok());
                if writers.is_empty() {
                    return;
                }
            }
        })
    };
    let served_after = time_until_served(&mqd, attack_started);
    println!("trickled bodies: a new client was served {served_after:?} after the attack began (body_read_timeout 1s, body_min_rate 100 B/s)");
    for reader in readers {
        let (closed, answer) = reader.join().unwrap();
        assert!(closed, "a trickling body was never cut off");
        assert!(
            answer.starts_with("HTTP/1.1 408") && answer.contains("request_timeout"),
            "{answer}"
        );
    }
    trickle.join().unwrap();
    let described = exchange(
        &mqd,
        "GET /v1/topics/slow HTTP/1.1\r\nhost: mq\r\nconnection: close\r\n\r\n",
    );
    assert!(described.contains(r#""log_end":0"#), "{described}");
}

#[test]
fn a_long_poll_outlives_the_idle_and_header_timeouts() {
    let mqd = node("1s", "1s", "1s", 1);
    mqd.create_topic("quiet", 1);
    let started = Instant::now();
    let page = mqd.get("/v1/topics/quiet/partitions/0/records?offset=0&max_wait_ms=3000");
    assert_eq!(page.status, 200, "{:?}", page.body);
    assert_eq!(page.body["next_offset"], 0);
    // It really waited (a lower bound: a loaded machine only makes it longer).
    assert!(started.elapsed() >= Duration::from_millis(2900));
}

#[test]
fn a_client_that_does_not_read_its_answer_is_cut_after_the_grace() {
    const READERS: usize = 4;
    let mqd = Mqd::start_with_config(&format!(
        "[limits]\nmax_connections = {READERS}\nbody_read_timeout = \"1s\"\nbody_min_rate = 1000\n"
    ));
    // 16 MB of records, sent on connections that close: none keeps a slot.
    let created = post_closing(&mqd, "/v1/topics", r#"{"name":"big","partitions":1}"#);
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    let value = "v".repeat(16 * 1024);
    let records = vec![format!(r#"{{"value":"{value}"}}"#); 250].join(",");
    let body = format!(r#"{{"records":[{records}]}}"#);
    for _ in 0..4 {
        let produced = post_closing(&mqd, "/v1/topics/big/records", &body);
        assert!(produced.starts_with("HTTP/1.1 200"), "{}", &produced[..80]);
    }
    // Each reader asks for 16 MiB and reads none of it: the socket fills and stays full.
    let attack_started = Instant::now();
    let readers: Vec<TcpStream> = (0..READERS)
        .map(|_| {
            let mut stream = connect(&mqd);
            stream
                .write_all(
                    b"GET /v1/topics/big/partitions/0/records?offset=0&max_bytes=16777216 \
                      HTTP/1.1\r\nhost: mq\r\n\r\n",
                )
                .unwrap();
            stream
        })
        .collect();
    let served_after = time_until_served(&mqd, attack_started);
    println!("unread answers: a new client was served {served_after:?} after the attack began (body_read_timeout 1s, body_min_rate 1000 B/s)");
    drop(readers);
}

/// Every slot is taken: a new client gets 503. Unless `timeout` has passed since `since`, when
/// the server may rightly have freed a slot already (a loaded machine can take that long to get
/// here); a slot freed before then is a fault.
fn assert_full_until(mqd: &Mqd, since: Instant, timeout: Duration) {
    let status = health_status(mqd);
    let elapsed = since.elapsed();
    if status != Some(503) {
        assert!(
            elapsed >= timeout,
            "a slot was free {elapsed:?} after the attack began (timeout {timeout:?}): {status:?}"
        );
        println!("every slot was taken, but {elapsed:?} had passed: the check was skipped");
    }
}
