//! Every provider adapter against the sandbox over loopback HTTP, asserting on
//! the exact requests the sandbox received.

mod common;

use base64::Engine;
use chrono::Utc;
use common::*;
use std::collections::HashMap;
use tokentray_adapters::provider::CallbackError;
use tokentray_adapters::store::TokenSet;
use tokentray_adapters::Secret;
use tokentray_core::expiry::{kite_expiry, UPSTOX_CUTOFF};
use tokentray_core::{ErrorClass, Refreshability, Span};
use tokentray_sandbox::{Endpoint, Fault};

// ---------------------------------------------------------------- Kite

#[tokio::test]
async fn kite_login_url_carries_state_in_redirect_params() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = kite.begin_login();
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(attempt.url.path(), "/connect/login");
    assert_eq!(q["v"], "3");
    assert_eq!(q["api_key"], KITE_KEY);
    assert_eq!(q["redirect_params"], format!("state={}", attempt.state));
    assert!(attempt.state.len() >= 22, "state has at least 128 bits");
    assert_ne!(kite.begin_login().state, attempt.state, "a fresh state per attempt");

    let back = follow(&attempt.url).await;
    assert_eq!(back["action"], "login");
    assert_eq!(back["status"], "success");
    assert_eq!(back["state"], attempt.state);
}

#[tokio::test]
async fn kite_exchange_sends_the_sha256_checksum_and_version_header() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let before = Utc::now();
    let (grant, _) = login(&kite).await;

    let sent = &sb.requests_to("/session/token")[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.header("x-kite-version"), Some("3"));
    assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form = sent.form();
    let rt = &form["request_token"];
    assert_eq!(form["api_key"], KITE_KEY);
    assert_eq!(form["checksum"], sha256_hex(&format!("{KITE_KEY}{rt}{KITE_SECRET}")));
    assert_eq!(form.len(), 3, "nothing else is sent: {form:?}");

    assert_eq!(grant.user.user_id.as_deref(), Some("AB1234"));
    assert_eq!(grant.tokens.refresh_token, None, "an empty refresh_token means none");
    assert_eq!(grant.meta.refresh, Refreshability::NotRefreshable);
    // login_time is IST to the second: the login happened within this test.
    assert!(grant.meta.login_at >= before - Span::seconds(1) && grant.meta.login_at <= Utc::now());
    assert_eq!(grant.meta.expires_at, kite_expiry(grant.meta.issued_at.max(grant.meta.login_at)));
}

#[tokio::test]
async fn kite_with_a_wrong_secret_is_told_the_secret_is_wrong() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = kite.begin_login();
    let code = kite.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = kite.exchange(&code, &attempt, &Secret::new("not-the-secret"), Utc::now()).await.unwrap_err();
    assert_eq!(e.status, Some(403));
    assert_eq!(e.code.as_deref(), Some("TokenException"));
    assert_eq!(e.class, ErrorClass::CredentialsWrong);
    assert!(e.message.contains("checksum"), "{e}");
}

#[tokio::test]
async fn kite_request_token_works_once() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = kite.begin_login();
    let code = kite.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let secret = secret_for("kite");
    kite.exchange(&code, &attempt, &secret, Utc::now()).await.unwrap();
    let e = kite.exchange(&code, &attempt, &secret, Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
}

#[tokio::test]
async fn kite_validates_with_the_profile_call_until_the_token_expires() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let (grant, _) = login(&kite).await;
    let user = kite.validate(&grant.tokens).await.unwrap();
    assert_eq!(user.user_id.as_deref(), Some("AB1234"));
    let sent = &sb.requests_to("/user/profile")[0];
    assert_eq!(
        sent.header("authorization").unwrap(),
        format!("token {KITE_KEY}:{}", grant.tokens.access_token.expose())
    );
    assert_eq!(sent.header("x-kite-version"), Some("3"));

    sb.expire_access_tokens();
    let e = kite.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(403), ErrorClass::TokenInvalid));
    assert_eq!(e.code.as_deref(), Some("TokenException"));
}

