//! What every command needs: the config, the account it names, the stores,
//! and an engine over them.

use std::path::PathBuf;
use std::sync::Arc;
use tokentray_adapters::config::{AccountConfig, Config, ConfigError};
use tokentray_adapters::paths;
use tokentray_adapters::store::{self, SecretStore, StoreError};
use tokentray_runtime::control::{ClientError, ServeError};
use tokentray_runtime::demo::DemoError;
use tokentray_runtime::login::LoginError;
use tokentray_runtime::watch::WatchError;
use tokentray_runtime::{Engine, EngineError, EngineOptions, LogNotifier, SystemClock};

/// A failed command, with the exit code scripts can test.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Paths(#[from] paths::NoHome),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Login(#[from] LoginError),
    #[error("no account `{id}` in {}; {}", path.display(), known(known_ids))]
    UnknownAccount { id: String, path: PathBuf, known_ids: Vec<String> },
    #[error(transparent)]
    Control(#[from] ServeError),
    /// The running TokenTray went away, answered garbage, or said no.
    #[error(transparent)]
    Remote(ClientError),
    /// A server of `[[remote]]` could not be asked, or said no.
    #[error(transparent)]
    Server(tokentray_runtime::remote::RemoteError),
    #[error(transparent)]
    Watch(#[from] WatchError),
    #[error("cannot start the demo: {0}")]
    Demo(#[from] DemoError),
    #[error("{0}")]
    Usage(String),
    /// Nothing runs to do it (a snooze needs the running tray or daemon).
    #[error("{0}")]
    NotRunning(String),
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

fn known(ids: &[String]) -> String {
    if ids.is_empty() {
        "the config has no accounts yet".to_owned()
    } else {
        format!("the accounts are: {}", ids.join(", "))
    }
}

impl CliError {
    /// 4 only when a browser login fixes it, 5 when the api secret does
    /// (see `tokentray --help`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Control(ServeError::AlreadyRunning(_)) => 3,
            Self::Engine(e) => e.remedy().exit_code(),
            Self::Login(e) => e.remedy().exit_code(),
            Self::Remote(e) => e.remedy().exit_code(),
            Self::Server(e) => e.remedy().exit_code(),
            _ => 1,
        }
    }
}

pub struct Context {
    pub config: Config,
    pub data_dir: PathBuf,
}

impl Context {
    pub fn load(explicit: Option<PathBuf>) -> Result<Self, CliError> {
        let path = paths::config_file(explicit)?;
        Ok(Self { config: Config::load(&path)?, data_dir: paths::data_dir()? })
    }

    pub fn account(&self, id: &str) -> Result<&AccountConfig, CliError> {
        if let Some((remote, account)) = self.config.remote_account(id) {
            // `header` and `exec` hand the token to something here: the server's bots use it there.
            return Err(CliError::Usage(format!(
                "`{id}` is server `{}`'s: this command runs where the token is; on the server run it for `{account}` \
                 (ssh {} tokentray ...), or use `tokentray token {id}` where copy_token allows it",
                remote.name, remote.ssh
            )));
        }
        self.config.account(id).ok_or_else(|| self.unknown(id))
    }

    /// An account of this machine, or of a server (`ACCOUNT@SERVER`): the
    /// server's route, `None` for this machine's; an error for neither.
    pub fn account_or_route(&self, id: &str) -> Result<Option<tokentray_runtime::remote::Route>, CliError> {
        if let Some(route) = tokentray_runtime::remote::Route::of(&self.config, id) {
            return Ok(Some(route));
        }
        self.account(id).map(|_| None)
    }

    fn unknown(&self, id: &str) -> CliError {
        let mut known_ids: Vec<String> = self.config.accounts.iter().map(|a| a.id.clone()).collect();
        known_ids.extend(self.config.remotes.iter().map(|r| format!("ACCOUNT@{} (server {})", r.name, r.ssh)));
        CliError::UnknownAccount { id: id.to_owned(), path: self.config.path.clone(), known_ids }
    }

    pub fn secrets(&self) -> Result<Box<dyn SecretStore>, CliError> {
        Ok(store::open(&self.config, &self.data_dir)?)
    }

    pub fn engine(&self) -> Result<Engine, CliError> {
        Ok(Engine::new(
            self.config.clone(),
            EngineOptions {
                data_dir: self.data_dir.clone(),
                store: Arc::from(self.secrets()?),
                clock: Arc::new(SystemClock),
                notifier: Arc::new(LogNotifier),
            },
        )?)
    }
}
