//! `tokentray alert test [NAME]`: a test message to every alert (or the one
//! named), one try each, and how each went. Exit 0 when all arrived, 1 when
//! one did not (its line says why and what fixes it).

use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;

pub async fn test(global: &Global, name: Option<&str>) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    if ctx.config.alerts.is_empty() {
        return Err(CliError::Usage(format!(
            "no [[alert]] in {}; the README's \"Alerts\" section shows ntfy, Telegram, a webhook and a command",
            ctx.config.path.display()
        )));
    }
    let engine = ctx.engine()?;
    let Some(outcomes) = engine.test_alerts(name).await else {
        let names: Vec<&str> = ctx.config.alerts.iter().map(|a| a.name.as_str()).collect();
        return Err(CliError::Usage(format!(
            "no alert is named `{}`; the config has: {}",
            name.unwrap_or_default(),
            names.join(", ")
        )));
    };
    let mut all = true;
    for o in &outcomes {
        match &o.error {
            None => println!("{:<16} {:<9} sent", o.name, o.kind),
            Some(why) => {
                all = false;
                println!("{:<16} {:<9} NOT SENT: {why}", o.name, o.kind);
            }
        }
    }
    Ok(if all { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
