//! Faults switched on per endpoint, to test every error path against real HTTP.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The endpoints a fault can be aimed at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Endpoint {
    KiteSessionToken,
    KiteRefreshToken,
    KiteProfile,
    KiteLogout,
    UpstoxToken,
    UpstoxProfile,
    UpstoxLogout,
    OAuth2Token,
    OAuth2Profile,
    OAuth2Revoke,
    FyersAuthCode,
    FyersRefresh,
    FyersProfile,
    FyersLogout,
    DhanConsent,
    DhanConsume,
    DhanRenew,
    DhanProfile,
    AngelTokens,
    AngelProfile,
    AngelLogout,
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
pub(crate) async fn intercept(
    shared: &crate::AppState,
    endpoint: Endpoint,
    flavor: crate::Flavor,
) -> Option<axum::response::Response> {
    use crate::reply::{
        angel_error, angel_gateway_error, dhan_error, fyers_error, kite_error, malformed, oauth_error, status_of,
        upstox_error,
    };
    use crate::Flavor;
    use axum::http::StatusCode;

    let mut fault = shared.faults.lock().expect("faults lock").take(endpoint)?;
    if let Fault::HeldThenStatus { code } = fault {
        hold(shared).await;
        fault = Fault::Status { code };
    }
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
        Fault::MalformedJson => Some(malformed()),
        Fault::Status { code } => Some(match flavor {
            Flavor::Kite => {
                let kind = match code {
                    502 | 504 => "DataException",
                    503 => "NetworkException",
                    400 => "InputException",
                    _ => "GeneralException",
                };
                kite_error(status_of(code), kind, "Something went wrong. Please try again.")
            }
            Flavor::Upstox => upstox_error(status_of(code), "UDAPI100500", "Something went wrong"),
            Flavor::OAuth2 => oauth_error(status_of(code), "server_error", "The server failed"),
            Flavor::Fyers => fyers_error(status_of(code), -96, "Something went wrong"),
            Flavor::Dhan => dhan_error(status_of(code), "Internal_Server_Error", "DH-908", "Internal server error"),
            Flavor::AngelOne => angel_error(status_of(code), "AB2001", "Internal Error, Please try after sometime"),
        }),
        Fault::InvalidToken => Some(match flavor {
            Flavor::Kite => kite_error(StatusCode::FORBIDDEN, "TokenException", "Token is invalid or has expired."),
            Flavor::Upstox => upstox_error(StatusCode::UNAUTHORIZED, "UDAPI100050", "Invalid token used to access API"),
            Flavor::OAuth2 if matches!(endpoint, Endpoint::OAuth2Token) => {
                oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "The refresh token is invalid")
            }
            Flavor::OAuth2 => oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", "The access token is invalid"),
            Flavor::Fyers if matches!(endpoint, Endpoint::FyersRefresh) => {
                fyers_error(StatusCode::BAD_REQUEST, -501, "Please provide valid refresh token")
            }
            Flavor::Fyers => fyers_error(StatusCode::UNAUTHORIZED, -16, "Could not authenticate the user"),
            Flavor::Dhan => dhan_error(
                StatusCode::UNAUTHORIZED,
                "Invalid_Authentication",
                "DH-901",
                "Client ID or user generated access token is invalid or expired.",
            ),
            Flavor::AngelOne if matches!(endpoint, Endpoint::AngelTokens) => {
                angel_error(StatusCode::OK, "AB8050", "Invalid Refresh Token")
            }
            Flavor::AngelOne => angel_gateway_error("AG8001", "Invalid Token"),
        }),
        Fault::HostileToken => Some(crate::reply::hostile_token(flavor)),
        Fault::HugeBody => Some(crate::reply::huge()),
        Fault::RateLimit => Some(match flavor {
            Flavor::Kite => kite_error(StatusCode::TOO_MANY_REQUESTS, "NetworkException", "Too many requests"),
            Flavor::Upstox => upstox_error(StatusCode::TOO_MANY_REQUESTS, "UDAPI10005", "Too Many Request Sent"),
            Flavor::OAuth2 => oauth_error(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests"),
            Flavor::Fyers => fyers_error(StatusCode::TOO_MANY_REQUESTS, -353, "API Limit exceeded"),
            Flavor::Dhan => dhan_error(StatusCode::TOO_MANY_REQUESTS, "Rate_Limit", "DH-904", "Too many requests"),
            Flavor::AngelOne => {
                angel_error(StatusCode::TOO_MANY_REQUESTS, "", "Access denied because of exceeding access rate")
            }
        }),
    }
}
