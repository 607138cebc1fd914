//! The `mqd` binary: flags, logging, runtime; everything else is in the library.

use clap::Parser;
use mqd::cli::{Action, Args};
use std::io::IsTerminal;
use std::process::ExitCode;

/// Exit code for a configuration that is refused (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match args.action() {
        Ok(Action::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Action::ConfigOk(path)) => {
            println!("{}: ok", path.display());
            return ExitCode::SUCCESS;
        }
        Ok(Action::Run(config)) => *config,
        Err(error) => {
            eprintln!("mqd: invalid configuration: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_logging(&config.logging.level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mqd: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(mqd::server::run(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "mqd failed");
            eprintln!("mqd: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr; `RUST_LOG` wins over `logging.level`.
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
