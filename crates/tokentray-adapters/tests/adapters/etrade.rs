//! The E*TRADE adapter against the sandbox over loopback HTTP: OAuth 1.0a
//! with every request's signature checked by the sandbox as E*TRADE does
//! (docs/providers/etrade.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::CallbackError;
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, Refreshability};
use tokentray_sandbox::{Endpoint, Fault};

fn oauth_params(authorization: &str) -> HashMap<String, String> {
    let inner = authorization.strip_prefix("OAuth ").expect("an OAuth header");
    inner
        .split(',')
        .filter_map(|p| p.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
        .collect()
}

#[tokio::test]
async fn the_login_signs_each_step_and_keeps_the_token_with_its_secret() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade");
    let attempt = new_attempt(&etrade).await;

    let sent = &sb.requests_to("/oauth/request_token")[0];
    let p = oauth_params(sent.header("authorization").unwrap());
    assert_eq!((p["oauth_callback"].as_str(), p["oauth_signature_method"].as_str()), ("oob", "HMAC-SHA1"));
    assert_eq!(p["oauth_consumer_key"], ETRADE_KEY);
    assert_eq!(attempt.url.path(), "/e/t/etws/authorize");
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!((q["key"].as_str(), q["token"].as_str()), (ETRADE_KEY, attempt.state.as_str()));
    assert!(attempt.state.ends_with("+/="), "the request token is read decoded: {}", attempt.state);

    let back = follow(&attempt.url).await;
    assert_eq!(back["oauth_token"], attempt.state, "the registered callback echoes the request token");
    let code = etrade.read_callback(&back, &attempt).unwrap();
    let grant = etrade.exchange(&code, &attempt, &secret_for("etrade"), Utc::now()).await.unwrap();
    let sent = &sb.requests_to("/oauth/access_token")[0];
    let p = oauth_params(sent.header("authorization").unwrap());
    assert_eq!(p["oauth_verifier"], back["oauth_verifier"]);

    assert!(grant.tokens.token_secret.is_some(), "the token secret signs with the token");
    assert_eq!(grant.tokens.refresh_token, None);
    let idle = grant.meta.expires_at - grant.meta.issued_at;
    assert!(idle.num_minutes() <= 120, "two idle hours at most: {idle}");
    let midnight = tokentray_core::expiry::new_york_midnight_after(grant.meta.issued_at);
    assert_eq!(grant.meta.refresh, Refreshability::Until(midnight), "renewed until midnight US Eastern, at any hour");
    assert!(grant.meta.expires_at <= midnight);
    etrade.validate_with_secret(&grant.tokens, &secret_for("etrade")).await.expect("the signed check passes");
    let e = etrade.validate(&grant.tokens).await.unwrap_err();
    assert!(e.to_string().contains("consumer secret"), "a check needs the secret: {e}");
}

#[tokio::test]
async fn another_request_token_in_the_redirect_is_refused() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade");
    let attempt = new_attempt(&etrade).await;
    let other = new_attempt(&etrade).await;
    let back = follow(&other.url).await;
    assert_eq!(etrade.read_callback(&back, &attempt), Err(CallbackError::StateMismatch));
}

#[tokio::test]
async fn a_typed_code_logs_in_and_a_mistyped_one_can_be_typed_again() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade-oob");
    let attempt = new_attempt(&etrade).await;
    let page = reqwest::get(attempt.url.clone()).await.unwrap().text().await.unwrap();
    let code = page.split("id=\"verifier\">").nth(1).and_then(|r| r.split('<').next()).expect("the code is shown");
    // Typed: only the verifier, no request token.
    let typed = |c: &str| HashMap::from([("oauth_verifier".to_owned(), c.to_owned())]);
    let wrong = etrade.read_callback(&typed("00000x"), &attempt).unwrap();
    let e = etrade.exchange(&wrong, &attempt, &secret_for("etrade-oob"), Utc::now()).await.unwrap_err();
    assert!(e.to_string().contains("verifier_invalid"), "{e}");
    let right = etrade.read_callback(&typed(code), &attempt).unwrap();
    etrade.exchange(&right, &attempt, &secret_for("etrade-oob"), Utc::now()).await.expect("the right code");
    let again = etrade.exchange(&right, &attempt, &secret_for("etrade-oob"), Utc::now()).await.unwrap_err();
    assert_eq!(again.class, ErrorClass::TokenInvalid, "a request token serves once: {again}");
}

#[tokio::test]
async fn renewal_wakes_the_same_token_and_revocation_ends_it() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade");
    let (grant, _) = login(&etrade).await;
    let secret = secret_for("etrade");
    let later = Utc::now();
    let renewed = etrade.refresh(&grant.tokens, &grant.meta, &creds(&secret), later).await.unwrap();
    assert_eq!(renewed.tokens, grant.tokens, "renewed in place: the same token and secret");
    assert_eq!(renewed.meta.login_at, grant.meta.login_at);
    assert!(renewed.meta.expires_at >= grant.meta.expires_at);

    etrade.logout(&grant.tokens, Some(&secret)).await.unwrap();
    let e = etrade.validate_with_secret(&grant.tokens, &secret).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(401), ErrorClass::TokenInvalid), "{e}");
    let e = etrade.refresh(&grant.tokens, &grant.meta, &creds(&secret), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
}

#[tokio::test]
async fn a_wrong_secret_fails_the_signature_and_says_keys_expire() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade");
    let e = etrade.begin_login(&Secret::new("wrong")).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(401), ErrorClass::CredentialsWrong), "{e}");
    assert!(e.to_string().contains("signature_invalid") && e.to_string().contains("two years"), "{e}");
    assert!(!e.to_string().contains("wrong"), "the secret is not echoed: {e}");
}

#[tokio::test]
async fn outages_and_garbage_on_the_oauth_endpoints() {
    let sb = sandbox().await;
    let etrade = client(&sb, "etrade");
    let (grant, _) = login(&etrade).await;
    let creds = creds(&secret_for("etrade"));
    sb.inject(Endpoint::EtradeRenew, Fault::Status { code: 502 }, Some(1));
    let e = etrade.refresh(&grant.tokens, &grant.meta, &creds, Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient, "an HTML error page with a 502: {e}");
    sb.inject(Endpoint::EtradeRequestToken, Fault::MalformedJson, Some(1));
    let e = etrade.begin_login(&secret_for("etrade")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Malformed, "{e}");
    sb.inject(Endpoint::EtradeAccessToken, Fault::HostileToken, Some(1));
    let attempt = new_attempt(&etrade).await;
    let code = etrade.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = etrade.exchange(&code, &attempt, &secret_for("etrade"), Utc::now()).await.unwrap_err();
    assert!(e.to_string().contains("characters a token cannot have"), "{e}");
}
