//! The Dhan adapter against the sandbox over loopback HTTP, asserting on the
//! exact requests the sandbox received (docs/providers/dhan.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::{auth_header, CallbackError};
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, ProviderKind, Refreshability, Span};

#[tokio::test]
async fn the_login_starts_with_a_consent_made_with_the_apps_key_and_secret() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let attempt = new_attempt(&dhan).await;

    let sent = &sb.requests_to("/app/generate-consent")[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.query["client_id"], DHAN_CLIENT);
    assert_eq!(sent.header("app_id"), Some(DHAN_KEY));
    assert_eq!(sent.header("app_secret"), Some(DHAN_SECRET));
    assert_eq!(attempt.url.path(), "/login/consentApp-login");
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(q["consentAppId"].len(), 36, "a consent id: {q:?}");
}

#[tokio::test]
async fn a_wrong_secret_stops_the_login_before_the_browser_opens() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let e = dhan.begin_login(&Secret::new("wrong")).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(401), ErrorClass::CredentialsWrong), "{e}");
    assert!(!e.to_string().contains("wrong"), "the secret is not echoed: {e}");
}

#[tokio::test]
async fn the_redirect_brings_a_token_id_without_state_which_is_exchanged_once() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let attempt = new_attempt(&dhan).await;
    let location = redirect_location(&attempt.url).await;
    assert!(location.starts_with("http://127.0.0.1:9/dhan/callback/?tokenId="), "as Dhan's docs write it: {location}");
    let back: HashMap<String, String> = url::Url::parse(&location).unwrap().query_pairs().into_owned().collect();
    assert!(!back.contains_key("state"), "Dhan sends no state: {back:?}");
    let again = reqwest::get(attempt.url.clone()).await.unwrap();
    assert_eq!(again.status(), 400, "a consent serves one login");
    let code = dhan.read_callback(&back, &attempt).unwrap();
    assert_eq!(code.code.expose(), back["tokenId"]);
    assert_eq!(dhan.read_callback(&HashMap::new(), &attempt), Err(CallbackError::Missing("tokenId")));

    let now = Utc::now();
    let grant = dhan.exchange(&code, &attempt, &secret_for("dhan"), now).await.unwrap();
    let sent = &sb.requests_to("/app/consumeApp-consent")[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.query["tokenId"], code.code.expose());
    assert_eq!((sent.header("app_id"), sent.header("app_secret")), (Some(DHAN_KEY), Some(DHAN_SECRET)));

    assert_eq!(grant.user.user_id.as_deref(), Some(DHAN_CLIENT));
    assert_eq!(grant.tokens.refresh_token, None);
    assert_eq!(grant.meta.refresh, Refreshability::WhileValid, "a live token renews itself");
    let lifetime = grant.meta.expires_at - now;
    assert!(lifetime > Span::hours(23) && lifetime <= Span::hours(24), "24 hours, read from the JWT: {lifetime}");

    let e = dhan.exchange(&code, &attempt, &secret_for("dhan"), Utc::now()).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("DH-905"), "a token id works once: {e}");
}

#[tokio::test]
async fn a_login_for_another_client_is_refused() {
    let sb = sandbox().await;
    let mut account = account(&sb, "dhan");
    account.user_id = Some("9999999999".into());
    let dhan = tokentray_adapters::provider::ProviderClient::new(
        account,
        tokentray_adapters::provider::http_client(std::time::Duration::from_secs(2)),
    );
    // The sandbox refuses a consent for a client the app is not for...
    assert!(dhan.begin_login(&secret_for("dhan")).await.is_err());
    // ...and a token id from someone else's login is refused after the exchange.
    let real = client(&sb, "dhan");
    let attempt = new_attempt(&real).await;
    let code = real.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = dhan.exchange(&code, &attempt, &secret_for("dhan"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "log in as the right client");
    assert!(e.message.contains(DHAN_CLIENT) && e.message.contains("nothing was stored"), "{e}");
}

#[tokio::test]
async fn renewal_trades_the_live_token_for_a_new_one_and_ends_the_old() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let (grant, _) = login(&dhan).await;
    let renewed = dhan.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("dhan")), Utc::now()).await.unwrap();

    let sent = &sb.requests_to("/v2/RenewToken")[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(sent.header("access-token"), Some(grant.tokens.access_token.expose()));
    assert_eq!(sent.header("dhanClientId"), Some(DHAN_CLIENT));
    assert_ne!(renewed.tokens.access_token, grant.tokens.access_token);
    assert_eq!(renewed.meta.login_at, grant.meta.login_at);
    assert_eq!(dhan.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid, "the old one ended");
    dhan.validate(&renewed.tokens).await.unwrap();
}

#[tokio::test]
async fn an_expired_token_cannot_be_renewed() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let (grant, _) = login(&dhan).await;
    sb.expire_access_tokens();
    let e = dhan.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("dhan")), Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(401), Some("DH-901"), ErrorClass::TokenInvalid));
}

#[tokio::test]
async fn validation_sends_the_token_in_access_token() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let (grant, _) = login(&dhan).await;
    let user = dhan.validate(&grant.tokens).await.unwrap();
    assert_eq!(user.user_id.as_deref(), Some(DHAN_CLIENT));
    let sent = &sb.requests_to("/v2/profile")[0];
    assert_eq!(sent.header("access-token"), Some(grant.tokens.access_token.expose()));
    assert_eq!(sent.header("authorization"), None);
    let (name, value) = auth_header(ProviderKind::Dhan, DHAN_KEY, &grant.tokens.access_token).unwrap();
    assert_eq!((name, value.as_str()), ("access-token", grant.tokens.access_token.expose()));

    // A new login ends the earlier token: one token at a time.
    let (second, _) = login(&dhan).await;
    let e = dhan.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("DH-901"), ErrorClass::TokenInvalid));
    dhan.validate(&second.tokens).await.unwrap();
    dhan.logout(&second.tokens, None).await.expect("Dhan has no logout call: the logout is local");
}

#[tokio::test]
async fn a_token_answer_is_read_in_every_shape_dhans_clients_read() {
    let sb = sandbox().await;
    let dhan = client(&sb, "dhan");
    let now = Utc::now();
    let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE3OTU5MTQ0Mjl9.c2ln";
    for body in [
        serde_json::json!({"dhanClientId": DHAN_CLIENT, "accessToken": jwt, "expiryTime": "2026-11-29T09:00:00"}),
        serde_json::json!({"token": jwt}),
        serde_json::json!({"status": "success", "data": {"accessToken": jwt, "dhanClientId": DHAN_CLIENT}}),
    ] {
        let grant = dhan.read_token_answer(200, body.to_string().as_bytes(), now).unwrap();
        assert_eq!(grant.tokens.access_token.expose(), jwt, "{body}");
    }
    let e = dhan.read_token_answer(200, br#"{"status":"success","data":{"expiry":"soon"}}"#, now).unwrap_err();
    assert_eq!(e.class, ErrorClass::Malformed, "no token anywhere: {e}");
}
