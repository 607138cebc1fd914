//! `mqctl bench`: every mode runs with tiny sizes (so none can rot) and reports the documented
//! fields; a run that loses a record fails. Speed is never asserted here (docs/BENCHMARKS.md).

use mq_e2e::{binary, Mqd};
use serde_json::Value;
use std::process::Command;

fn bench(mqd: &Mqd, args: &[&str]) -> std::process::Output {
    Command::new(binary("mqctl"))
        .args(["--server", &mqd.base, "-o", "json", "bench"])
        .args(args)
        .output()
        .expect("run mqctl bench")
}

fn report(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "bench failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON report")
}

#[test]
fn every_mode_runs_and_reports_its_figures() {
    let mqd = Mqd::start();
    let small = [
        "--messages",
        "3000",
        "--batch-size",
        "100",
        "--partitions",
        "3",
        "--producers",
        "2",
        "--consumers",
        "2",
    ];
    for mode in ["produce", "consume", "group", "e2e", "fill"] {
        let mut args = vec![mode];
        args.extend_from_slice(&small);
        let report = report(&bench(&mqd, &args));
        assert_eq!(report["mode"], mode);
        assert_eq!(report["records"], 3000, "{mode}: {report}");
        assert_eq!(report["bytes"], 300_000, "{mode}: {report}");
        for field in ["seconds", "records_per_sec", "mb_per_sec"] {
            assert!(
                report[field].as_f64().unwrap() > 0.0,
                "{mode}: {field} in {report}"
            );
        }
        if mode == "e2e" {
            for field in ["p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms"] {
                assert!(
                    report[field].as_f64().unwrap() >= 0.0,
                    "{field} in {report}"
                );
            }
        }
        if mode == "fill" {
            assert!(
                report["rss_after"].as_u64().unwrap() > 0 && report["rss_per_record"].is_number()
            );
        }
    }
    let paced = report(&bench(
        &mqd,
        &[
            "e2e",
            "--messages",
            "200",
            "--batch-size",
            "1",
            "--rate",
            "2000",
            "--size",
            "1024",
        ],
    ));
    // The pacer holds the rate down: a busy machine can only make the run slower, never faster,
    // so this cannot fail for want of CPU; it fails when --rate is ignored.
    assert!(
        paced["records_per_sec"].as_f64().unwrap() <= 2000.0 * 1.1,
        "200 records at --rate 2000 went faster: {paced}"
    );
    // Every benchmark topic is removed at the end.
    assert_eq!(
        mqd.get("/v1/topics").body["topics"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn a_run_that_loses_a_record_fails() {
    let mqd = Mqd::start();
    for mode in ["consume", "group", "e2e"] {
        let output = bench(
            &mqd,
            &[
                mode,
                "--messages",
                "2000",
                "--batch-size",
                "100",
                "--lose-record",
                "1234",
            ],
        );
        assert_eq!(output.status.code(), Some(1), "{mode}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("record 1234 is missing"),
            "{mode}: {stderr}"
        );
    }
}
