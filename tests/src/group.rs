//! A minimal consumer-group member over HTTP for the tests: join, heartbeat, fetch, commit, leave,
//! and a loop that processes records and commits after processing (at-least-once).

use mq_wire::api::{GroupFetchResponse, MemberAssignment};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// One member of a group.
pub struct GroupMember {
    http: reqwest::blocking::Client,
    base: String,
    pub group: String,
    pub assignment: MemberAssignment,
    last_heartbeat: Instant,
    /// The last heartbeat brought a new generation: acknowledge it with the next one, at once.
    acknowledge_now: bool,
}

/// An error answer: status and code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub status: u16,
    pub code: String,
    pub message: String,
}

fn call(
    http: &reqwest::blocking::Client,
    request: reqwest::blocking::RequestBuilder,
) -> Result<Value, Refused> {
    let _ = http;
    let response = request.send().map_err(|e| Refused {
        status: 0,
        code: "io".into(),
        message: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let body: Value = response.json().unwrap_or(Value::Null);
    if status == 200 {
        Ok(body)
    } else {
        Err(Refused {
            status,
            code: body["error"]["code"].as_str().unwrap_or("").to_owned(),
            message: body["error"]["message"].as_str().unwrap_or("").to_owned(),
        })
    }
}

impl GroupMember {
    /// Joins `group` reading `topics`, with a session timeout; a coordinator that is moving or
    /// settling after a move (`coordinator_unavailable`) is asked again for up to 30 s.
    pub fn join(base: &str, group: &str, topics: &[&str], session_ms: u64) -> GroupMember {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match GroupMember::try_join(base, group, topics, session_ms, Duration::from_secs(60)) {
                Err(refused)
                    if refused.code == "coordinator_unavailable" && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                joined => return joined.expect("join"),
            }
        }
    }

    /// Joins, or answers why not; every request of the member times out after `timeout`.
    pub fn try_join(
        base: &str,
        group: &str,
        topics: &[&str],
        session_ms: u64,
        timeout: Duration,
    ) -> Result<GroupMember, Refused> {
        let http = reqwest::blocking::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap();
        let body = json!({"topics": topics, "session_timeout_ms": session_ms, "client_id": "e2e"});
        let answer = call(
            &http,
            http.post(format!("{base}/v1/groups/{group}/members"))
                .json(&body),
        )?;
        Ok(GroupMember {
            http,
            base: base.to_owned(),
            group: group.to_owned(),
            assignment: serde_json::from_value(answer).expect("member assignment"),
            last_heartbeat: Instant::now(),
            acknowledge_now: false,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}/v1/groups/{}{}", self.base, self.group, path)
    }

    pub fn member_id(&self) -> &str {
        &self.assignment.member_id
    }

    pub fn generation(&self) -> u64 {
        self.assignment.generation
    }

    pub fn heartbeat(&mut self) -> Result<(), Refused> {
        let body = json!({"member_id": self.member_id(), "generation": self.generation()});
        let answer = call(
            &self.http,
            self.http.post(self.url("/heartbeat")).json(&body),
        )?;
        let assignment: MemberAssignment =
            serde_json::from_value(answer).expect("member assignment");
        self.acknowledge_now = assignment.generation != self.assignment.generation;
        self.assignment = assignment;
        self.last_heartbeat = Instant::now();
        Ok(())
    }

    pub fn fetch(&self, max_records: u32, max_wait_ms: u64) -> Result<GroupFetchResponse, Refused> {
        let body = json!({
            "member_id": self.member_id(), "generation": self.generation(),
            "max_records": max_records, "max_wait_ms": max_wait_ms,
        });
        call(&self.http, self.http.post(self.url("/fetch")).json(&body))
            .map(|v| serde_json::from_value(v).expect("fetch response"))
    }

    /// Commits `next` offsets per (topic, partition) with this member's generation.
    pub fn commit(&self, next: &BTreeMap<(String, u32), u64>) -> Result<(), Refused> {
        self.commit_as(self.generation(), next)
    }

    pub fn commit_as(
        &self,
        generation: u64,
        next: &BTreeMap<(String, u32), u64>,
    ) -> Result<(), Refused> {
        let offsets: Vec<Value> = next
            .iter()
            .map(|((topic, partition), offset)| json!({"topic": topic, "partition": partition, "offset": offset}))
            .collect();
        let body =
            json!({"member_id": self.member_id(), "generation": generation, "offsets": offsets});
        call(&self.http, self.http.post(self.url("/offsets")).json(&body)).map(|_| ())
    }

    pub fn leave(&self) -> Result<(), Refused> {
        call(
            &self.http,
            self.http
                .delete(self.url(&format!("/members/{}", self.member_id()))),
        )
        .map(|_| ())
    }

    /// One step of a consumer that commits after processing: fetch, hand each record to `process`,
    /// commit, and heartbeat when the group rebalanced or a third of the session has passed.
    /// Returns how many records it processed.
    pub fn poll_process_commit(
        &mut self,
        max_wait_ms: u64,
        mut process: impl FnMut(&str, u32, u64, u64, &str),
    ) -> Result<usize, Refused> {
        let page = match self.fetch(500, max_wait_ms) {
            Ok(page) => page,
            Err(refused) if refused.code == "stale_generation" => {
                self.heartbeat()?;
                return Ok(0);
            }
            Err(refused) => return Err(refused),
        };
        let mut next = BTreeMap::new();
        for record in &page.records {
            let value = record.record.value.as_deref().unwrap_or("");
            process(
                &record.topic,
                record.partition,
                record.record.offset,
                self.generation(),
                value,
            );
            next.insert(
                (record.topic.clone(), record.partition),
                record.record.offset + 1,
            );
        }
        if !next.is_empty() {
            self.commit(&next)?;
        }
        let due = Duration::from_millis(self.assignment.heartbeat_interval_ms.max(1));
        if page.rebalance || self.acknowledge_now || self.last_heartbeat.elapsed() >= due {
            self.heartbeat()?;
        }
        Ok(page.records.len())
    }
}
