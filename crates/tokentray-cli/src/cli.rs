//! The command line: every command, its flags and the exit codes, as clap
//! reads them and `tokentray --help` shows them.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use tokentray_adapters::duration::parse_std;

const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  an error, or the broker cannot be reached now (the token is kept; the message says more)
  2  bad usage
  3  another TokenTray (tray or daemon) already runs on this data directory
  4  a login is needed: run `tokentray login ACCOUNT`
  5  the api secret is missing or the provider rejects it: run `tokentray secret set ACCOUNT`

Environment:
  TOKENTRAY_CONFIG    the config file (like --config)
  TOKENTRAY_DATA_DIR  the data directory (state, log, locks)
  TOKENTRAY_LOG       log filter, e.g. `debug` or `tokentray_runtime=debug`
  BROWSER             the browser `login` opens (`:`-separated commands, %s for the URL)";

/// Keeps broker and OAuth API tokens alive, and hands them to your scripts.
///
/// With no command, starts the tray app (on the demo broker when there is no config).
#[derive(Debug, Parser)]
#[command(name = "tokentray", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    /// Start the tray app on the built-in demo broker
    #[arg(long)]
    pub demo: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The config file [default: $TOKENTRAY_CONFIG, else ~/.config/tokentray/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Every account's state, colour and countdown
    Status {
        /// One JSON object, for scripts
        #[arg(long)]
        json: bool,
    },
    /// The accounts in the config
    Accounts,
    /// Is each account ready to trade at the open? Its token works, and the
    /// machine its bots trade from sends from a static IP its broker has
    /// registered (where the broker lets a program read them: Upstox, Dhan).
    /// Exit 0 ready, 4 a login is needed, 1 otherwise
    Ready {
        /// One account (a server's too: ACCOUNT@SERVER); every one if left out
        account: Option<String>,
        /// JSON, for scripts
        #[arg(long)]
        json: bool,
    },
    /// Log in: opens the browser at the provider and stores the new token
    Login {
        account: String,
        /// Print the URL instead of opening a browser, and accept the URL the
        /// browser lands on pasted on standard input (for servers)
        #[arg(long)]
        no_browser: bool,
        /// Give up after this long, e.g. `5m`, `90s`, `1h`
        #[arg(long, default_value = "5m", value_parser = parse_std)]
        timeout: std::time::Duration,
    },
    /// Renew the token now; for a provider that cannot renew (Kite, Upstox),
    /// ask it whether the token still works
    #[command(after_help = EXIT_CODES)]
    Refresh { account: String },
    /// Ask the provider now whether the token works (0 valid, 4 log in, 1 could not tell)
    #[command(after_help = EXIT_CODES)]
    Check { account: String },
    /// Log out at the provider and forget the token
    Logout { account: String },
    /// Print the access token, and nothing else (exit code 4: log in first)
    #[command(after_help = EXIT_CODES)]
    Token { account: String },
    /// Print the value of the header the provider's API takes the token in
    /// (Authorization; Dhan's is access-token)
    Header {
        account: String,
        /// Print `Name: value`, as curl -H takes it
        #[arg(long)]
        with_name: bool,
    },
    /// Run a command with the token in its environment (TOKENTRAY_ACCESS_TOKEN
    /// and the provider's usual names); exits with the command's code
    Exec {
        account: String,
        /// Stop the command (SIGTERM, then SIGKILL after --grace) and start it
        /// again whenever the token changes
        #[arg(long)]
        restart_on_change: bool,
        /// How long a stopping command may take before SIGKILL
        #[arg(long, default_value = "10s", value_parser = parse_std)]
        grace: std::time::Duration,
        /// The command and its arguments, after `--`
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Print the local API's key (made on first use, kept in the keyring)
    ApiKey,
    /// Store or remove an account's api secret in the keyring
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Hold notifications and alerts that can wait, in the running tray or
    /// daemon, for DURATION (default 1h); `off` resumes them. What cannot
    /// wait (a red warning a login can still act on) is still told.
    Snooze {
        #[arg(default_value = "1h")]
        duration: String,
    },
    /// The alerts of the config (`[[alert]]`)
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// Run the engine without a GUI: refresh, validate and warn on schedule
    Daemon,
    /// Stop the running daemon or tray as SIGTERM or Quit would, and wait
    /// until its work in flight is done (on Windows, the way to stop a
    /// daemon started without a console)
    Stop,
    /// Try TokenTray on a built-in sandbox broker with two demo accounts
    Demo,
    /// The server's end of a desktop's SSH session ([[remote]]): relays to
    /// the TokenTray running here; run by the desktop's ssh, not by people
    #[command(hide = true)]
    RemoteServe,
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Read the api secret (client secret) without echo, or from standard input
    /// when it is not a terminal, and store it in the secret store (the
    /// keyring; Vault, for every machine, with `storage = "vault"`)
    Set {
        /// The account (with --alert, the alert's name)
        #[arg(required_unless_present_any = ["vault_token", "vault_secret_id"])]
        account: Option<String>,
        /// Store the account's trading PIN instead (Fyers renews tokens only with it)
        #[arg(long, conflicts_with = "alert")]
        pin: bool,
        /// Store an alert's secret instead: a Telegram bot token, an ntfy
        /// access token, or a webhook's signing key
        #[arg(long)]
        alert: bool,
        /// Store the Vault token this machine signs in to Vault with (in
        /// this machine's own store, never in Vault), for `storage = "vault"`
        #[arg(long, conflicts_with_all = ["account", "pin", "alert", "vault_secret_id"])]
        vault_token: bool,
        /// Store the AppRole secret id this machine signs in to Vault with
        #[arg(long, conflicts_with_all = ["account", "pin", "alert"])]
        vault_secret_id: bool,
    },
    /// Remove the stored api secret (or, with --pin, the PIN; with --alert, an alert's secret)
    Delete {
        account: String,
        #[arg(long, conflicts_with = "alert")]
        pin: bool,
        #[arg(long)]
        alert: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum AlertAction {
    /// Send a test message to every alert (or the one named) and say how each went
    /// (exit 0 when all arrived, 1 when one did not)
    Test { name: Option<String> },
}
