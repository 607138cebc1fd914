//! A consumer-group member as its own process, so a test can kill it with SIGKILL mid-stream.
//!
//! `group_consumer BASE_URL GROUP TOPIC SESSION_MS` joins, then forever fetches, processes each
//! record (prints and flushes `record PARTITION OFFSET` before anything is committed) and commits
//! after processing (prints `committed PARTITION NEXT` once the commit is acknowledged).

use mq_e2e::group::GroupMember;
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, group, topic, session_ms] = args.as_slice() else {
        eprintln!("usage: group_consumer BASE_URL GROUP TOPIC SESSION_MS");
        std::process::exit(2);
    };
    let mut member = GroupMember::join(
        base,
        group,
        &[topic],
        session_ms.parse().expect("session ms"),
    );
    let stdout = std::io::stdout();
    writeln!(stdout.lock(), "joined {}", member.member_id()).unwrap();
    loop {
        let mut last = std::collections::BTreeMap::new();
        let result = member.poll_process_commit(100, |_, partition, offset, _, _| {
            let mut out = stdout.lock();
            writeln!(out, "record {partition} {offset}").unwrap();
            out.flush().unwrap();
            last.insert(partition, offset + 1);
        });
        let mut out = stdout.lock();
        match result {
            Ok(_) => {
                for (partition, next) in last {
                    writeln!(out, "committed {partition} {next}").unwrap();
                }
            }
            Err(refused) => writeln!(out, "refused {} {}", refused.code, refused.message).unwrap(),
        }
        out.flush().unwrap();
    }
}
