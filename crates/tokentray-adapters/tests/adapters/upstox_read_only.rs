//! Upstox's year-long read-only tokens against the sandbox over loopback
//! HTTP: the extended token from the login's exchange, the analytics token
//! pasted from the console (docs/providers/upstox.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, Refreshability};

#[tokio::test]
async fn the_extended_token_comes_from_the_daily_login_and_lives_a_year() {
    let sb = sandbox().await;
    let extended = client(&sb, "upstox-extended");
    let (grant, _) = login(&extended).await;
    let answer = sb.requests_to("/v2/login/authorization/token");
    assert_eq!(answer.len(), 1);
    assert_eq!(answer[0].form()["refresh_extended_token"], "true", "this account's login makes a new one");
    let days = (grant.meta.expires_at - grant.meta.issued_at).num_days();
    assert!((364..=366).contains(&days), "about a year: {days} days");
    assert_eq!(grant.meta.refresh, Refreshability::NotRefreshable);
    // The profile is not on its list (UDAPI100067): the token is alive all the same.
    extended.validate(&grant.tokens).await.expect("a read-only token is alive");
    // A daily login of the same app (an `upstox` account) keeps it alive.
    let daily = client(&sb, "upstox");
    login(&daily).await;
    extended.validate(&grant.tokens).await.expect("kept by the daily login");
    // This account's next login makes a new one; the old one ends.
    let (again, _) = login(&extended).await;
    assert_ne!(again.tokens.access_token, grant.tokens.access_token);
    let e = extended.validate(&grant.tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
    extended.validate(&again.tokens).await.expect("the new one works");
}

#[tokio::test]
async fn an_analytics_token_is_pasted_checked_and_refused_once_replaced() {
    let sb = sandbox().await;
    let analytics = client(&sb, "upstox-analytics");
    let (grant, attempt) = login_with(&sb, &analytics).await;
    assert!(attempt.url.as_str().ends_with("/developer/apps"), "the console: {}", attempt.url);
    assert_eq!(sb.requests_to("/v2/market/status/NSE").len(), 1, "checked with an API on its list");
    assert!((grant.meta.expires_at - grant.meta.issued_at).num_days() >= 364);
    analytics.validate(&grant.tokens).await.unwrap();
    // A new one made in the console revokes this one.
    sb.make_upstox_analytics_token(UPSTOX_KEY);
    let e = analytics.validate(&grant.tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
    // Anything else pasted is not taken.
    let attempt = new_attempt(&analytics).await;
    for junk in ["not a token", "eyJhbGciOi.forged.token"] {
        let code = analytics.read_callback(&HashMap::from([("analytics_token".into(), junk.into())]), &attempt);
        let e = analytics.exchange(&code.unwrap(), &attempt, &Secret::new(""), Utc::now()).await.unwrap_err();
        assert_ne!(e.class, ErrorClass::Transient, "{junk}: {e}");
    }
}
