//! "Ready to trade at the open?": the token works (the broker's profile
//! call), and where the broker lets a program read the static IPs it has
//! registered (Upstox, Dhan), this machine's egress IP is one of them.
//! Since 1 April 2026 Indian brokers refuse API orders from any other
//! address, so a mismatch is red, with what to do and the weekly change
//! lock; a broker that exposes nothing is "not checked": ready as far as
//! anyone can tell, and said so (`ip_verified` false), never "IP ok".

use crate::{Engine, EngineError};
use serde::{Deserialize, Serialize};
use tokentray_adapters::egress::egress_ip;
use tokentray_adapters::provider::static_ip::{ChangeLock, RegisteredIps};
use tokentray_core::{Instant, ProviderKind, State};

/// One check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    /// It will not work as it is: the message says what to do.
    Failed,
    /// It could not be told now (the broker or the echo unreachable).
    Unknown,
    /// Nothing to check it with.
    NotChecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub outcome: Outcome,
    pub message: String,
}

/// The IP side: what is registered and where this machine's orders come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpCheck {
    pub outcome: Outcome,
    pub message: String,
    pub egress: Option<String>,
    pub registered: Vec<String>,
    /// The weekly change lock, in words, where the broker says it.
    pub change_lock: Option<String>,
}

/// One account's readiness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readiness {
    pub account: String,
    pub label: String,
    pub provider: ProviderKind,
    /// The token works and nothing known stands in the way of orders.
    pub ready: bool,
    /// Whether the IP was compared with the registered ones (only then is
    /// "ready" about the IP too).
    #[serde(default)]
    pub ip_verified: bool,
    pub token: Check,
    pub ip: IpCheck,
}

impl Engine {
    /// Checks `id`, or every account of this machine, now.
    pub async fn ready(&self, id: Option<&str>) -> Result<Vec<Readiness>, EngineError> {
        let ids: Vec<String> = match id {
            Some(id) => {
                self.status(id)?;
                vec![id.to_owned()]
            }
            None => self.with_config(|c| c.accounts.iter().map(|a| a.id.clone()).collect()),
        };
        let mut all = Vec::with_capacity(ids.len());
        for id in ids {
            all.push(self.ready_one(&id).await?);
        }
        Ok(all)
    }

    /// At the pre-market reminder's moment, for accounts whose token
    /// lasts (a missing token has its own reminder): tells the user when
    /// this machine's IP is not one the broker registered. Only with
    /// `[ready] echo`, which finds the IP.
    pub(crate) fn check_ips_before_open(&self, due: Vec<(String, Instant)>) {
        if due.is_empty() || self.with_config(|c| c.ready.echo.is_none()) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        for (id, opens) in due {
            let engine = self.clone();
            // A stop waits for it: what it has to say before the open is said.
            let work = self.begin_work();
            runtime.spawn(async move {
                let _work = work;
                let Ok(r) = engine.ready_one(&id).await else { return };
                if r.token.outcome == Outcome::Ok && r.ip.outcome == Outcome::Failed {
                    tracing::warn!(account = %id, "before the open: {}", r.ip.message);
                    let opens_in = opens - engine.now();
                    let notice =
                        tokentray_core::Notice { kind: tokentray_core::NoticeKind::IpNotRegistered { opens_in } };
                    engine.dispatch(&id, vec![tokentray_core::Action::Notify(notice)]);
                }
            });
        }
    }

    async fn ready_one(&self, id: &str) -> Result<Readiness, EngineError> {
        let client = self.client(id)?;
        let (label, provider) = (client.account().label.clone(), client.kind());
        let token = match self.check(id).await {
            Ok(s) if matches!(s.state, State::Valid | State::Refreshing) => {
                Check { outcome: Outcome::Ok, message: "the token works (the broker's profile call said so)".into() }
            }
            Ok(s) => Check { outcome: Outcome::Failed, message: s.message },
            Err(e @ (EngineError::LoginNeeded { .. } | EngineError::NoToken(_))) => {
                Check { outcome: Outcome::Failed, message: format!("{e}: log in before the open") }
            }
            Err(EngineError::CannotCheck(_)) => Check {
                outcome: Outcome::NotChecked,
                message: "the provider has no call that tells whether a token works".into(),
            },
            Err(e) => Check { outcome: Outcome::Unknown, message: format!("could not tell: {e}") },
        };
        let ip = match token.outcome {
            Outcome::Ok => self.ip_check(id, provider).await,
            _ => IpCheck {
                outcome: Outcome::NotChecked,
                message: "needs a working token to ask the broker".into(),
                egress: None,
                registered: Vec::new(),
                change_lock: None,
            },
        };
        let ready = token.outcome == Outcome::Ok && matches!(ip.outcome, Outcome::Ok | Outcome::NotChecked);
        let ip_verified = ip.outcome == Outcome::Ok;
        Ok(Readiness { account: id.to_owned(), label, provider, ready, ip_verified, token, ip })
    }

