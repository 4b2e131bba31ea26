//! `tokentray`: the command line for people and scripts, and the headless engine.

mod account_cmd;
mod alert_cmd;
mod cli;
mod context;
mod daemon_cmd;
mod demo_cmd;
mod exec_cmd;
mod logging;
mod ready_cmd;
mod remote_cmd;
mod secret_cmd;
mod snooze_cmd;
mod status_cmd;
mod tray;

use clap::Parser;
use cli::Command;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Every command may hold a token in memory: no core file, no ptrace by others.
    if let Err(e) = tokentray_runtime::process::forbid_core_dumps() {
        eprintln!("tokentray: cannot turn core dumps off ({e}); continuing");
    }
    let args = cli::Cli::parse();
    if matches!(args.command, Some(Command::Daemon)) {
        tokentray_runtime::process::raise_open_file_limit();
    }
    if !matches!(args.command, Some(Command::Daemon | Command::Demo)) {
        // One-shot commands say what they did, and what went wrong, themselves:
        // the engine's warnings would say it again (`TOKENTRAY_LOG=warn` shows
        // them). `exec` runs on, and its account's warnings are its own to
        // tell; a login waiting for a pasted address says why it refused one.
        let level = match args.command {
            Some(Command::Exec { .. } | Command::Login { .. }) => "warn",
            _ => "error",
        };
        let _ = logging::init(level, None);
    }
    // One thread is plenty for an I/O-bound engine, and keeps the daemon small;
    // secret-store calls (D-Bus, files) queue on two blocking threads rather
    // than each start-up validation growing the pool (and malloc's arenas).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(2)
        .build()
        .expect("tokio runtime builds");
    let result = runtime.block_on(async {
        let result = run(args).await;
        // A login, check or refresh that noticed something tells the phone before exiting.
        tokentray_runtime::alerts::settle(std::time::Duration::from_secs(15)).await;
        result
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("tokentray: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

async fn run(args: cli::Cli) -> Result<ExitCode, context::CliError> {
    let g = &args.global;
    let Some(command) = args.command else { return tray::launch(g, args.demo) };
    match command {
        Command::Status { json } => status_cmd::status(g, json).await,
        Command::Accounts => status_cmd::accounts(g),
        Command::Ready { account, json } => ready_cmd::ready(g, account, json).await,
        Command::Login { account, no_browser, timeout } => account_cmd::login(g, &account, no_browser, timeout).await,
        Command::Refresh { account } => account_cmd::refresh(g, &account).await,
        Command::Check { account } => account_cmd::check(g, &account).await,
        Command::Logout { account } => account_cmd::logout(g, &account).await,
        Command::Token { account } => account_cmd::token(g, &account).await,
        Command::Secret { action } => secret_cmd::run(g, action).await,
        Command::Header { account, with_name } => account_cmd::header(g, &account, with_name).await,
        Command::ApiKey => account_cmd::api_key(g).await,
        Command::Exec { account, restart_on_change, grace, command } => {
            exec_cmd::run(g, &account, restart_on_change, grace, command).await
        }
        Command::Alert { action: cli::AlertAction::Test { name } } => alert_cmd::test(g, name.as_deref()).await,
        Command::Snooze { duration } => snooze_cmd::snooze(g, &duration).await,
        Command::Daemon => daemon_cmd::run(g).await,
        Command::Stop => daemon_cmd::stop(g).await,
        Command::Demo => demo_cmd::run().await,
        Command::RemoteServe => remote_cmd::serve(g).await,
    }
}
