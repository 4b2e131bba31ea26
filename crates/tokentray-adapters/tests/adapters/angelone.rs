//! The Angel One SmartAPI adapter against the sandbox over loopback HTTP,
//! asserting on the exact requests the sandbox received
//! (docs/providers/angelone.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::{auth_header, CallbackError};
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, ProviderKind, Refreshability, Span};

/// What every SmartAPI call must carry.
fn assert_smartapi_headers(sent: &tokentray_sandbox::RecordedRequest, token: &str) {
    assert_eq!(sent.header("x-privatekey"), Some(ANGEL_KEY));
    assert_eq!(sent.header("x-usertype"), Some("USER"));
    assert_eq!(sent.header("x-sourceid"), Some("WEB"));
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert_eq!(sent.header("accept"), Some("application/json"));
    for name in ["x-clientlocalip", "x-clientpublicip", "x-macaddress"] {
        assert!(sent.header(name).is_some_and(|v| !v.is_empty()), "{name}");
    }
    assert_eq!(sent.header("authorization"), Some(format!("Bearer {token}").as_str()));
}

#[tokio::test]
async fn the_publisher_login_brings_the_tokens_which_the_profile_confirms() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let attempt = new_attempt(&angel).await;
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(attempt.url.path(), "/publisher-login");
    assert_eq!((q["api_key"].as_str(), q["state"].as_str()), (ANGEL_KEY, attempt.state.as_str()));

    let back = follow(&attempt.url).await;
    let code = angel.read_callback(&back, &attempt).unwrap();
    assert_eq!(code.code.expose(), back["auth_token"]);
    assert_eq!(code.feed_token.as_ref().map(Secret::expose), Some(back["feed_token"].as_str()));
    let now = Utc::now();
    let grant = angel.exchange(&code, &attempt, &Secret::new(""), now).await.unwrap();

    // No code exchange: the one call is the profile, which names the client.
    let sent = sb.requests();
    let calls: Vec<_> = sent.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(calls, ["/publisher-login", "/rest/secure/angelbroking/user/v1/getProfile"]);
    assert_smartapi_headers(&sent[1], code.code.expose());
    assert_eq!(grant.user.user_id.as_deref(), Some(ANGEL_CLIENT));
    assert_eq!(grant.tokens.feed_token, code.feed_token);
    assert_eq!(grant.meta.refresh, Refreshability::Until(now + Span::hours(24)), "a daily login, renewed till then");
    // The JWT says three years; Angel ends tokens after a day.
    let lifetime = grant.meta.expires_at - now;
    assert!(lifetime <= Span::hours(24) && lifetime > Span::hours(23), "{lifetime}");
}

#[tokio::test]
async fn a_redirect_without_an_auth_token_or_with_a_forged_state_is_refused() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let attempt = new_attempt(&angel).await;
    let back = follow(&attempt.url).await;
    let mut missing = back.clone();
    missing.remove("auth_token");
    assert_eq!(angel.read_callback(&missing, &attempt), Err(CallbackError::Missing("auth_token")));
    let mut forged = back.clone();
    forged.insert("state".into(), "forged".into());
    assert_eq!(angel.read_callback(&forged, &attempt), Err(CallbackError::StateMismatch));
}

#[tokio::test]
async fn a_token_that_angel_does_not_accept_or_that_is_someone_elses_is_not_stored() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let attempt = new_attempt(&angel).await;
    let mut back = follow(&attempt.url).await;
    back.insert("auth_token".into(), "eyJforged.token.here".into());
    let code = angel.read_callback(&back, &attempt).unwrap();
    let e = angel.exchange(&code, &attempt, &Secret::new(""), Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(200), Some("AG8001"), ErrorClass::TokenInvalid));

    let mut other = account(&sb, "angelone");
    other.user_id = Some("Z999999".into());
    let other = tokentray_adapters::provider::ProviderClient::new(
        other,
        tokentray_adapters::provider::http_client(std::time::Duration::from_secs(2)),
    );
    let code = angel.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = other.exchange(&code, &attempt, &Secret::new(""), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "log in as the right client");
    assert!(e.message.contains(ANGEL_CLIENT) && e.message.contains("Z999999"), "{e}");
}

#[tokio::test]
async fn generate_tokens_renews_all_three_tokens() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let (grant, _) = login(&angel).await;
    let renewed = angel.refresh(&grant.tokens, &grant.meta, &creds(&Secret::new("")), Utc::now()).await.unwrap();

    let sent = &sb.requests_to("/rest/auth/angelbroking/jwt/v1/generateTokens")[0];
    assert_eq!(sent.method, "POST");
    assert_smartapi_headers(sent, grant.tokens.access_token.expose());
    assert_eq!(sent.json(), serde_json::json!({"refreshToken": grant.tokens.refresh_token.as_ref().unwrap().expose()}));
    assert_ne!(renewed.tokens.access_token, grant.tokens.access_token);
    assert_ne!(renewed.tokens.refresh_token, grant.tokens.refresh_token, "the rotated refresh token is kept");
    assert!(renewed.tokens.feed_token.is_some());
    assert_eq!(renewed.meta.login_at, grant.meta.login_at);
    angel.validate(&renewed.tokens).await.unwrap();

    let e = angel.refresh(&grant.tokens, &grant.meta, &creds(&Secret::new("")), Utc::now()).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("AB8050"), ErrorClass::TokenInvalid), "{e}");
}

#[tokio::test]
async fn validation_reads_the_gateways_ag8001_as_a_dead_token_even_with_http_200() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let (grant, _) = login(&angel).await;
    assert_eq!(angel.validate(&grant.tokens).await.unwrap().user_id.as_deref(), Some(ANGEL_CLIENT));
    let (name, value) = auth_header(ProviderKind::AngelOne, ANGEL_KEY, &grant.tokens.access_token).unwrap();
    assert_eq!((name, value), ("Authorization", format!("Bearer {}", grant.tokens.access_token.expose())));

    sb.expire_access_tokens();
    let e = angel.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(200), Some("AG8001"), ErrorClass::TokenInvalid));
}

#[tokio::test]
async fn logout_names_the_client_and_ends_the_session() {
    let sb = sandbox().await;
    let angel = client(&sb, "angelone");
    let (grant, _) = login(&angel).await;
    angel.logout(&grant.tokens, None).await.unwrap();
    let sent = &sb.requests_to("/rest/secure/angelbroking/user/v1/logout")[0];
    assert_eq!(sent.json(), serde_json::json!({"clientcode": ANGEL_CLIENT}));
    assert_smartapi_headers(sent, grant.tokens.access_token.expose());
    assert_eq!(angel.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
}
