//! Every provider call under what brokers really do on a bad day: 5xx,
//! 429, garbage, a token answer, a hang, a slow answer, no answer at all.

use crate::common::*;
use chrono::Utc;
use tokentray_adapters::store::TokenSet;
use tokentray_core::{ErrorClass, Refreshability};
use tokentray_sandbox::{Endpoint, Fault};

// ---------------------------------------------------------------- faults

async fn logged_in(id: &str) -> (tokentray_sandbox::Sandbox, tokentray_adapters::provider::ProviderClient, TokenSet) {
    let sb = sandbox().await;
    let c = client(&sb, id);
    let (grant, _) = login_with(&sb, &c).await;
    (sb, c, grant.tokens)
}

const PROFILES: &[(&str, Endpoint)] = &[
    ("kite", Endpoint::KiteProfile),
    ("upstox", Endpoint::UpstoxProfile),
    ("schwab", Endpoint::OAuth2Profile),
    ("fyers", Endpoint::FyersProfile),
    ("dhan", Endpoint::DhanProfile),
    ("angelone", Endpoint::AngelProfile),
    ("tastytrade", Endpoint::TastyCustomer),
    ("etrade", Endpoint::EtradeAccounts),
    ("breeze", Endpoint::BreezeCustomerDetails),
    ("upstox-extended", Endpoint::UpstoxProfile),
    ("upstox-analytics", Endpoint::UpstoxMarketStatus),
    ("ibkr", Endpoint::IbkrAuthStatus),
];

/// A check as the engine makes it: signed with the secret where the
/// provider signs every request (E*TRADE).
async fn check(
    c: &tokentray_adapters::provider::ProviderClient,
    tokens: &TokenSet,
) -> Result<tokentray_adapters::provider::UserInfo, tokentray_adapters::provider::ProviderError> {
    c.validate_with_secret(tokens, &secret_for(&c.account().id)).await
}

/// A provider added to the descriptions fails here until its failures are tried too.
#[test]
fn the_failure_tests_cover_every_provider() {
    let covered: Vec<&str> = PROFILES.iter().map(|(id, _)| *id).collect();
    // A generic OAuth2 provider speaks Schwab's protocol: `schwab` covers it.
    for d in tokentray_core::provider::PROVIDERS.iter().filter(|d| !d.endpoints_in_config) {
        assert!(covered.contains(&d.id), "{}: add it to PROFILES", d.id);
    }
}

#[tokio::test]
async fn server_errors_are_transient_for_every_provider() {
    for &(id, endpoint) in PROFILES {
        let (sb, c, tokens) = logged_in(id).await;
        for code in [500, 502, 503, 504] {
            sb.inject(endpoint, Fault::Status { code }, Some(1));
            let e = check(&c, &tokens).await.unwrap_err();
            assert_eq!((e.status, e.class), (Some(code), ErrorClass::Transient), "{id} {code}: {e}");
        }
        check(&c, &tokens).await.expect("the fault was for one request only");
    }
}

#[tokio::test]
async fn rate_limits_are_classified_for_every_provider() {
    for &(id, endpoint) in PROFILES {
        let (sb, c, tokens) = logged_in(id).await;
        sb.inject(endpoint, Fault::RateLimit, Some(1));
        assert_eq!(check(&c, &tokens).await.unwrap_err().class, ErrorClass::RateLimited, "{id}");
    }
}

#[tokio::test]
async fn malformed_json_is_malformed() {
    for &(id, endpoint) in PROFILES {
        let (sb, c, tokens) = logged_in(id).await;
        sb.inject(endpoint, Fault::MalformedJson, Some(1));
        assert_eq!(check(&c, &tokens).await.unwrap_err().class, ErrorClass::Malformed, "{id}");
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
    let e = c.refresh(&tokens, &meta, &creds(&secret_for("schwab")), Utc::now()).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::TokenInvalid);
}

#[tokio::test]
async fn a_hung_provider_times_out_as_transient() {
    // Every provider at once: each waits out the client's 2 s timeout.
    let hung: Vec<_> = PROFILES
        .iter()
        .map(|&(id, endpoint)| {
            tokio::spawn(async move {
                let (sb, c, tokens) = logged_in(id).await;
                sb.inject(endpoint, Fault::Hang, Some(1));
                let started = std::time::Instant::now();
                let e = check(&c, &tokens).await.unwrap_err();
                assert_eq!(e.class, ErrorClass::Transient, "{id}");
                assert!(e.message.contains("timed out"), "{id}: {e}");
                assert!(started.elapsed() < std::time::Duration::from_secs(10), "{id}");
            })
        })
        .collect();
    for each in hung {
        each.await.expect("no provider's timeout failed");
    }
}

#[tokio::test]
async fn a_slow_provider_still_answers() {
    let (sb, c, tokens) = logged_in("upstox").await;
    sb.inject(Endpoint::UpstoxProfile, Fault::delay(std::time::Duration::from_millis(200)), Some(1));
    check(&c, &tokens).await.unwrap();
}

