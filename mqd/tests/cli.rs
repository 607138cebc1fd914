//! The `mqd` command line: printing and checking configs, and exit code 2 for refused ones.
//! (This file also makes `cargo test` build the `mqd` binary that the end-to-end tests start.)

use std::process::Command;

fn mqd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mqd"))
        .args(args)
        .output()
        .expect("run mqd")
}

fn temp_config(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("mqd-cli-{}-{name}.toml", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_printed_default_config_checks_ok() {
    let printed = mqd(&["--print-default-config"]);
    assert!(printed.status.success());
    let text = String::from_utf8(printed.stdout).unwrap();
    assert!(text.contains("[limits]") && text.contains("listen = \"127.0.0.1:7171\""));
    let path = temp_config("default", &text);
    let checked = mqd(&["--check-config", path.to_str().unwrap()]);
    assert!(
        checked.status.success(),
        "{}",
        String::from_utf8_lossy(&checked.stderr)
    );
    std::fs::remove_file(path).unwrap();
}

#[test]
fn refused_configs_exit_2_naming_the_key() {
    let cases = [
        ("unknown", "[log]\nsegment_byts = 1\n", "segment_byts"),
        ("type", "[node]\nid = \"one\"\n", "node.id"),
        (
            "impossible",
            "[limits]\nmax_batch_records = 0\n",
            "limits.max_batch_records",
        ),
        ("address", "[node]\nlisten = \"nowhere\"\n", "node.listen"),
    ];
    for (name, text, key) in cases {
        let path = temp_config(name, text);
        for flag in ["--check-config", "--config"] {
            let output = mqd(&[flag, path.to_str().unwrap()]);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(
                output.status.code(),
                Some(2),
                "{name} with {flag}: {stderr}"
            );
            assert!(stderr.contains(key), "{name} with {flag}: {stderr}");
        }
        std::fs::remove_file(path).unwrap();
    }
}

#[test]
fn a_missing_config_file_exits_2() {
    let output = mqd(&["--config", "/nonexistent/mqd.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/mqd.toml"));
}

#[test]
fn version_and_bad_flags() {
    let version = mqd(&["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("mqd "));
    assert_eq!(mqd(&["--no-such-flag"]).status.code(), Some(2));
}

#[test]
fn the_example_configs_in_config_dir_check_ok() {
    for file in [
        "mqd.toml",
        "cluster-node1.toml",
        "cluster-node2.toml",
        "cluster-node3.toml",
    ] {
        let path = format!("{}/../config/{file}", env!("CARGO_MANIFEST_DIR"));
        let checked = mqd(&["--check-config", &path]);
        assert!(
            checked.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
}

#[test]
fn a_bad_cluster_section_exits_2_naming_the_key() {
    let missing_self = temp_config(
        "cluster-self",
        "[node]\nid = 4\ndata_dir = \"/tmp/x\"\n[cluster]\nnodes = [{ id = 1, addr = \"127.0.0.1:9401\" }]\n",
    );
    let checked = mqd(&["--check-config", missing_self.to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&checked.stderr).contains("node.id"));
    std::fs::remove_file(missing_self).unwrap();
}