#[tokio::test]
async fn kite_without_a_refresh_token_cannot_refresh_and_says_log_in() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let (grant, _) = login(&kite).await;
    let e = kite.refresh(&grant.tokens, &grant.meta, &secret_for("kite"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
    assert!(e.message.contains("log in"), "{e}");
    assert!(sb.requests_to("/session/refresh_token").is_empty(), "no request is made");
}

#[tokio::test]
async fn kite_renews_with_a_refresh_token_checksum() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite-platform");
    let (grant, _) = login(&kite).await;
    let refresh = grant.tokens.refresh_token.clone().expect("approved platforms get a refresh token");
    assert_eq!(grant.meta.refresh, Refreshability::Unbounded);

    let renewed = kite.refresh(&grant.tokens, &grant.meta, &secret_for("kite"), Utc::now()).await.unwrap();
    let form = sb.requests_to("/session/refresh_token")[0].form();
    assert_eq!(form["api_key"], KITE_REFRESH_KEY);
    assert_eq!(form["refresh_token"], refresh.expose());
    assert_eq!(form["checksum"], sha256_hex(&format!("{KITE_REFRESH_KEY}{}{KITE_SECRET}", refresh.expose())));
    assert_ne!(renewed.tokens.access_token, grant.tokens.access_token);
    assert_eq!(renewed.tokens.refresh_token.as_ref(), Some(&refresh));
    assert_eq!(renewed.meta.login_at, grant.meta.login_at, "the login time carries over");
    kite.validate(&renewed.tokens).await.unwrap();
}

#[tokio::test]
async fn kite_logout_invalidates_the_session() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let (grant, _) = login(&kite).await;
    kite.logout(&grant.tokens, None).await.unwrap();
    let sent = &sb.requests_to("/session/token")[1];
    assert_eq!(sent.method, "DELETE");
    assert_eq!(sent.query["api_key"], KITE_KEY);
    assert_eq!(sent.query["access_token"], grant.tokens.access_token.expose());
    assert_eq!(kite.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
}

// ---------------------------------------------------------------- callbacks

#[tokio::test]
async fn callbacks_with_a_wrong_or_missing_state_are_refused() {
    let sb = sandbox().await;
    for id in ["kite", "upstox", "schwab", "generic"] {
        let c = client(&sb, id);
        let attempt = c.begin_login();
        let mut query = follow(&attempt.url).await;
        query.insert("state".into(), "forged".into());
        assert_eq!(c.read_callback(&query, &attempt), Err(CallbackError::StateMismatch), "{id}");
        query.remove("state");
        assert_eq!(c.read_callback(&query, &attempt), Err(CallbackError::StateMismatch), "{id}");
    }
}

#[tokio::test]
async fn provider_errors_in_the_callback_are_reported() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = kite.begin_login();
    let query: HashMap<String, String> = [("status", "error"), ("action", "login"), ("state", attempt.state.as_str())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(matches!(kite.read_callback(&query, &attempt), Err(CallbackError::Denied(_))));

    let oauth = client(&sb, "schwab");
    let attempt = oauth.begin_login();
    let query: HashMap<String, String> = [("error", "access_denied"), ("state", attempt.state.as_str())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(oauth.read_callback(&query, &attempt), Err(CallbackError::Denied("access_denied".into())));
}

// ---------------------------------------------------------------- Upstox

#[tokio::test]
async fn upstox_exchange_posts_the_form_and_reads_the_jwt_exp() {
    let sb = sandbox().await;
    let upstox = client(&sb, "upstox");
    let attempt = upstox.begin_login();
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(attempt.url.path(), "/v2/login/authorization/dialog");
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], UPSTOX_KEY);
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:9/upstox/callback");
    assert_eq!(q["state"], attempt.state);

    let code = upstox.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let now = Utc::now();
    let grant = upstox.exchange(&code, &attempt, &secret_for("upstox"), now).await.unwrap();
    let sent = &sb.requests_to("/v2/login/authorization/token")[0];
    assert_eq!(sent.header("accept"), Some("application/json"));
    assert_eq!(sent.header("content-type"), Some("application/x-www-form-urlencoded"));
    let form = sent.form();
    assert_eq!(form["code"], code);
    assert_eq!(form["client_id"], UPSTOX_KEY);
    assert_eq!(form["client_secret"], UPSTOX_SECRET);
    assert_eq!(form["redirect_uri"], "http://127.0.0.1:9/upstox/callback");
    assert_eq!(form["grant_type"], "authorization_code");

    // The sandbox follows the real rule in the JWT's exp: 03:30 IST.
    assert_eq!(grant.meta.expires_at, UPSTOX_CUTOFF.next_after(now).with_timezone(&Utc));
    assert_eq!(grant.meta.refresh, Refreshability::NotRefreshable);
    assert_eq!(grant.user.user_id.as_deref(), Some("AB1234"));
}