#[tokio::test]
async fn an_unreachable_provider_is_transient_and_leaks_no_token() {
    let sb = sandbox().await;
    let c = client(&sb, "kite");
    let (grant, _) = login(&c).await;
    let addr = sb.addr();
    drop(sb);
    tokentray_testkit::eventually("the sandbox's port closed", || std::net::TcpStream::connect(addr).is_err()).await;
    let e = c.logout(&grant.tokens, None).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Transient);
    assert!(!e.to_string().contains(grant.tokens.access_token.expose()), "{e}");
}

// ---------------------------------------------------------------- hostile tokens

fn assert_refused(e: &tokentray_adapters::provider::ProviderError, what: &str) {
    assert_eq!(e.class, ErrorClass::Malformed, "{what}: {e}");
    assert!(e.to_string().contains("characters a token cannot have"), "{what}: {e}");
    assert!(!e.to_string().contains("touch"), "{what}: the error does not echo the token: {e}");
}

#[tokio::test]
async fn a_token_holding_shell_syntax_is_never_accepted_from_an_exchange() {
    for (id, endpoint) in [
        ("kite", Endpoint::KiteSessionToken),
        ("upstox", Endpoint::UpstoxToken),
        ("schwab", Endpoint::OAuth2Token),
        ("generic", Endpoint::OAuth2Token),
        ("fyers", Endpoint::FyersAuthCode),
        ("dhan", Endpoint::DhanConsume),
        ("tastytrade", Endpoint::TastyToken),
        ("etrade", Endpoint::EtradeAccessToken),
        ("upstox-extended", Endpoint::UpstoxToken),
    ] {
        let sb = sandbox().await;
        let c = client(&sb, id);
        let attempt = new_attempt(&c).await;
        let code = c.read_callback(&follow(&attempt.url).await, &attempt).unwrap();
        sb.inject(endpoint, Fault::HostileToken, Some(1));
        let e = c.exchange(&code, &attempt, &secret_for(id), Utc::now()).await.unwrap_err();
        assert_refused(&e, id);
    }
}

#[tokio::test]
async fn a_token_holding_shell_syntax_is_never_accepted_from_a_refresh() {
    for (id, endpoint) in [
        ("kite-platform", Endpoint::KiteRefreshToken),
        ("schwab", Endpoint::OAuth2Token),
        ("fyers", Endpoint::FyersRefresh),
        ("dhan", Endpoint::DhanRenew),
        ("angelone", Endpoint::AngelTokens),
        ("tastytrade", Endpoint::TastyToken),
        ("ibkr", Endpoint::IbkrTickle),
    ] {
        let sb = sandbox().await;
        let c = client(&sb, id);
        let (grant, _) = login_with(&sb, &c).await;
        sb.inject(endpoint, Fault::HostileToken, Some(1));
        let e = c.refresh(&grant.tokens, &grant.meta, &creds(&secret_for(id)), Utc::now()).await.unwrap_err();
        assert_refused(&e, id);
    }
}

#[tokio::test]
async fn a_token_holding_shell_syntax_is_never_accepted_from_angel_ones_redirect() {
    let sb = sandbox().await;
    let c = client(&sb, "angelone");
    let attempt = new_attempt(&c).await;
    let mut query = follow(&attempt.url).await;
    for field in ["auth_token", "feed_token", "refresh_token"] {
        let mut hostile = query.clone();
        hostile.insert(field.to_owned(), tokentray_sandbox::HOSTILE_TOKEN.to_owned());
        let code = c.read_callback(&hostile, &attempt).unwrap();
        let e = c.exchange(&code, &attempt, &secret_for("angelone"), Utc::now()).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Malformed, "{field}: {e}");
        assert!(!e.to_string().contains("touch"), "{field}: the error does not echo the token: {e}");
    }
    query.remove("state");
    assert!(c.read_callback(&query, &attempt).is_ok(), "a redirect without state is read, and checked by the exchange");
}

/// Breeze's token is the API session its redirect brings, and Upstox's
/// analytics token is pasted: hostile text there is refused before any call.
#[tokio::test]
async fn a_token_holding_shell_syntax_is_never_accepted_from_a_redirect_or_a_paste() {
    let sb = sandbox().await;
    for (id, field) in [("breeze", "apisession"), ("upstox-analytics", "analytics_token")] {
        let c = client(&sb, id);
        let attempt = new_attempt(&c).await;
        let hostile =
            std::collections::HashMap::from([(field.to_owned(), tokentray_sandbox::HOSTILE_TOKEN.to_owned())]);
        let code = c.read_callback(&hostile, &attempt).unwrap();
        sb.clear_requests();
        let e = c.exchange(&code, &attempt, &secret_for(id), Utc::now()).await.unwrap_err();
        assert_ne!(e.class, ErrorClass::Transient, "{id}: {e}");
        assert!(!e.to_string().contains("touch"), "{id}: the error does not echo the token: {e}");
    }
}

