//! Fyers' credentials through the engine: its renewal carries the PIN, and
//! a refused PIN may lock the account, so a refused one is never sent again
//! until the user stores a PIN again (not by another secret, a changed api
//! key, a logout and login, or a command's news); a refusal made here is
//! no refusal.

use super::*;

#[tokio::test]
async fn fyers_without_its_pin_keeps_the_token_and_says_how_to_fix_it() {
    let b = brokers("brokers-pin").await;
    store(&b.dir).delete("fyers", SecretItem::Pin).unwrap();
    let engine = b.engine();
    let (running, authorize) = start_login(&engine, "fyers").await;
    let page = browse(authorize).await.text().await.unwrap();
    assert!(
        page.contains("renewals need the PIN: store it with `tokentray secret set fyers --pin`"),
        "said at the login: {page}"
    );
    running.await.unwrap().unwrap();
    let token = engine.current_token("fyers").await.unwrap();
    // Asked twice: no PIN reached Fyers, so nothing counts towards a lock-out.
    for _ in 0..2 {
        let e = engine.refresh("fyers").await.unwrap_err();
        assert_eq!(e.remedy(), Remedy::Secret, "{e}");
        assert!(e.to_string().contains("tokentray secret set fyers --pin"), "{e}");
        assert!(!e.to_string().contains("not tried again"), "{e}");
    }
    assert!(b.sandbox.requests_to("/api/v3/validate-refresh-token").is_empty());
    let s = engine.status("fyers").unwrap();
    assert_eq!(s.state, State::Valid, "the token still works until its expiry");
    assert!(s.message.contains("tokentray secret set fyers --pin"), "{}", s.message);
    assert_eq!(engine.current_token("fyers").await.unwrap().access_token, token.access_token);
    engine.set_pin("fyers", Secret::new("4321")).await.unwrap();
    engine.login("fyers", tokentray_runtime::login::LoginOptions::following_redirects()).await.unwrap();
    engine.refresh("fyers").await.expect("with the PIN, renewal works");
    engine.shutdown();
}

#[tokio::test]
async fn a_wrong_fyers_pin_is_tried_once_then_not_again_until_a_new_one() {
    let b = brokers("brokers-wrong-pin").await;
    let engine = b.engine();
    log_in(&engine, "fyers").await;
    engine.set_pin("fyers", Secret::new("0000")).await.unwrap();
    let renewals = || b.sandbox.requests_to("/api/v3/validate-refresh-token").len();
    let e = engine.refresh("fyers").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Secret, "{e}");
    assert_eq!(renewals(), 1);
    // Fyers does not publish how many wrong PINs lock the account: one is all it gets.
    let e = engine.refresh("fyers").await.unwrap_err();
    assert!(e.to_string().contains("not tried again") && e.to_string().contains("--pin"), "{e}");
    assert_eq!(renewals(), 1, "the wrong PIN went to Fyers once");
    // The daily login carries no PIN: it is not held back.
    engine.login("fyers", tokentray_runtime::login::LoginOptions::following_redirects()).await.unwrap();
    assert!(engine.refresh("fyers").await.unwrap_err().to_string().contains("not tried again"), "still not the PIN");
    engine.set_pin("fyers", Secret::new("4321")).await.unwrap();
    engine.refresh("fyers").await.expect("the right PIN is tried");
    engine.shutdown();
}

#[tokio::test]
async fn a_new_api_secret_or_api_key_does_not_send_a_refused_fyers_pin_again() {
    let b = brokers("brokers-pin-kept").await;
    let engine = b.engine();
    log_in(&engine, "fyers").await;
    engine.set_pin("fyers", Secret::new("0000")).await.unwrap();
    let renewals = || b.sandbox.requests_to("/api/v3/validate-refresh-token").len();
    assert_eq!(engine.refresh("fyers").await.unwrap_err().remedy(), Remedy::Secret);
    assert_eq!(renewals(), 1);
    // Fyers does not say which of the two it refused; the PIN is what locks the
    // account. Another api secret, the same one again, or a changed api key
    // must not send the refused PIN once more: not now, not on the schedule.
    engine.set_api_secret("fyers", Secret::new("fysecret")).await.unwrap();
    engine.credentials_changed("fyers", tokentray_runtime::Credential::ApiKey).await.unwrap();
    let status = engine.status("fyers").unwrap();
    assert!(!status.auto_refresh, "renewal stays stopped: {status:?}");
    let e = engine.refresh("fyers").await.unwrap_err();
    assert!(e.to_string().contains("not tried again") && e.to_string().contains("--pin"), "{e}");
    assert_eq!(renewals(), 1, "the refused PIN went to Fyers once");
    // Nor a logout and a new login: the refusal outlives the token.
    engine.logout("fyers").await.unwrap();
    log_in(&engine, "fyers").await;
    let e = engine.refresh("fyers").await.unwrap_err();
    assert!(e.to_string().contains("not tried again"), "{e}");
    // Nor an engine told of credentials a command stored: the count stands.
    engine.adopt_changes("fyers", true).await.unwrap();
    assert!(!engine.status("fyers").unwrap().auto_refresh, "still stopped");
    assert_eq!(renewals(), 1, "the refused PIN went to Fyers once");
    engine.set_pin("fyers", Secret::new("4321")).await.unwrap();
    assert!(engine.status("fyers").unwrap().auto_refresh, "a PIN stored again resumes renewal");
    engine.refresh("fyers").await.expect("the right PIN is tried");
    engine.shutdown();
}

#[tokio::test]
async fn a_fyers_renewal_stopped_for_a_missing_api_secret_goes_on_once_it_is_stored() {
    let b = brokers("brokers-no-secret").await;
    let engine = b.engine();
    log_in(&engine, "fyers").await;
    store(&b.dir).delete("fyers", SecretItem::ApiSecret).unwrap();
    let e = engine.refresh("fyers").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Secret, "{e}");
    assert!(b.sandbox.requests_to("/api/v3/validate-refresh-token").is_empty(), "nothing reached Fyers");
    // The PIN was never refused: storing what the message asked for is enough.
    engine.set_api_secret("fyers", Secret::new("fysecret")).await.unwrap();
    assert!(engine.status("fyers").unwrap().auto_refresh, "renewal goes on");
    engine.refresh("fyers").await.expect("renewed with the stored secret and the PIN");
    engine.shutdown();
}
