//! `tokentray`: the command line for people and scripts, and the headless engine.

mod cli;
mod context;
mod secret_cmd;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    match run(args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tokentray: {e:#}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(args: cli::Cli) -> Result<ExitCode, context::CliError> {
    match args.command {
        cli::Command::Secret { action } => secret_cmd::run(&args.global, action),
    }
}
