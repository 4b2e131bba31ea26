//! `tokentray ready [ACCOUNT]`: is each account ready to trade at the open?
//! The token works (the broker's profile call) and, where the broker lets
//! a program read its registered static IPs, the machine the bots trade
//! from sends from one of them. A server's account is checked on the
//! server: its IP is the one that counts.

use crate::account_cmd::local_engine;
use crate::cli::Global;
use crate::context::{CliError, Context};
use std::process::ExitCode;
use tokentray_runtime::control::{self, call, ClientError};
use tokentray_runtime::remote::{self, Link};
use tokentray_runtime::{Outcome, Readiness};

pub async fn ready(global: &Global, account: Option<String>, json: bool) -> Result<ExitCode, CliError> {
    let ctx = Context::load(global.config.clone())?;
    let route = match &account {
        Some(id) => ctx.account_or_route(id)?,
        None => None,
    };
    let all = match control::ask(&ctx.data_dir, call::Ready { account: account.clone() }).await {
        Ok(all) => all,
        Err(ClientError::NotRunning) => match route {
            Some(route) => {
                let link = Link::open(&route.remote).await?;
                remote::ready_there(&link, &route.remote.name, Some(route.account.clone())).await?
            }
            None => {
                let mut all = local_engine(&ctx).await?.ready(account.as_deref()).await?;
                if account.is_none() {
                    for r in &ctx.config.remotes {
                        let asked = async { remote::ready_there(&Link::open(r).await?, &r.name, None).await };
                        match asked.await {
                            Ok(theirs) => all.extend(theirs),
                            Err(e) => all.push(Readiness::unreachable(&r.name, e.to_string())),
                        }
                    }
                }
                all
            }
        },
        Err(e) => return Err(CliError::Remote(e)),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&all).expect("readiness serializes"));
    } else {
        for r in &all {
            print!("{}", describe(r));
        }
    }
    if all.is_empty() {
        eprintln!("tokentray: no accounts to check in {}", ctx.config.path.display());
    }
    Ok(ExitCode::from(exit_code(&all)))
}

/// 0 when every account is ready (and there is one); 4 when a login would
/// make one so; 1 otherwise.
fn exit_code(all: &[Readiness]) -> u8 {
    match (!all.is_empty() && all.iter().all(|r| r.ready), all.iter().any(|r| r.token.outcome == Outcome::Failed)) {
        (true, _) => 0,
        (false, true) => 4,
        (false, false) => 1,
    }
}

fn word(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ok => "ok",
        Outcome::Failed => "NO",
        Outcome::Unknown => "unknown",
        Outcome::NotChecked => "not checked",
    }
}

/// Three lines for people: the verdict, the token, the IP.
fn describe(r: &Readiness) -> String {
    let verdict = match (r.ready, r.ip_verified) {
        (true, true) => "ready",
        (true, false) => "ready (its IP not checked)",
        (false, _) => "NOT READY",
    };
    let mut out = format!("{} ({}): {verdict}\n", r.account, r.label);
    out += &format!("  token: {}: {}\n", word(r.token.outcome), r.token.message);
    out += &format!("  IP:    {}: {}\n", word(r.ip.outcome), r.ip.message);
    if let Some(lock) = &r.ip.change_lock {
        out += &format!("         {lock}\n");
    }
    out
}