    async fn ip_check(&self, id: &str, provider: ProviderKind) -> IpCheck {
        let mut check = IpCheck {
            outcome: Outcome::Unknown,
            message: String::new(),
            egress: None,
            registered: Vec::new(),
            change_lock: None,
        };
        let registered = match self.current_token(id).await {
            Ok(tokens) => self.client(id).map(|c| async move { c.registered_ips(&tokens.access_token).await }),
            Err(e) => {
                check.message = format!("could not read the token: {e}");
                return check;
            }
        };
        let registered = match registered {
            Ok(call) => call.await,
            Err(e) => {
                check.message = e.to_string();
                return check;
            }
        };
        let ips = match registered {
            Ok(Some(ips)) => ips,
            Ok(None) => {
                check.outcome = Outcome::NotChecked;
                check.message = format!(
                    "{} does not let a program read the static IPs registered with it: check them in its developer \
                     console",
                    provider.display_name()
                );
                return check;
            }
            Err(e) => {
                check.message = format!("could not read the registered static IPs: {e}");
                return check;
            }
        };
        check.registered = ips.addresses();
        check.change_lock = change_lock(&ips, provider, self.now());
        let echo = self.with_config(|c| c.ready.echo.clone());
        let egress = match echo {
            Some(echo) => match egress_ip(&self.http(), &echo).await {
                Ok(ip) => Some(ip),
                Err(e) => {
                    check.message = format!("could not tell this machine's address: {e}");
                    return check;
                }
            },
            None => None,
        };
        check.egress = egress.map(|ip| ip.to_string());
        let listed = match check.registered.is_empty() {
            true => "none".to_owned(),
            false => check.registered.join(", "),
        };
        (check.outcome, check.message) = match egress {
            _ if check.registered.is_empty() => (
                Outcome::Failed,
                format!(
                    "no static IP is registered with {}: orders are refused; register this server's address in its \
                     developer console",
                    provider.display_name()
                ),
            ),
            None => (
                Outcome::NotChecked,
                format!(
                    "registered: {listed}; this machine's address is not known: set [ready] echo = \
                     \"https://api.ipify.org\" to compare"
                ),
            ),
            Some(ip) if ips.admits(ip) => {
                (Outcome::Ok, format!("this machine's address {ip} is registered ({listed})"))
            }
            Some(ip) => (
                Outcome::Failed,
                format!(
                    "this machine's address {ip} is not registered ({listed}): orders from here are refused. Run \
                     the bots from a registered address, or register {ip} with {}{}",
                    provider.display_name(),
                    match provider {
                        ProviderKind::Upstox => " (a change there ends its tokens: log in again after it)",
                        _ => "",
                    }
                ),
            ),
        };
        check
    }
}

impl Readiness {
    /// A server that could not be asked: not ready, and why.
    pub fn unreachable(server: &str, why: String) -> Self {
        let unknown = |message: String| Check { outcome: Outcome::Unknown, message };
        Self {
            account: format!("*@{server}"),
            label: format!("server {server}"),
            provider: ProviderKind::OAuth2,
            ready: false,
            ip_verified: false,
            token: unknown(format!("the server could not be asked: {why}")),
            ip: IpCheck {
                outcome: Outcome::Unknown,
                message: "the server could not be asked".into(),
                egress: None,
                registered: Vec::new(),
                change_lock: None,
            },
        }
    }
}

/// The weekly change lock in words, as of `now` (Indian brokers' dates are IST).
fn change_lock(ips: &RegisteredIps, provider: ProviderKind, now: Instant) -> Option<String> {
    match &ips.change_lock {
        ChangeLock::AllowedFrom { date } => {
            // India has one offset, all year: +05:30.
            let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).expect("+05:30 is an offset");
            let today = now.with_timezone(&ist).date_naive();
            let days = (*date - today).num_days();
            Some(match days {
                ..=0 => format!("{} allows a change now (one change a week)", provider.display_name()),
                1 => format!("the next change is allowed from {date} (tomorrow)"),
                n => format!("the next change is allowed from {date} (in {n} days)"),
            })
        }
        ChangeLock::LastChanged { at } => {
            Some(format!("last changed {at}; {} allows one change per calendar week", provider.display_name()))
        }
        ChangeLock::Unknown => None,
    }
}
