//! Edits to the config file from the window's account form, keeping the
//! user's comments, order and formatting. Every edit is checked by reading
//! the result back as a config before anything is written.

use super::error::{line_column, ConfigError};
use super::Config;
use std::path::Path;
use tokentray_core::ProviderKind;
use toml_edit::{value, Array, ArrayOfTables, DocumentMut, Item, Table};

/// An account as the form describes it. Secrets are not here: they go to the keyring.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct AccountDraft {
    pub id: String,
    pub provider: String,
    pub api_key: String,
    pub redirect_uri: String,
    #[serde(default)]
    pub label: Option<String>,
    /// The broker's client id (Dhan, Angel One).
    #[serde(default)]
    pub user_id: Option<String>,
    /// Durations as written in the config (`3h`); empty or `None` inherits.
    #[serde(default)]
    pub orange: Option<String>,
    #[serde(default)]
    pub red: Option<String>,
    /// OAuth2 only.
    #[serde(default)]
    pub authorize_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub profile_url: Option<String>,
    #[serde(default)]
    pub scopes: Option<String>,
}

/// Why an edit was not made. Nothing is written in either case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The file on disk does not read as TOML (edited by hand since it was
    /// loaded): its own line and column say where.
    #[error("the config cannot be edited: {0}")]
    Unreadable(ConfigError),
    /// A value from the form: the field it came from says where.
    #[error("{field}: {message}")]
    Form { field: &'static str, message: String },
    /// The edited config would not load; the message names the setting (a
    /// line number would point into a file that was never written).
    #[error("{0}")]
    Rejected(String),
}

fn form(field: &'static str, message: impl Into<String>) -> EditError {
    EditError::Form { field, message: message.into() }
}

fn parse(text: &str, path: &Path) -> Result<DocumentMut, EditError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let (line, column) = e.span().map_or((1, 1), |s| line_column(text, s.start));
        let message = e.message().trim().to_owned();
        EditError::Unreadable(ConfigError::Invalid { path: path.to_owned(), line, column, message })
    })
}

/// The `[[account]]` tables. A config may also list its accounts as one
/// inline array (`account = [{ ... }]`): it loads, but this edits tables only.
fn accounts(doc: &mut DocumentMut) -> Result<&mut ArrayOfTables, EditError> {
    if !doc.contains_key("account") {
        doc.insert("account", Item::ArrayOfTables(ArrayOfTables::new()));
    }
    doc["account"].as_array_of_tables_mut().ok_or_else(|| {
        EditError::Rejected(
            "the config lists its accounts as an inline array (`account = [...]`), which this window does not \
             edit: write each account as an [[account]] table in the file, or edit it there"
                .to_owned(),
        )
    })
}

fn non_empty(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn set_or_remove(table: &mut Table, key: &str, v: Option<&str>) {
    match v {
        Some(v) => {
            table[key] = value(v);
        }
        None => {
            table.remove(key);
        }
    }
}

/// Adds the account, or updates the one called `replacing` (which may be
/// renamed), keeping fields the form does not know (`api_base`, sinks...).
pub fn upsert_account(
    text: &str,
    path: &Path,
    draft: &AccountDraft,
    replacing: Option<&str>,
) -> Result<String, EditError> {
    let provider = ProviderKind::from_id(draft.provider.trim()).ok_or_else(|| {
        let known: Vec<_> = ProviderKind::all().map(ProviderKind::as_str).collect();
        form("provider", format!("`{}` is not one of {}", draft.provider, known.join(", ")))
    })?;
    let mut doc = parse(text, path)?;
    let list = accounts(&mut doc)?;
    let id_of = |t: &Table| t.get("id").and_then(|v| v.as_str()).map(str::to_owned);
    if replacing != Some(draft.id.as_str()) && list.iter().any(|t| id_of(t).as_deref() == Some(draft.id.as_str())) {
        return Err(form("id", format!("an account `{}` exists already", draft.id)));
    }
    let position = replacing.and_then(|old| list.iter().position(|t| id_of(t).as_deref() == Some(old)));
    let table = match position {
        Some(i) => list.get_mut(i).expect("position is in range"),
        None => {
            list.push(Table::new());
            list.get_mut(list.len() - 1).expect("just pushed")
        }
    };
    table["id"] = value(draft.id.trim());
    table["provider"] = value(provider.as_str());
    table.remove("client_id");
    set_or_remove(table, "api_key", Some(draft.api_key.trim()).filter(|k| !k.is_empty()));
    set_or_remove(table, "redirect_uri", Some(draft.redirect_uri.trim()).filter(|u| !u.is_empty()));
    set_or_remove(table, "label", non_empty(&draft.label));
    set_or_remove(table, "user_id", non_empty(&draft.user_id));

    let (orange, red) = (non_empty(&draft.orange), non_empty(&draft.red));
    if orange.is_none() && red.is_none() {
        table.remove("thresholds");
    } else {
        let t = table
            .entry("thresholds")
            .or_insert(Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| form("thresholds", "the config has `thresholds` as something other than a table"))?;
        set_or_remove(t, "orange", orange);
        set_or_remove(t, "red", red);
    }

    if provider.describe().endpoints_in_config {
        let o = table
            .entry("oauth2")
            .or_insert(Item::Table(Table::new()))
            .as_table_mut()
            .ok_or_else(|| form("oauth2", "the config has `oauth2` as something other than a table"))?;
        set_or_remove(o, "authorize_url", non_empty(&draft.authorize_url));
        set_or_remove(o, "token_url", non_empty(&draft.token_url));
        set_or_remove(o, "profile_url", non_empty(&draft.profile_url));
        match non_empty(&draft.scopes) {
            Some(s) => {
                o["scopes"] = value(s.split_whitespace().collect::<Array>());
            }
            None => {
                o.remove("scopes");
            }
        }
    } else {
        table.remove("oauth2");
    }
    checked(doc.to_string(), path)
}

pub fn remove_account(text: &str, path: &Path, id: &str) -> Result<String, EditError> {
    let mut doc = parse(text, path)?;
    let list = accounts(&mut doc)?;
    let before = list.len();
    list.retain(|t| t.get("id").and_then(|v| v.as_str()) != Some(id));
    if list.len() == before {
        return Err(form("id", format!("no account `{id}`")));
    }
    checked(doc.to_string(), path)
}

/// Sets the default thresholds for every account.
pub fn set_thresholds(text: &str, path: &Path, orange: &str, red: &str) -> Result<String, EditError> {
    let mut doc = parse(text, path)?;
    let t = doc
        .entry("thresholds")
        .or_insert(Item::Table(Table::new()))
        .as_table_mut()
        .ok_or_else(|| form("thresholds", "the config has `thresholds` as something other than a table"))?;
    t["orange"] = value(orange.trim());
    t["red"] = value(red.trim());
    checked(doc.to_string(), path)
}

fn checked(text: String, path: &Path) -> Result<String, EditError> {
    match Config::parse(&text, path) {
        Ok(_) => Ok(text),
        Err(ConfigError::Invalid { message, .. }) => Err(EditError::Rejected(message)),
        Err(e) => Err(EditError::Unreadable(e)),
    }
}
