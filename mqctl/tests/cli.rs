//! The `mqctl` command line without a server: usage errors, completions, help, local failures.
//! (This file also makes `cargo test` build the `mqctl` binary that the end-to-end tests run.)

use std::process::Command;

fn mqctl(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mqctl"))
        .args(args)
        .env_remove("MQ_SERVER")
        .output()
        .expect("run mqctl")
}

#[test]
fn bad_flags_and_missing_arguments_exit_2() {
    for args in [
        &["--no-such-flag"][..],
        &["topic", "create"],
        &["consume"],
        &["produce", "t", "--acks", "2"],
    ] {
        let output = mqctl(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn reset_offsets_needs_exactly_one_target() {
    assert_eq!(
        mqctl(&["group", "reset-offsets", "g", "--topic", "t"])
            .status
            .code(),
        Some(2)
    );
    let both = mqctl(&[
        "group",
        "reset-offsets",
        "g",
        "--topic",
        "t",
        "--to-earliest",
        "--to-latest",
    ]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn completions_are_printed_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = mqctl(&["completions", shell]);
        assert!(output.status.success());
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("mqctl") && script.contains("produce"),
            "{shell}"
        );
    }
}

#[test]
fn an_unreachable_server_is_one_line_and_exit_1() {
    let output = mqctl(&[
        "--server",
        "127.0.0.1:1",
        "--timeout",
        "2s",
        "topic",
        "list",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("mqctl: topic list: cannot reach http://127.0.0.1:1"),
        "{stderr}"
    );
}

#[test]
fn version_is_printed() {
    let output = mqctl(&["--version"]);
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("mqctl "));
}