#[tokio::test]
async fn upstox_token_lifetime_comes_from_the_jwt_not_the_clock_rule() {
    let mut config = sandbox_config();
    config.access_ttl = Some(std::time::Duration::from_secs(120));
    let sb = tokentray_sandbox::Sandbox::start(config).await.unwrap();
    let upstox = client(&sb, "upstox");
    let now = Utc::now();
    let (grant, _) = login(&upstox).await;
    let left = grant.meta.expires_at - now;
    assert!(left > Span::seconds(100) && left <= Span::seconds(121), "{left}");
}

#[tokio::test]
async fn upstox_code_is_spent_by_the_first_exchange() {
    let sb = sandbox().await;
    let upstox = client(&sb, "upstox");
    let attempt = upstox.begin_login();
    let code = upstox.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = upstox.exchange(&code, &attempt, &Secret::new("wrong"), Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref()), (Some(401), Some("UDAPI100016")));
    assert_eq!(e.class, ErrorClass::CredentialsWrong);
    let e = upstox.exchange(&code, &attempt, &secret_for("upstox"), Utc::now()).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("UDAPI100016"), "the failed attempt spent the code");
}

#[tokio::test]
async fn upstox_expired_token_is_udapi100050() {
    let sb = sandbox().await;
    let upstox = client(&sb, "upstox");
    let (grant, _) = login(&upstox).await;
    upstox.validate(&grant.tokens).await.unwrap();
    let sent = &sb.requests_to("/v2/user/profile")[0];
    assert_eq!(sent.header("authorization").unwrap(), format!("Bearer {}", grant.tokens.access_token.expose()));
    sb.expire_access_tokens();
    let e = upstox.validate(&grant.tokens).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(401), Some("UDAPI100050"), ErrorClass::TokenInvalid));
}

#[tokio::test]
async fn upstox_logout_deletes_the_session() {
    let sb = sandbox().await;
    let upstox = client(&sb, "upstox");
    let (grant, _) = login(&upstox).await;
    upstox.logout(&grant.tokens, None).await.unwrap();
    assert_eq!(sb.requests_to("/v2/logout")[0].method, "DELETE");
    assert_eq!(upstox.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::TokenInvalid);
}

// ---------------------------------------------------------------- Schwab

#[tokio::test]
async fn schwab_exchanges_with_basic_auth_and_counts_seven_days_from_login() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let attempt = schwab.begin_login();
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
    assert_eq!(form["code"], code);
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
    let renewed = schwab.refresh(&grant.tokens, &grant.meta, &secret, later).await.unwrap();
    let form = sb.requests_to("/v1/oauth/token")[1].form();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], grant.tokens.refresh_token.as_ref().unwrap().expose());
    assert_ne!(renewed.tokens.refresh_token, grant.tokens.refresh_token, "rotated");
    assert_eq!(renewed.meta.login_at, grant.meta.login_at);
    assert_eq!(renewed.meta.refresh, grant.meta.refresh, "the 7-day limit counts from the login, not the refresh");

    let e = schwab.refresh(&grant.tokens, &grant.meta, &secret, Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.code.as_deref(), e.class), (Some(400), Some("invalid_grant"), ErrorClass::TokenInvalid));
    schwab.refresh(&renewed.tokens, &renewed.meta, &secret, Utc::now()).await.unwrap();
}

