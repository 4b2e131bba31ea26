//! Where TokenTray keeps its files. `--config` and `TOKENTRAY_CONFIG` pick the
//! config file; `TOKENTRAY_DATA_DIR` moves the data directory (state, logs,
//! locks, the opted-in plaintext secrets).

use std::path::{Path, PathBuf};

pub const CONFIG_ENV: &str = "TOKENTRAY_CONFIG";
pub const DATA_DIR_ENV: &str = "TOKENTRAY_DATA_DIR";

#[derive(Debug, thiserror::Error)]
#[error("cannot tell where the {what} directory is: set {env} or HOME")]
pub struct NoHome {
    what: &'static str,
    env: &'static str,
}

/// The config file: the explicit path, else `$TOKENTRAY_CONFIG`, else the
/// platform's config directory (`~/.config/tokentray/config.toml` on Linux,
/// `%APPDATA%\tokentray\config.toml` on Windows).
pub fn config_file(explicit: Option<PathBuf>) -> Result<PathBuf, NoHome> {
    if let Some(p) = explicit {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os(CONFIG_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::config_dir()
        .map(|d| d.join("tokentray").join("config.toml"))
        .ok_or(NoHome { what: "config", env: CONFIG_ENV })
}

/// The data directory (`~/.local/share/tokentray` on Linux;
/// `%LOCALAPPDATA%\tokentray` on Windows: this machine's, never roaming
/// with the profile, since its locks, journal and sealed values belong to
/// this machine's keyring; the config is in `%APPDATA%`, which may roam).
pub fn data_dir() -> Result<PathBuf, NoHome> {
    if let Some(p) = std::env::var_os(DATA_DIR_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    dirs::data_local_dir().map(|d| d.join("tokentray")).ok_or(NoHome { what: "data", env: DATA_DIR_ENV })
}

/// `~/x` is under the home directory; other paths are taken as written.
pub fn expand_home(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => dirs::home_dir().map(|h| h.join(rest)).unwrap_or_else(|| path.to_owned()),
        Err(_) => path.to_owned(),
    }
}
