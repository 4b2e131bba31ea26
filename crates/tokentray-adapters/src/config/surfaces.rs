//! `[api]` and `[tray]`: the local HTTP API scripts read, and the tray's look.

use serde::Deserialize;

/// The local HTTP API (`[api]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiConfig {
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "default_api_port")]
    pub port: u16,
    /// Every endpoint but `/metrics` needs the API key (a shared machine,
    /// where other users must not read even the status).
    #[serde(default)]
    pub require_key: bool,
}

/// The API's port unless the config says otherwise: 127.0.0.1:8421.
pub const DEFAULT_API_PORT: u16 = 8421;

fn default_api_port() -> u16 {
    DEFAULT_API_PORT
}

fn yes() -> bool {
    true
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self { enabled: true, port: DEFAULT_API_PORT, require_key: false }
    }
}

/// The tray app's look (`[tray]`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrayConfig {
    #[serde(default)]
    pub icons: TrayIcons,
}

/// The tray icon's colours. The shapes say the level in every style.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrayIcons {
    /// Green, orange and red.
    #[default]
    Color,
    /// One light grey, for dark panels that want symbolic icons.
    Light,
    /// One dark grey, for light panels that want symbolic icons.
    Dark,
}
