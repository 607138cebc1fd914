//! The `mqctl` binary: parses the command line and hands each command to its module in
//! `commands/`. Errors are one line on stderr naming what failed and why, exit code 1; usage errors
//! exit 2 (clap).

mod args;
mod commands;
mod output;

use args::{Cli, ClusterCommand, Command};
use clap::{CommandFactory, Parser};
use mqctl::Client;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of our output goes away
    // (`mqctl topic list | head -1`) instead of failing on a broken pipe.
    // SAFETY: restoring the default disposition of a signal, before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Command::Completions { shell } = cli.command {
        clap_complete::generate(shell, &mut Cli::command(), "mqctl", &mut std::io::stdout());
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("mqctl: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let chain: Vec<String> = error.chain().map(ToString::to_string).collect();
            eprintln!("mqctl: {}", chain.join(": "));
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let client = Client::new(std::slice::from_ref(&cli.server), cli.timeout)?.verbose(cli.verbose);
    let format = output::resolve(cli.output);
    match cli.command {
        Command::Topic(command) => commands::topic::run(&client, command, format).await,
        Command::Produce(args) => commands::produce::run(&client, args, format).await,
        Command::Consume(args) => {
            commands::consume::run(&client, args, cli.output, cli.timeout).await
        }
        Command::Commit(args) => commands::group::commit(&client, args, format).await,
        Command::Group(command) => commands::group::run(&client, command, format).await,
        Command::Cluster(ClusterCommand::Status) => {
            commands::cluster::status(&client, format).await
        }
        Command::Health => commands::cluster::health(&client, format).await,
        Command::Bench(args) => commands::bench::run(&client, args, format).await,
        Command::Completions { .. } => unreachable!("handled before the runtime starts"),
    }
}
