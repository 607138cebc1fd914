//! The `mqd` binary: flags, logging, runtime; everything else is in the library.

use clap::Parser;
use mqd::cli::{Action, Args};
use std::process::ExitCode;

/// Exit code for a configuration that is refused (clap uses 2 for usage errors too).
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let tuned = mqd::allocator::tune();
    let args = Args::parse();
    let (config, overrides) = match args.action() {
        Ok(Action::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Action::ConfigOk(path)) => {
            println!("{}: ok", path.display());
            return ExitCode::SUCCESS;
        }
        Ok(Action::Run(config, overrides)) => (*config, overrides),
        Err(error) => {
            eprintln!("mqd: invalid configuration: {error}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let log_level = mqd::logging::init(&config.logging.level, config.logging.format);
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
    tracing::info!(version = mqd::VERSION, allocator_tuned = ?tuned, "mqd starting");
    match runtime.block_on(mqd::server::run(config, overrides, Some(log_level))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "mqd failed");
            eprintln!("mqd: {error}");
            ExitCode::FAILURE
        }
    }
}
