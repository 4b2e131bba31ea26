//! The IBKR Client Portal gateway adapter against the sandbox's gateway over
//! loopback HTTP (docs/providers/ibkr.md).

use crate::common::*;
use chrono::Utc;
use tokentray_core::expiry::{new_york_midnight_after, IBKR_TICKLE_LIFE};
use tokentray_core::{ErrorClass, Refreshability};
use tokentray_sandbox::{Endpoint, Fault};

#[tokio::test]
async fn the_login_on_the_gateways_page_is_watched_and_the_session_kept_alive() {
    let sb = sandbox().await;
    let ibkr = client(&sb, "ibkr");
    let (grant, attempt) = gateway_login(&ibkr).await;
    assert_eq!(attempt.url.path(), "/", "the gateway's own page");
    assert_eq!(sb.requests_to("/v1/api/tickle").len(), 2, "the watch's; the exchange asks the status instead");
    assert_eq!(sb.requests_to("/v1/api/iserver/auth/status").len(), 1);
    assert!(grant.meta.expires_at - grant.meta.issued_at <= IBKR_TICKLE_LIFE, "tickled about every minute");
    assert_eq!(grant.meta.refresh, Refreshability::Until(new_york_midnight_after(grant.meta.issued_at)));

    let kept = ibkr.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("ibkr")), Utc::now()).await.unwrap();
    assert_eq!(kept.tokens, grant.tokens, "the same session, alive longer");
    assert_eq!(kept.meta.login_at, grant.meta.login_at);
    ibkr.validate(&grant.tokens).await.expect("authenticated, not competing");
}

#[tokio::test]
async fn a_timed_out_brokerage_session_is_woken_but_never_taken_from_another_login() {
    let sb = sandbox().await;
    let ibkr = client(&sb, "ibkr");
    let (grant, _) = gateway_login(&ibkr).await;
    let creds = creds(&secret_for("ibkr"));
    sb.ibkr_brokerage_timeout();
    ibkr.refresh(&grant.tokens, &grant.meta, &creds, Utc::now()).await.expect("woken by ssodh/init");
    let init = sb.requests_to("/v1/api/iserver/auth/ssodh/init");
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].json(), serde_json::json!({"publish": true, "compete": false}));

    sb.ibkr_login_elsewhere();
    let e = ibkr.validate(&grant.tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid, "{e}");
    assert!(e.to_string().contains("another login with this username"), "{e}");
    let e = ibkr.refresh(&grant.tokens, &grant.meta, &creds, Utc::now()).await.unwrap_err();
    assert!(e.to_string().contains("another login"), "told, not taken back: {e}");
    // The user's one click: a login on the gateway's page takes it back.
    gateway_login(&ibkr).await;
    ibkr.validate(&grant.tokens).await.expect("the session is this gateway's again");
}

#[tokio::test]
async fn a_logout_or_a_gateway_that_is_not_running_is_said_plainly() {
    let sb = sandbox().await;
    let ibkr = client(&sb, "ibkr");
    let (grant, _) = gateway_login(&ibkr).await;
    ibkr.logout(&grant.tokens, None).await.unwrap();
    let e = ibkr.refresh(&grant.tokens, &grant.meta, &creds(&secret_for("ibkr")), Utc::now()).await.unwrap_err();
    assert_eq!((e.status, e.class), (Some(401), ErrorClass::TokenInvalid), "{e}");

    sb.inject(Endpoint::IbkrTickle, Fault::Status { code: 503 }, Some(1));
    let attempt = new_attempt(&ibkr).await;
    assert!(ibkr.watch_login(&attempt).await.is_err(), "an outage is no login");

    let addr = sb.addr();
    drop(sb);
    tokentray_testkit::eventually("the gateway's port closed", || std::net::TcpStream::connect(addr).is_err()).await;
    let e = ibkr.validate(&grant.tokens).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(e.to_string().contains("is the Client Portal gateway running?"), "{e}");
}

#[test]
fn only_a_gateway_on_this_machine_is_taken_with_its_own_certificate() {
    use tokentray_adapters::provider::gateway_is_local;
    for local in ["https://localhost:5000", "https://127.0.0.1:5000", "https://[::1]:5000", "https://LOCALHOST:5001"] {
        assert!(gateway_is_local(&url::Url::parse(local).unwrap()), "{local}");
    }
    for remote in ["https://gateway.example.com:5000", "https://10.0.0.5:5000", "https://localhost.example.com"] {
        assert!(!gateway_is_local(&url::Url::parse(remote).unwrap()), "{remote}");
    }
}
