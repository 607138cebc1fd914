//! The fault harness ([`mq_e2e::faults`]) as tests: a short run of every kind of fault in
//! `cargo test`, and the long run behind `MQ_FAULT_ROUNDS` (e.g. `MQ_FAULT_ROUNDS=24 cargo test
//! -p mq-e2e --test faults -- --nocapture`), whose printed result goes into docs/TESTING.md.

use mq_e2e::faults::{Fault, FaultRun};

fn run(rounds: usize, seed: u64) {
    let outcome = FaultRun {
        rounds,
        seed,
        producers: 3,
        members: 2,
        faults: Fault::ALL.to_vec(),
    }
    .run();
    println!("{outcome}");
    assert!(outcome.report.ok(), "the checker found violations:\n{outcome}");
    assert!(
        outcome.report.acked > 1_000,
        "too little was acknowledged for the run to mean anything:\n{outcome}"
    );
    assert_eq!(
        outcome.unseen, 0,
        "a fault had no visible effect, so the run proves less than it claims:\n{outcome}"
    );
}

#[test]
fn every_kind_of_fault_once_loses_nothing_acknowledged() {
    if std::env::var_os("MQ_FAULT_ROUNDS").is_some() {
        return;
    }
    run(Fault::ALL.len(), 0x5eed);
}

#[test]
fn the_long_run_loses_nothing_acknowledged() {
    let Some(rounds) = std::env::var("MQ_FAULT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
    else {
        return;
    };
    let seed = std::env::var("MQ_FAULT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xfa17);
    run(rounds, seed);
}
