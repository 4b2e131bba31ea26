//! `tokentray snooze [DURATION|off]`: the running tray's or daemon's "Snooze
//! 1 h", from a terminal. Only a running engine tells anything, so there is
//! nothing to snooze without one.

use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;
use tokentray_runtime::control::call;

pub async fn snooze(global: &Global, duration: &str) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let seconds = match duration.trim() {
        "off" | "0" => None,
        text => {
            let span = tokentray_adapters::duration::parse_positive(text).map_err(|m| {
                CliError::Usage(format!("{m}; write a duration like `1h` or `30m`, or `off` to resume"))
            })?;
            if span > tokentray_runtime::MAX_SNOOZE {
                return Err(CliError::Usage(format!(
                    "`{text}` is longer than a snooze goes (7d); for nightly silence set quiet_hours under [notifications]"
                )));
            }
            Some(u64::try_from(span.num_seconds()).unwrap_or(u64::MAX))
        }
    };
    match crate::account_cmd::handed_over(&ctx, call::Snooze { seconds }).await? {
        Some(Some(until)) => {
            let now = tokentray_runtime::Clock::now(&tokentray_runtime::SystemClock);
            eprintln!("notifications snoozed until {}", tokentray_runtime::when(until, now))
        }
        Some(None) => eprintln!("notifications resumed"),
        None => {
            return Err(CliError::NotRunning(
                "no TokenTray runs here, and only a running one tells anything: start the tray or `tokentray daemon`"
                    .to_owned(),
            ))
        }
    }
    Ok(ExitCode::SUCCESS)
}
