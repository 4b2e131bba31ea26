//! The ICICI Breeze adapter against the sandbox over loopback HTTP
//! (docs/providers/breeze.md).

use crate::common::*;
use chrono::Utc;
use std::collections::HashMap;
use tokentray_core::expiry::BREEZE_CUTOFF;
use tokentray_core::{ErrorClass, Refreshability};
use tokentray_sandbox::{Endpoint, Fault};

#[tokio::test]
async fn the_api_session_is_checked_with_customer_details_and_lasts_until_midnight() {
    let sb = sandbox().await;
    let breeze = client(&sb, "breeze");
    let attempt = new_attempt(&breeze).await;
    assert_eq!(attempt.url.path(), "/apiuser/login");
    assert_eq!(attempt.url.query_pairs().find(|(k, _)| k == "api_key").unwrap().1, BREEZE_KEY);
    let back = follow(&attempt.url).await;
    assert!(!back.contains_key("state"), "ICICI sends no state: {back:?}");
    let code = breeze.read_callback(&back, &attempt).unwrap();
    let now = Utc::now();
    let grant = breeze.exchange(&code, &attempt, &secret_for("breeze"), now).await.unwrap();

    let sent = &sb.requests_to("/breezeapi/api/v1/customerdetails")[0];
    assert_eq!(sent.method, "GET", "a GET with a JSON body, as the SDK sends it");
    assert_eq!(sent.json()["SessionToken"], back["apisession"]);
    assert_eq!(sent.json()["AppKey"], BREEZE_KEY);

    assert_eq!(grant.tokens.access_token.expose(), back["apisession"], "scripts hand the session to their SDK");
    assert_eq!(grant.user.user_id.as_deref(), Some(BREEZE_USER));
    assert_eq!(grant.meta.expires_at, BREEZE_CUTOFF.next_after(now));
    assert_eq!(grant.meta.refresh, Refreshability::NotRefreshable);
    breeze.validate(&grant.tokens).await.expect("the session is checked again");
    breeze.logout(&grant.tokens, None).await.expect("no logout call: local");
}

#[tokio::test]
async fn a_dead_session_is_read_from_its_words_not_its_500() {
    let sb = sandbox().await;
    let breeze = client(&sb, "breeze");
    let (grant, _) = login(&breeze).await;
    sb.expire_access_tokens();
    let e = breeze.validate(&grant.tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "'Resource not available.' with Status 500: {e}");
    sb.inject(Endpoint::BreezeCustomerDetails, Fault::Status { code: 503 }, Some(1));
    assert_eq!(breeze.validate(&grant.tokens).await.unwrap_err().class, ErrorClass::Transient);
}

#[tokio::test]
async fn a_login_for_another_user_or_with_another_key_is_refused() {
    let sb = sandbox().await;
    let breeze = client(&sb, "breeze");
    let attempt = new_attempt(&breeze).await;
    let forged = HashMap::from([("apisession".to_owned(), "12345678".to_owned())]);
    let code = breeze.read_callback(&forged, &attempt).unwrap();
    let e = breeze.exchange(&code, &attempt, &secret_for("breeze"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "a session ICICI never made: {e}");

    let mut other = account(&sb, "breeze");
    other.api_key = "not-a-key".to_owned();
    let stranger = tokentray_adapters::provider::ProviderClient::new(
        other,
        tokentray_adapters::provider::http_client(std::time::Duration::from_secs(2)),
    );
    let attempt = new_attempt(&breeze).await;
    let code = breeze.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
    let e = stranger.exchange(&code, &attempt, &secret_for("breeze"), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::CredentialsWrong, "{e}");
    assert!(e.to_string().contains("Public Key does not exist."), "{e}");
}