#[test]
fn token_text_is_visible_ascii_of_a_sane_length() {
    use tokentray_adapters::provider::{is_token_text, MAX_TOKEN_LEN};
    for ok in ["abc123", "eyJhbGciOi.eyJzdWIi.sig-_", "I0.b2F1dGgy+/=@", "~tilde"] {
        assert!(is_token_text(ok), "{ok}");
    }
    for bad in ["", "a b", "a\nb", "tok\u{0}", "tök", "\t", &"x".repeat(MAX_TOKEN_LEN + 1)] {
        assert!(!is_token_text(bad), "{bad:?}");
    }
}

#[tokio::test]
async fn an_answer_over_1_mib_is_malformed_and_never_read_whole() {
    for &(id, endpoint) in PROFILES {
        let (sb, c, tokens) = logged_in(id).await;
        sb.inject(endpoint, Fault::HugeBody, Some(1));
        let e = check(&c, &tokens).await.unwrap_err();
        assert_eq!(e.class, ErrorClass::Malformed, "{id}: {e}");
        assert!(e.to_string().contains("larger than 1024 KiB"), "{id}: {e}");
        check(&c, &tokens).await.expect("the next answer is read as usual");
    }
}

// ---------------------------------------------------------------- static IPs

/// The brokers that let a program read their registered static IPs.
const STATIC_IPS: &[(&str, Endpoint)] = &[("upstox", Endpoint::UpstoxStaticIp), ("dhan", Endpoint::DhanStaticIp)];

#[tokio::test]
async fn reading_the_registered_ips_fails_as_any_provider_call_does() {
    for &(id, endpoint) in STATIC_IPS {
        let (sb, c, tokens) = logged_in(id).await;
        let access = &tokens.access_token;
        for (fault, class) in [
            (Fault::Status { code: 503 }, ErrorClass::Transient),
            (Fault::RateLimit, ErrorClass::RateLimited),
            (Fault::MalformedJson, ErrorClass::Malformed),
            (Fault::InvalidToken, ErrorClass::TokenInvalid),
        ] {
            sb.inject(endpoint, fault, Some(1));
            let e = c.registered_ips(access).await.unwrap_err();
            assert_eq!(e.class, class, "{id} {fault:?}: {e}");
            assert!(!e.to_string().contains(access.expose()), "{id}: no token in the error");
        }
        sb.inject(endpoint, Fault::Hang, Some(1));
        assert_eq!(c.registered_ips(access).await.unwrap_err().class, ErrorClass::Transient, "{id} hung");
        // None registered yet: an answer with no address, not an error.
        let none = c.registered_ips(access).await.unwrap().expect("this broker exposes them");
        assert!(none.addresses().is_empty(), "{id}: {none:?}");
    }
    // A broker that exposes nothing says so without a call.
    let (sb, c, tokens) = logged_in("kite").await;
    assert_eq!(c.registered_ips(&tokens.access_token).await.unwrap(), None);
    assert!(sb.requests().iter().all(|r| !r.path.contains("ip")), "no call made");
}

#[tokio::test]
async fn an_echo_that_answers_garbage_or_fails_is_an_error_never_an_address() {
    let sb = sandbox().await;
    let http = tokentray_adapters::provider::http_client(std::time::Duration::from_secs(2));
    let echo = url::Url::parse(&sb.echo_url()).unwrap();
    assert_eq!(tokentray_adapters::egress::egress_ip(&http, &echo).await.unwrap().to_string(), "203.0.113.7");
    let json = url::Url::parse(&format!("{}.json", sb.echo_url())).unwrap();
    sb.set_egress_ip("2001:db8::5");
    assert_eq!(tokentray_adapters::egress::egress_ip(&http, &json).await.unwrap().to_string(), "2001:db8::5");
    // Not an echo at all: a page of HTML, a 404, nobody listening.
    let page = url::Url::parse(&format!("{}/v2/login/authorization/dialog", sb.url())).unwrap();
    assert!(tokentray_adapters::egress::egress_ip(&http, &page).await.is_err());
    let missing = url::Url::parse(&format!("{}/no-such-echo", sb.url())).unwrap();
    let e = tokentray_adapters::egress::egress_ip(&http, &missing).await.unwrap_err();
    assert!(e.to_string().contains("HTTP 404"), "{e}");
    let closed = url::Url::parse(&format!("http://127.0.0.1:{}/?key=s3cret", tokentray_testkit::free_port())).unwrap();
    let e = tokentray_adapters::egress::egress_ip(&http, &closed).await.unwrap_err();
    assert!(!e.to_string().contains("s3cret"), "the echo's query never shows: {e}");
}
