//! The Tastytrade adapter against the sandbox over loopback HTTP, asserting
//! on the exact requests the sandbox received (docs/providers/tastytrade.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::auth_header;
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, ProviderKind, Refreshability};
use tokentray_sandbox::{Endpoint, Fault};

#[tokio::test]
async fn the_login_asks_for_read_and_trade_and_exchanges_the_code_as_json() {
    let sb = sandbox().await;
    let tasty = client(&sb, "tastytrade");
    let attempt = new_attempt(&tasty).await;
    assert_eq!(attempt.url.path(), "/auth.html");
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!((q["response_type"].as_str(), q["scope"].as_str()), ("code", "read trade"));
    assert_eq!(q["client_id"], TASTY_KEY);

    let back = follow(&attempt.url).await;
    assert_eq!(back["state"], attempt.state);
    let code = tasty.read_callback(&back, &attempt).unwrap();
    let grant = tasty.exchange(&code, &attempt, &secret_for("tastytrade"), Utc::now()).await.unwrap();

    let sent = &sb.requests_to("/oauth/token")[0];
    assert_eq!(sent.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!((body["client_id"].as_str(), body["client_secret"].as_str()), (Some(TASTY_KEY), Some(TASTY_SECRET)));
    assert!(sent.header("user-agent").is_some_and(|ua| ua.starts_with("tokentray/")), "product/version");

    let lifetime = grant.meta.expires_at - grant.meta.issued_at;
    assert_eq!(lifetime.num_seconds(), 900, "15 minutes");
    assert_eq!(grant.meta.refresh, Refreshability::Unbounded, "its refresh tokens do not expire");
    let (name, value) = auth_header(ProviderKind::Tastytrade, TASTY_KEY, &grant.tokens.access_token).unwrap();
    assert_eq!((name, value), ("Authorization", format!("Bearer {}", grant.tokens.access_token.expose())));
    let user = tasty.validate(&grant.tokens).await.unwrap();
    assert_eq!(user.user_id.as_deref(), Some("AB1234"), "its external id");
}

#[tokio::test]
async fn renewal_keeps_the_refresh_token_that_was_not_rotated() {
    let sb = sandbox().await;
    let tasty = client(&sb, "tastytrade");
    let (grant, _) = login(&tasty).await;
    let renewed =
        tasty.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("tastytrade")), Utc::now()).await.unwrap();
    assert_ne!(renewed.tokens.access_token, grant.tokens.access_token);
    assert_eq!(renewed.tokens.refresh_token, grant.tokens.refresh_token, "an answer without one keeps ours");
    let sent = sb.requests_to("/oauth/token").pop().unwrap();
    let body: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert_eq!(body["grant_type"], "refresh_token");
    tasty.validate(&renewed.tokens).await.expect("the renewed token works");
}

#[tokio::test]
async fn a_refused_refresh_token_is_asked_twice_then_believed() {
    let sb = sandbox().await;
    let tasty = client(&sb, "tastytrade");
    let (grant, _) = login(&tasty).await;
    let creds = creds(&secret_for("tastytrade"));
    // Once refused (as Tastytrade has refused good tokens): the second ask renews.
    sb.inject(Endpoint::TastyToken, Fault::InvalidToken, Some(1));
    sb.clear_requests();
    tasty.refresh(&grant.tokens, &grant.meta, &creds, Utc::now()).await.expect("asked again");
    assert_eq!(sb.requests_to("/oauth/token").len(), 2);
    // Revoked (the grant deleted on the website): refused twice, believed.
    sb.revoke_refresh_tokens();
    let e = tasty.refresh(&grant.tokens, &grant.meta, &creds, Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
    assert!(e.to_string().contains("invalid_grant"), "{e}");
}

#[tokio::test]
async fn a_wrong_secret_is_the_credentials_and_an_outage_is_retried() {
    let sb = sandbox().await;
    let tasty = client(&sb, "tastytrade");
    let (grant, _) = login(&tasty).await;
    let e = tasty.refresh(&grant.tokens, &grant.meta, &creds(&Secret::new("wrong")), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::CredentialsWrong, "{e}");
    assert!(!e.to_string().contains("wrong"), "the secret is not echoed: {e}");
    sb.inject(Endpoint::TastyToken, Fault::Status { code: 503 }, Some(1));
    let e = tasty.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("tastytrade")), Utc::now()).await;
    assert_eq!(e.unwrap_err().class, ErrorClass::Transient);
}

#[tokio::test]
async fn a_dead_access_token_is_refused_in_the_rest_apis_shape() {
    let sb = sandbox().await;
    let tasty = client(&sb, "tastytrade");
    let (grant, _) = login(&tasty).await;
    sb.expire_access_tokens();
    let e = tasty.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(401), ErrorClass::TokenInvalid), "{e}");
    assert_eq!(e.code.as_deref(), Some("unauthorized"));
    tasty.logout(&grant.tokens, None).await.expect("no revocation call: the logout is local");
}
