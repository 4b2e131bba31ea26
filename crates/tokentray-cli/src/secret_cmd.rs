//! `tokentray secret set|delete ACCOUNT`.

use crate::cli::{Global, SecretAction};
use crate::context::{CliError, Context};
use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use tokentray_adapters::store::SecretItem;
use tokentray_adapters::Secret;
use tokentray_runtime::control::{call, AccountSecret};

pub async fn run(global: &Global, action: SecretAction) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let store = ctx.secrets()?;
    match action {
        SecretAction::Set { vault_token, vault_secret_id, .. } if vault_token || vault_secret_id => {
            let Some(vault) = &ctx.config.vault else {
                return Err(CliError::Usage(format!(
                    "{} has no [vault] table with storage = \"vault\": there is no Vault to sign in to",
                    ctx.config.path.display()
                )));
            };
            let approle = matches!(vault.auth, tokentray_adapters::config::vault::VaultAuth::AppRole { .. });
            if vault_token == approle {
                let uses = if approle {
                    "auth = \"approle\": store --vault-secret-id"
                } else {
                    "a token: store --vault-token"
                };
                return Err(CliError::Usage(format!("[vault] in {} signs in with {uses}", ctx.config.path.display())));
            }
            let (item, what) = match vault_token {
                true => (SecretItem::VaultToken, "Vault token"),
                false => (SecretItem::VaultSecretId, "AppRole secret id"),
            };
            let secret = read_secret(&format!("{what} for {}: ", vault.address))?;
            // Filed with this machine's own keys: the store passes it to the local one.
            store.set("tokentray", item, &secret)?;
            eprintln!("stored the {what} in this machine's {}", local_store_name(vault.local_secrets));
        }
        SecretAction::Set { account: Some(name), alert: true, .. } => {
            let alert = alert_named(&ctx, &name)?;
            let secret = read_secret(&format!("secret for the {} alert {}: ", alert.channel.kind(), alert.name))?;
            store.set(&alert.name, SecretItem::AlertSecret, &secret)?;
            eprintln!("stored the secret for the alert {} in the {}", alert.name, store.kind());
        }
        SecretAction::Delete { account: name, alert: true, .. } => {
            let alert = alert_named(&ctx, &name)?;
            store.delete(&alert.name, SecretItem::AlertSecret)?;
            eprintln!("removed the secret for the alert {} from the {}", alert.name, store.kind());
        }
        SecretAction::Set { account, pin, .. } => {
            let account = ctx.account(account.as_deref().unwrap_or_default())?;
            let (item, what) = item(pin);
            let secret = read_secret(&format!("{what} for {} ({}): ", account.id, account.provider))?;
            // The running engine stores it and tries the new credentials; or this process does.
            let set = call::SetSecret { account: account.id.clone(), item, secret: secret.clone() };
            if crate::account_cmd::handed_over(&ctx, set).await?.is_none() {
                store.set(&account.id, item.into(), &secret)?;
                // New credentials may be tried again, by every process.
                ctx.engine()?.credentials_changed(&account.id, item.into()).await?;
                crate::account_cmd::announce(&ctx, &account.id, true).await;
            }
            eprintln!("stored the {what} for {} in the {}", account.id, store.kind());
        }
        SecretAction::Delete { account, pin, .. } => {
            let account = ctx.account(&account)?;
            let (item, what) = item(pin);
            store.delete(&account.id, item.into())?;
            eprintln!("removed the {what} for {} from the {}", account.id, store.kind());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn alert_named<'a>(
    ctx: &'a Context,
    name: &str,
) -> Result<&'a tokentray_adapters::config::alerts::AlertConfig, CliError> {
    ctx.config.alerts.iter().find(|a| a.name == name).ok_or_else(|| {
        let names: Vec<&str> = ctx.config.alerts.iter().map(|a| a.name.as_str()).collect();
        CliError::Usage(format!(
            "no alert is named `{name}` in {}{}",
            ctx.config.path.display(),
            if names.is_empty() { String::new() } else { format!(" (it has: {})", names.join(", ")) }
        ))
    })
}

fn local_store_name(local: tokentray_adapters::config::vault::LocalSecrets) -> &'static str {
    match local {
        tokentray_adapters::config::vault::LocalSecrets::Keyring => "OS keyring",
        tokentray_adapters::config::vault::LocalSecrets::Plaintext => "plaintext secrets file",
    }
}

fn item(pin: bool) -> (AccountSecret, &'static str) {
    let item = if pin { AccountSecret::Pin } else { AccountSecret::ApiSecret };
    (item, item.name())
}

/// Without echo from a terminal; otherwise the whole of standard input, so
/// `pass show kite | tokentray secret set kite` works.
fn read_secret(prompt: &str) -> Result<Secret, CliError> {
    let io = |source| CliError::Io { context: "cannot read the secret".to_owned(), source };
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(prompt).map_err(io)?
    } else {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(io)?;
        text
    };
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() {
        return Err(CliError::Usage("the secret is empty; nothing was stored".to_owned()));
    }
    Ok(Secret::new(text))
}
