//! Schwab and generic OAuth2 against the sandbox over loopback HTTP:
//! client authentication, PKCE, rotation, the 7-day limit and revocation,
//! asserting on the exact requests the sandbox received.

use crate::common::*;
use base64::Engine;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::Secret;
use tokentray_core::{ErrorClass, Refreshability, Span};
use tokentray_sandbox::{Endpoint, Fault};

// ---------------------------------------------------------------- Schwab

#[tokio::test]
async fn schwab_exchanges_with_basic_auth_and_counts_seven_days_from_login() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let attempt = new_attempt(&schwab).await;
    assert_eq!(attempt.url.path(), "/v1/oauth/authorize");
    assert!(attempt.pkce_verifier.is_none(), "Schwab does not use PKCE");
    let now = Utc::now();
    let code = schwab.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let grant = schwab.exchange(&code, &attempt, &secret_for("schwab"), now).await.unwrap();

    let sent = &sb.requests_to("/v1/oauth/token")[0];
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SCHWAB_KEY}:{SCHWAB_SECRET}"));
    assert_eq!(sent.header("authorization").unwrap(), format!("Basic {basic}"));
    let form = sent.form();
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], code.code.expose());
    assert_eq!(form["redirect_uri"], "http://127.0.0.1:9/schwab/callback");
    assert!(!form.contains_key("client_secret"), "the secret travels only in the header");

    assert_eq!(grant.meta.expires_at, now + Span::seconds(1800));
    assert_eq!(grant.meta.refresh, Refreshability::Until(now + Span::days(7)));
    schwab.validate(&grant.tokens).await.unwrap();
    assert_eq!(sb.requests_to("/trader/v1/userPreference").len(), 1);
}

#[tokio::test]
async fn schwab_refresh_rotates_and_the_old_refresh_token_dies() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let secret = secret_for("schwab");
    let (grant, _) = login(&schwab).await;
    let later = Utc::now();
    let renewed = schwab.refresh(&grant.tokens, &grant.meta, &creds(&secret), later).await.unwrap();
    let form = sb.requests_to("/v1/oauth/token")[1].form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], grant.tokens.refresh_token.as_ref().unwrap().expose());
    assert_ne!(renewed.tokens.refresh_token, grant.tokens.refresh_token, "rotated");
    assert_eq!(renewed.meta.login_at, grant.meta.login_at);
    assert_eq!(renewed.meta.refresh, grant.meta.refresh, "the 7-day limit counts from the login, not the refresh");

    let e = schwab.refresh(&grant.tokens, &grant.meta, &creds(&secret), Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(400), Some("invalid_grant"), ErrorClass::TokenInvalid));
    schwab.refresh(&renewed.tokens, &renewed.meta, &creds(&secret), Utc::now()).await.unwrap();
}

#[tokio::test]
async fn a_revoked_refresh_token_is_invalid_grant() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let (grant, _) = login(&schwab).await;
    sb.revoke_refresh_tokens();
    let e = schwab.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("schwab")), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let attempt = new_attempt(&schwab).await;
    let code = schwab.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = schwab.exchange(&code, &attempt, &Secret::new("wrong"), Utc::now()).await.unwrap_err();
    assert_eq!(
        (e.status, e.code.as_deref(), e.class),
        (Some(401), Some("invalid_client"), ErrorClass::CredentialsWrong)
    );
}

// ---------------------------------------------------------------- generic OAuth2

#[tokio::test]
async fn oauth2_uses_pkce_s256_and_body_client_auth() {
    let sb = sandbox().await;
    let generic = client(&sb, "generic");
    let attempt = new_attempt(&generic).await;
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    let verifier = attempt.pkce_verifier.clone().expect("PKCE is on by default");
    assert!((43..=128).contains(&verifier.expose().len()));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.expose().as_bytes()));
    assert_eq!(q["code_challenge"], challenge);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["scope"], "read trade");

    let (grant, _) = {
        let code = generic.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
        let g = generic.exchange(&code, &attempt, &secret_for("generic"), Utc::now()).await.unwrap();
        (g, attempt.clone())
    };
    let sent = &sb.requests_to("/v1/oauth/token")[0];
    assert_eq!(sent.header("authorization"), None);
    let form = sent.form();
    assert_eq!(form["code_verifier"], verifier.expose());
    assert_eq!(form["client_id"], PKCE_KEY);
    assert_eq!(form["client_secret"], PKCE_SECRET);
    assert_eq!(grant.meta.refresh, Refreshability::Unbounded, "no refresh_limit configured");
    let user = generic.validate(&grant.tokens).await.unwrap();
    assert_eq!(user.user_id.as_deref(), Some("AB1234"));
}

#[tokio::test]
async fn oauth2_with_the_wrong_verifier_is_refused() {
    let sb = sandbox().await;
    let generic = client(&sb, "generic");
    let mut attempt = new_attempt(&generic).await;
    let code = generic.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    attempt.pkce_verifier = Some(Secret::new("an-attacker-does-not-know-the-verifier-0123456789"));
    let e = generic.exchange(&code, &attempt, &secret_for("generic"), Utc::now()).await.unwrap_err();
    assert_eq!((e.code.as_deref(), e.class), (Some("invalid_grant"), ErrorClass::TokenInvalid));
}

#[tokio::test]
async fn oauth2_logout_revokes_both_tokens() {
    let sb = sandbox().await;
    let generic = client(&sb, "generic");
    let (grant, _) = login(&generic).await;
    generic.logout(&grant.tokens, Some(&secret_for("generic"))).await.unwrap();
    let sent = sb.requests_to("/v1/oauth/revoke");
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].form()["token_type_hint"], "refresh_token");
    assert_eq!(sent[1].form()["token"], grant.tokens.access_token.expose());
    assert_eq!(generic.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
    let e = generic.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("generic")), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
}

#[tokio::test]
async fn oauth2_logout_revokes_the_access_token_even_when_the_refresh_revocation_fails() {
    let sb = sandbox().await;
    let generic = client(&sb, "generic");
    let (grant, _) = login(&generic).await;
    sb.inject(Endpoint::OAuth2Revoke, Fault::Status { code: 503 }, Some(1));
    let e = generic.logout(&grant.tokens, Some(&secret_for("generic"))).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient, "the failure is reported");
    assert_eq!(sb.requests_to("/v1/oauth/revoke").len(), 2, "both revocations were tried");
    assert_eq!(generic.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
}
