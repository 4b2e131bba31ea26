//! The Fyers v3 adapter against the sandbox over loopback HTTP, asserting on
//! the exact requests the sandbox received (docs/providers/fyers.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::{app_id_hash, auth_header, CallbackError, Credentials};
use tokentray_adapters::Secret;
use tokentray_core::expiry::{fyers_refresh_limit, FYERS_CUTOFF};
use tokentray_core::{ErrorClass, ProviderKind, Refreshability};

#[test]
fn the_app_id_hash_is_sha256_of_app_id_colon_secret() {
    assert_eq!(app_id_hash(FYERS_KEY, FYERS_SECRET), sha256_hex(&format!("{FYERS_KEY}:{FYERS_SECRET}")));
}

#[tokio::test]
async fn the_login_url_carries_client_id_redirect_and_state() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let attempt = new_attempt(&fyers).await;
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(attempt.url.path(), "/api/v3/generate-authcode");
    assert_eq!(q["client_id"], FYERS_KEY);
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:9/fyers/callback");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["state"], attempt.state);

    let back = follow(&attempt.url).await;
    assert_eq!((back["s"].as_str(), back["code"].as_str()), ("ok", "200"));
    let code = fyers.read_callback(&back, &attempt).unwrap();
    assert_eq!(code.code.expose(), back["auth_code"], "the code is auth_code; `code=200` is a status");
}

#[tokio::test]
async fn a_refused_login_says_what_fyers_said() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let attempt = new_attempt(&fyers).await;
    let query: HashMap<String, String> =
        [("s", "error"), ("code", "-1"), ("message", "User cancelled"), ("state", &attempt.state)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
    assert_eq!(fyers.read_callback(&query, &attempt), Err(CallbackError::Denied("s=error: User cancelled".into())));
}

#[tokio::test]
async fn the_exchange_sends_json_with_the_app_id_hash_and_nothing_else() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let now = Utc::now();
    let (grant, _) = login(&fyers).await;

    let sent = &sb.requests_to("/api/v3/validate-authcode")[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("authorization"), None, "the token calls carry no authorization");
    let body = sent.json();
    assert_eq!(body["grant_type"], "authorization_code");
    assert_eq!(body["appIdHash"], sha256_hex(&format!("{FYERS_KEY}:{FYERS_SECRET}")));
    assert_eq!(body.as_object().unwrap().len(), 3, "nothing else is sent: {body}");

    assert!(grant.tokens.refresh_token.is_some());
    // The access token dies at 06:00 IST, as its JWT says; renewal works until
    // 06:00 IST on the 15th day after the login.
    assert_eq!(grant.meta.expires_at, FYERS_CUTOFF.next_after(grant.meta.issued_at));
    assert_eq!(grant.meta.refresh, Refreshability::Until(fyers_refresh_limit(grant.meta.login_at)));
    assert!(grant.meta.login_at >= now);
}

#[tokio::test]
async fn a_wrong_secret_is_a_credentials_error_and_the_code_is_spent() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let attempt = new_attempt(&fyers).await;
    let code = fyers.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = fyers.exchange(&code, &attempt, &Secret::new("wrong"), Utc::now()).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("-371"), ErrorClass::CredentialsWrong), "{e}");
    let e = fyers.exchange(&code, &attempt, &secret_for("fyers"), Utc::now()).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("-437"), ErrorClass::TokenInvalid), "{e}");
}

#[tokio::test]
async fn renewal_sends_the_refresh_token_and_the_pin_and_keeps_the_refresh_token() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let (grant, _) = login(&fyers).await;
    let renewed = fyers.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("fyers")), Utc::now()).await.unwrap();

    let body = sb.requests_to("/api/v3/validate-refresh-token")[0].json();
    assert_eq!(body["grant_type"], "refresh_token");
    assert_eq!(body["appIdHash"], sha256_hex(&format!("{FYERS_KEY}:{FYERS_SECRET}")));
    assert_eq!(body["refresh_token"], grant.tokens.refresh_token.as_ref().unwrap().expose());
    assert_eq!(body["pin"], FYERS_PIN);
    assert_ne!(renewed.tokens.access_token, grant.tokens.access_token);
    assert_eq!(renewed.tokens.refresh_token, grant.tokens.refresh_token, "no new refresh token: the old one is kept");
    assert_eq!(renewed.meta.login_at, grant.meta.login_at, "the 15 days count from the login");
    assert_eq!(renewed.meta.refresh, grant.meta.refresh);
    fyers.validate(&renewed.tokens).await.unwrap();
}

#[tokio::test]
async fn renewal_without_a_pin_or_with_a_wrong_one_asks_for_the_pin() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let (grant, _) = login(&fyers).await;
    let no_pin = Credentials::from(secret_for("fyers"));
    let e = fyers.refresh(&grant.tokens, &grant.meta, &no_pin, Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::CredentialsWrong);
    assert!(e.message.contains("tokentray secret set fyers --pin"), "{e}");
    assert!(sb.requests_to("/api/v3/validate-refresh-token").is_empty(), "nothing is sent without a PIN");

    let wrong = Credentials { secret: secret_for("fyers"), pin: Some(Secret::new("0000")) };
    let e = fyers.refresh(&grant.tokens, &grant.meta, &wrong, Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::CredentialsWrong, "a wrong PIN is the user's to fix, not a login: {e}");
    assert!(!e.to_string().contains("0000"), "the PIN is never shown: {e}");
}

#[tokio::test]
async fn a_revoked_refresh_token_means_log_in() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let (grant, _) = login(&fyers).await;
    sb.revoke_refresh_tokens();
    let e = fyers.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("fyers")), Utc::now()).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("-501"), ErrorClass::TokenInvalid), "{e}");
}

#[tokio::test]
async fn validation_uses_app_id_colon_token_and_sees_a_dead_token() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let (grant, _) = login(&fyers).await;
    let user = fyers.validate(&grant.tokens).await.unwrap();
    assert_eq!(user.user_id.as_deref(), Some("AB1234"));
    let sent = &sb.requests_to("/api/v3/profile")[0];
    let token = grant.tokens.access_token.expose();
    assert_eq!(sent.header("authorization"), Some(format!("{FYERS_KEY}:{token}").as_str()));
    assert_eq!(
        auth_header(ProviderKind::Fyers, FYERS_KEY, &grant.tokens.access_token).unwrap().1,
        format!("{FYERS_KEY}:{token}")
    );
    assert_eq!(sent.header("version"), Some("3"));

    sb.expire_access_tokens();
    let e = fyers.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(401), Some("-16"), ErrorClass::TokenInvalid));
}

#[tokio::test]
async fn logout_ends_the_token_at_fyers() {
    let sb = sandbox().await;
    let fyers = client(&sb, "fyers");
    let (grant, _) = login(&fyers).await;
    fyers.logout(&grant.tokens, None).await.unwrap();
    assert_eq!(sb.requests_to("/api/v3/logout")[0].method, "POST");
    assert_eq!(fyers.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
}
