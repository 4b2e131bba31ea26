//! The Kite and Upstox adapters against the sandbox over loopback HTTP,
//! asserting on the exact requests the sandbox received; the login callback
//! checks every provider shares. (OAuth2 and Schwab: `oauth2.rs`; outages
//! and garbage for every provider: `provider_failures.rs`.)

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_adapters::provider::CallbackError;
use tokentray_adapters::Secret;
use tokentray_core::expiry::{kite_expiry, UPSTOX_CUTOFF};
use tokentray_core::{ErrorClass, Refreshability, Span};

// ---------------------------------------------------------------- Kite

#[tokio::test]
async fn kite_login_url_carries_state_in_redirect_params() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = new_attempt(&kite).await;
    let q: HashMap<_, _> = attempt.url.query_pairs().into_owned().collect();
    assert_eq!(attempt.url.path(), "/connect/login");
    assert_eq!(q["v"], "3");
    assert_eq!(q["api_key"], KITE_KEY);
    assert_eq!(q["redirect_params"], format!("state={}", attempt.state));
    assert!(attempt.state.len() >= 22, "state has at least 128 bits");
    assert_ne!(new_attempt(&kite).await.state, attempt.state, "a fresh state per attempt");

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
    let attempt = new_attempt(&kite).await;
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
    let attempt = new_attempt(&kite).await;
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
    let e = kite.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("kite")), Utc::now()).await.unwrap_err();
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

    let renewed = kite.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("kite")), Utc::now()).await.unwrap();
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
    for id in ["kite", "upstox", "schwab", "generic", "fyers", "angelone"] {
        let c = client(&sb, id);
        let attempt = new_attempt(&c).await;
        let mut query = follow(&attempt.url).await;
        query.insert("state".into(), "forged".into());
        assert_eq!(c.read_callback(&query, &attempt), Err(CallbackError::StateMismatch), "{id}");
        query.remove("state");
        if id != "angelone" {
            assert_eq!(c.read_callback(&query, &attempt), Err(CallbackError::StateMismatch), "{id}");
        }
    }
}

#[tokio::test]
async fn provider_errors_in_the_callback_are_reported() {
    let sb = sandbox().await;
    let kite = client(&sb, "kite");
    let attempt = new_attempt(&kite).await;
    let query: HashMap<String, String> = [("status", "error"), ("action", "login"), ("state", attempt.state.as_str())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(matches!(kite.read_callback(&query, &attempt), Err(CallbackError::Denied(_))));

    let oauth = client(&sb, "schwab");
    let attempt = new_attempt(&oauth).await;
    let query: HashMap<String, String> = [("error", "access_denied"), ("state", attempt.state.as_str())]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(oauth.read_callback(&query, &attempt), Err(CallbackError::Denied("access_denied".into())));
}

#[test]
fn pasted_urls_and_queries_are_read() {
    use tokentray_adapters::provider::pasted_callback_query as pasted_query;
    let q = pasted_query("http://127.0.0.1:9/cb?code=abc&state=xyz\n").unwrap();
    assert_eq!((q["code"].as_str(), q["state"].as_str()), ("abc", "xyz"));
    assert_eq!(pasted_query("?request_token=t&status=success").unwrap()["request_token"], "t");
    assert!(pasted_query("hello").is_none());
    assert!(pasted_query("http://127.0.0.1:9/cb").is_none());
}

// ---------------------------------------------------------------- Upstox

#[tokio::test]
async fn upstox_exchange_posts_the_form_and_reads_the_jwt_exp() {
    let sb = sandbox().await;
    let upstox = client(&sb, "upstox");
    let attempt = new_attempt(&upstox).await;
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
    assert_eq!(form["code"], code.code.expose());
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
    let attempt = new_attempt(&upstox).await;
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
