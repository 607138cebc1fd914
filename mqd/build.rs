//! Records the git commit the binary is built from, for `mqd --version` and `mqctl --version`
//! ("unknown" outside a checkout, e.g. from a source tarball). `mqctl` uses this same script.
//!
//! It asks cargo to rerun only when the commit can have changed, naming only files that exist:
//! cargo takes a missing `rerun-if-changed` path as always stale, and would rebuild both binaries
//! on every `cargo build` (a fresh clone has no `.git/packed-refs`, for one).

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    Command::new("git")
        .args(args)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=MQ_GIT_COMMIT={commit}");
    // Outside a checkout: only when the package's manifest changes (cargo rebuilds and reruns an
    // edited build script on its own).
    println!("cargo:rerun-if-changed=Cargo.toml");
    // Relative answers are relative to this directory (old git has no --path-format).
    let here = std::env::current_dir().unwrap_or_default();
    let dir = |flag: &str| git(&["rev-parse", flag]).map(|p| here.join(p));
    let (Some(git_dir), Some(common_dir)) = (dir("--git-dir"), dir("--git-common-dir")) else {
        return;
    };
    // HEAD moves on checkout; HEAD's reflog on every commit, checkout and reset (even when `git
    // gc` has packed the branch's ref away); the branch's ref, loose or packed, on commit.
    let mut watched = vec![
        git_dir.join("HEAD"),
        git_dir.join("logs").join("HEAD"),
        common_dir.join("packed-refs"),
    ];
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(common_dir.join(branch));
    }
    for path in watched.iter().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}
