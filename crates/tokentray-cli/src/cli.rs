use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// Keeps broker and OAuth API tokens alive, and hands them to your scripts.
#[derive(Debug, Parser)]
#[command(name = "tokentray", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The config file [default: $TOKENTRAY_CONFIG, else ~/.config/tokentray/config.toml]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Store or remove an account's api secret in the keyring
    Secret {
        #[command(subcommand)]
        action: SecretAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretAction {
    /// Read the api secret (client secret) without echo, or from standard input
    /// when it is not a terminal, and store it in the keyring
    Set { account: String },
    /// Remove the stored api secret
    Delete { account: String },
}
