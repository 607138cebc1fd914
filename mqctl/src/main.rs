//! `mqctl`, the operator's command-line tool. Its commands and the `mqctl::Client` library arrive
//! with the CLI issue; until then it only reports its version.

use clap::Parser;

/// mqctl: the mq operator's tool (commands arrive with the CLI issue).
#[derive(Parser)]
#[command(name = "mqctl", version, about)]
struct Args {}

fn main() {
    let _ = Args::parse();
    eprintln!("mqctl: no commands yet; use the HTTP API described in docs/API.md");
    std::process::exit(2);
}
