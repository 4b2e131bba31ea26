//! Faults switched on per endpoint, to test every error path against real HTTP.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// An endpoint a fault can be aimed at: each broker's file names its own
/// (`Endpoint::KiteProfile`, ...), and says how it breaks ([`crate::broker::Broker`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint(pub(crate) &'static str);

impl Endpoint {
    pub fn name(self) -> &'static str {
        self.0
    }
}

impl Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        crate::BROKERS
            .iter()
            .flat_map(|b| b.endpoints())
            .find(|e| e.0 == name)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("no endpoint `{name}`")))
    }
}

/// How an endpoint misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Answer with this HTTP status and the provider's error body for it.
    Status { code: u16 },
    /// Answer normally, but only after this long.
    Delay { ms: u64 },
    /// Accept the request and never answer (until the client gives up).
    Hang,
    /// Hold the request until the test lets it go ([`crate::Sandbox::release_held`]),
    /// then answer normally: a test makes something happen while a call is
    /// in flight without guessing how long it takes.
    Held,
    /// Like [`Fault::Held`], then answer as [`Fault::Status`] with `code`:
    /// a failing call the test knows is in flight.
    HeldThenStatus { code: u16 },
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// Answer with the provider's invalid-token error.
    InvalidToken,
    /// Answer with the provider's rate-limit error.
    RateLimit,
    /// Answer a token request with a success whose access token holds shell
    /// syntax and a newline (an attacker's or a broken provider's token).
    HostileToken,
    /// Answer 200 with a JSON body of 2 MiB.
    HugeBody,
}

/// The access token [`Fault::HostileToken`] hands out: sourced by a shell
/// without care, it would run a command.
pub const HOSTILE_TOKEN: &str = "tok$(touch /tmp/tokentray-pwned)\nX=`id`";

impl Fault {
    pub fn delay(d: Duration) -> Self {
        Self::Delay { ms: d.as_millis() as u64 }
    }
}

#[derive(Debug, Default)]
pub struct FaultBook {
    entries: Vec<(Endpoint, Fault, Option<u32>)>,
}

impl FaultBook {
    pub fn add(&mut self, endpoint: Endpoint, fault: Fault, times: Option<u32>) {
        self.entries.push((endpoint, fault, times));
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The fault to apply to this request, spending one of its uses.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<Fault> {
        let i = self.entries.iter().position(|(e, _, n)| *e == endpoint && *n != Some(0))?;
        let (_, fault, remaining) = &mut self.entries[i];
        let fault = *fault;
        if let Some(n) = remaining {
            *n -= 1;
            if *n == 0 {
                self.entries.remove(i);
            }
        }
        Some(fault)
    }
}

/// Holds a request until the test releases it.
async fn hold(shared: &crate::AppState) {
    shared.held.send_modify(|n| *n += 1);
    shared.releases.acquire().await.expect("the release semaphore is never closed").forget();
}

/// Applies the pending fault for `endpoint`, if any: `Some` is the response to
/// send instead of the real one; a delay sleeps and then lets the request through.
pub(crate) async fn intercept(shared: &crate::AppState, endpoint: Endpoint) -> Option<axum::response::Response> {
    let mut fault = shared.faults.lock().expect("faults lock").take(endpoint)?;
    if let Fault::HeldThenStatus { code } = fault {
        hold(shared).await;
        fault = Fault::Status { code };
    }
    let broker = crate::broker_of(endpoint);
    match fault {
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            None
        }
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(3_600)).await;
            None
        }
        Fault::Held | Fault::HeldThenStatus { .. } => {
            hold(shared).await;
            None
        }
        Fault::MalformedJson => Some(crate::reply::malformed()),
        Fault::Status { code } => Some(broker.outage(crate::reply::status_of(code))),
        Fault::InvalidToken => Some(broker.invalid_token(endpoint)),
        Fault::HostileToken => Some(broker.hostile_token()),
        Fault::HugeBody => Some(crate::reply::huge()),
        Fault::RateLimit => Some(broker.rate_limited()),
    }
}
