//! `tokentray status` and `tokentray accounts`: read from the config and the
//! state file only, so they never need the keyring. With Vault as the
//! store, `status` also asks Vault about its own token (signing in with
//! this machine's Vault credential).

use crate::cli::Global;
use crate::context::{CliError, Context};
use chrono::Local;
use std::fmt::Write;
use std::process::ExitCode;
use tokentray_adapters::store::StorageKind;
use tokentray_runtime::AccountStatus;

pub async fn status(global: &Global, json: bool) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let engine = ctx.engine()?;
    let mut statuses = engine.statuses();
    let (server_accounts, servers) = crate::remote_cmd::statuses(&ctx).await;
    statuses.extend(server_accounts);
    let storage = engine.storage();
    let calendar = engine.calendar_gaps();
    let vault = engine.shared_status().await;
    if json {
        let body = serde_json::json!({
            "storage": storage_name(&storage),
            "storage_plaintext": matches!(storage, StorageKind::Plaintext(_)),
            "accounts": statuses,
            // Each alert's last sending, whichever process sent it.
            "alerts": engine.alert_outcomes(),
            // Until when notifications and alerts that can wait are held (a snooze, quiet hours).
            "silenced_until": engine.silenced_until(),
            "snoozed_until": engine.snoozed_until(),
            // Exchanges whose holidays this year or next are not listed.
            "calendar_gaps": calendar,
            // The shared store, with `storage = "vault"`: reachable, and its token's time left.
            "vault": vault,
            // The servers of `[[remote]]`: reachable, or since when and why not.
            "servers": servers,
        });
        println!("{}", serde_json::to_string_pretty(&body).expect("status serializes"));
    } else {
        print!("{}", table(&statuses, &storage));
        if let Some(until) = engine.silenced_until() {
            println!("notifications that can wait are held until {}", until.with_timezone(&Local).format("%a %H:%M"));
        }
        for gap in calendar {
            println!("calendar: {gap}");
        }
        for server in &servers {
            match (&server.why, server.unreachable_since) {
                (Some(why), Some(since)) => println!(
                    "server {}: unreachable since {}: {why}",
                    server.name,
                    since.with_timezone(&Local).format("%H:%M")
                ),
                (Some(why), None) => println!("server {}: {why}", server.name),
                (None, _) if server.reachable => println!(
                    "server {}: followed over SSH ({}), TokenTray {}",
                    server.name,
                    server.ssh,
                    server.version.as_deref().unwrap_or("?")
                ),
                (None, _) => println!("server {}: connecting over SSH ({})", server.name, server.ssh),
            }
        }
        if let Some(v) = vault {
            match (&v.failing, &v.token_left) {
                (Some(why), _) => println!("vault: {why}"),
                (None, Some(left)) => println!(
                    "vault: reachable; its token has {left} left{}",
                    if v.token_renewable == Some(true) { " and is renewed before it ends" } else { "" }
                ),
                (None, None) => println!("vault: reachable; its token does not expire"),
            }
            if let Some(warning) = v.warning {
                println!("WARNING: {warning}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn accounts(global: &Global) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    if ctx.config.accounts.is_empty() {
        println!("no accounts in {}", ctx.config.path.display());
    }
    for a in &ctx.config.accounts {
        let d = a.describe();
        let mut about = Vec::new();
        if d.needs_app_key() {
            about.push(format!("api_key={}", a.api_key));
        }
        // Watched (a gateway's page), a token pasted, a code typed, or a redirect.
        match (d.login.redirects(), d.login.typed_field(), a.redirect_uri.as_str()) {
            (false, None, _) => about.push(format!("gateway={} (its own login page)", a.api_base)),
            (false, Some(_), _) => about.push("login: paste the token the page shows".into()),
            (true, Some(_), tokentray_adapters::config::OUT_OF_BAND) => {
                about.push("login: paste the code the page shows".into())
            }
            (_, _, uri) => about.push(format!("redirect_uri={uri}")),
        }
        if d.read_only {
            about.push("READ-ONLY: its token cannot place orders".into());
        }
        println!("{:<16} {:<16} {:<20} {}", a.id, a.provider, a.label, about.join(" "));
    }
    Ok(ExitCode::SUCCESS)
}

fn storage_name(kind: &StorageKind) -> String {
    kind.to_string()
}

/// The status as a table for people; also printed by the demo.
pub fn table(statuses: &[AccountStatus], storage: &StorageKind) -> String {
    let mut out = String::new();
    let mut row = |cells: [&str; 8]| {
        let [id, provider, state, level, act_in, user, checked, note] = cells;
        let _ =
            writeln!(out, "{id:<14} {provider:<8} {state:<11} {level:<8} {act_in:<12} {user:<10} {checked:<9} {note}");
    };
    row(["ACCOUNT", "PROVIDER", "STATE", "LEVEL", "ACT IN", "USER", "CHECKED", "NOTE"]);
    for s in statuses {
        let checked = s.last_validated.map(|t| t.with_timezone(&Local).format("%H:%M:%S").to_string());
        let failed_sink = s
            .sinks
            .iter()
            .find(|k| !k.ok)
            .map(|k| format!("sink {}: {}", k.path, k.error.as_deref().unwrap_or("failed")));
        // What needs saying most: trouble now (retrying, rejected, unsaved), then the last error, then a sink.
        let trouble = (s.retry_at.is_some() || s.pending_save.is_some() || s.needs_login() || s.unreachable())
            .then(|| s.message.clone());
        let read_only = s.provider.describe().read_only.then(|| "read-only: cannot place orders".to_owned());
        let error = trouble.or(s.last_error_message.clone()).or(failed_sink).or(read_only);
        row([
            &s.id,
            s.provider.as_str(),
            s.state.as_str(),
            s.level.as_str(),
            &s.countdown,
            s.user_id.as_deref().unwrap_or("-"),
            checked.as_deref().unwrap_or("-"),
            error.as_deref().unwrap_or("-"),
        ]);
    }
    let _ = writeln!(out, "secrets: {storage}");
    out
}