#[tokio::test]
async fn a_revoked_refresh_token_is_invalid_grant() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let (grant, _) = login(&schwab).await;
    sb.revoke_refresh_tokens();
    let e = schwab.refresh(&grant.tokens, &grant.meta, &secret_for("schwab"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let sb = sandbox().await;
    let schwab = client(&sb, "schwab");
    let attempt = schwab.begin_login();
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
    let attempt = generic.begin_login();
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
    let mut attempt = generic.begin_login();
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
    let e = generic.refresh(&grant.tokens, &grant.meta, &secret_for("generic"), Utc::now()).await.unwrap_err();
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

// ---------------------------------------------------------------- faults

async fn logged_in(id: &str) -> (tokentray_sandbox::Sandbox, tokentray_adapters::provider::ProviderClient, TokenSet) {
    let sb = sandbox().await;
    let c = client(&sb, id);
    let (grant, _) = login(&c).await;
    (sb, c, grant.tokens)
}

#[tokio::test]
async fn server_errors_are_transient_for_every_provider() {
    for (id, endpoint) in
        [("kite", Endpoint::KiteProfile), ("upstox", Endpoint::UpstoxProfile), ("schwab", Endpoint::OAuth2Profile)]
    {
        let (sb, c, tokens) = logged_in(id).await;
        for code in [500, 502, 503, 504] {
            sb.inject(endpoint, Fault::Status { code }, Some(1));
            let e = c.validate(&tokens).await.unwrap_err();
            assert_eq!((e.status, e.class), (Some(code), ErrorClass::Transient), "{id} {code}: {e}");
        }
        c.validate(&tokens).await.expect("the fault was for one request only");
    }
}

#[tokio::test]
async fn rate_limits_are_classified_for_every_provider() {
    for (id, endpoint) in
        [("kite", Endpoint::KiteProfile), ("upstox", Endpoint::UpstoxProfile), ("schwab", Endpoint::OAuth2Profile)]
    {
        let (sb, c, tokens) = logged_in(id).await;
        sb.inject(endpoint, Fault::RateLimit, Some(1));
        assert_eq!(c.validate(&tokens).await.unwrap_err().class, ErrorClass::RateLimited, "{id}");
    }
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    for (id, endpoint) in
        [("kite", Endpoint::KiteProfile), ("upstox", Endpoint::UpstoxProfile), ("schwab", Endpoint::OAuth2Profile)]
    {
        let (sb, c, tokens) = logged_in(id).await;
        sb.inject(endpoint, Fault::MalformedJson, Some(1));
        assert_eq!(c.validate(&tokens).await.unwrap_err().class, ErrorClass::Malformed, "{id}");
    }
}

#[tokio::test]
async fn an_invalid_token_answer_is_token_invalid() {
    let (sb, c, tokens) = logged_in("schwab").await;
    sb.inject(Endpoint::OAuth2Token, Fault::InvalidToken, Some(1));
    let meta = tokentray_core::TokenMeta {
        issued_at: Utc::now(),
        expires_at: Utc::now(),
        login_at: Utc::now(),
        refresh: Refreshability::Unbounded,
    };
    let e = c.refresh(&tokens, &meta, &secret_for("schwab"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
}

#[tokio::test]
async fn a_hung_provider_times_out_as_transient() {
    let (sb, c, tokens) = logged_in("kite").await;
    sb.inject(Endpoint::KiteProfile, Fault::Hang, Some(1));
    let started = std::time::Instant::now();
    let e = c.validate(&tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(e.message.contains("timed out"), "{e}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_slow_provider_still_answers() {
    let (sb, c, tokens) = logged_in("upstox").await;
    sb.inject(Endpoint::UpstoxProfile, Fault::delay(std::time::Duration::from_millis(200)), Some(1));
    c.validate(&tokens).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_provider_is_transient_and_leaks_no_token() {
    let sb = sandbox().await;
    let c = client(&sb, "kite");
    let (grant, _) = login(&c).await;
    let addr = sb.url().trim_start_matches("http://").to_owned();
    drop(sb);
    tokentray_testkit::eventually("the sandbox's port closed", || std::net::TcpStream::connect(&addr).is_err()).await;
    let e = c.logout(&grant.tokens, None).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(!e.to_string().contains(grant.tokens.access_token.expose()), "{e}");
}
