//! Tastytrade, E*TRADE, ICICI Breeze, IBKR's Client Portal gateway and
//! Upstox's read-only tokens through the whole engine against the sandbox
//! over loopback: each login as its broker makes it (a redirect to the
//! callback server, a code typed, the gateway's page watched, a token
//! pasted), the token served, renewed where it renews, checked and logged
//! out, the names each one's scripts read, and the trust rules (an outage is
//! never "log in", a renewed grant survives a crash, a login elsewhere is told).

use crate::common::*;
use std::path::PathBuf;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::{Level, State};
use tokentray_runtime::login::{LoginOptions, Pasted};
use tokentray_runtime::{Engine, Remedy};
use tokentray_sandbox::{App, Endpoint, Fault, ProviderKind, Sandbox, SandboxConfig};

/// Each with the way its login goes.
const IDS: [&str; 7] =
    ["tastytrade", "etrade", "etrade-typed", "breeze", "ibkr", "upstox-extended", "upstox-analytics"];
/// Those whose tokens renew without the user.
const RENEWING: [&str; 3] = ["tastytrade", "etrade", "ibkr"];

struct Brokers {
    sandbox: Sandbox,
    dir: PathBuf,
    config: Config,
}

async fn brokers(name: &str) -> Brokers {
    let dir = scratch(name);
    let redirect = || format!("http://127.0.0.1:{}/cb", free_port());
    let apps = vec![
        App::new(ProviderKind::Tastytrade, "tasty-app", "tasty-secret", &redirect(), "TT0001"),
        App::new(ProviderKind::Etrade, "etrade-key", "etrade-secret", &redirect(), "ET0001"),
        // No callback registered with E*TRADE: its page shows a code to type.
        App::new(ProviderKind::Etrade, "etrade-typed-key", "etrade-secret", "oob", "ET0002"),
        App::new(ProviderKind::Breeze, "breeze-key", "", &redirect(), "BZ0001"),
        App::new(ProviderKind::Ibkr, "ibkr-gateway", "", "", "U0001"),
        App::new(ProviderKind::UpstoxExtended, "upstox-app", "upstox-secret", &redirect(), "UP0001"),
    ];
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let base = sandbox.url();
    let sinks = dir.join("sinks");
    let mut text = "storage = \"plaintext\"\nhttp_timeout = \"3s\"\n".to_owned();
    for (id, app) in ["tastytrade", "etrade", "etrade-typed", "breeze", "ibkr", "upstox-extended"].iter().zip(&apps) {
        let toml = sandbox.account_toml(id, app);
        // An app with no callback registered, or a gateway: no redirect_uri in the config.
        text += &match app.redirect_uri.starts_with("http") {
            true => toml,
            false => {
                toml.lines()
                    .filter(|l| !l.starts_with("redirect_uri") && !l.starts_with("api_key = \"ibkr"))
                    .collect::<Vec<_>>()
                    .join("\n")
                    + "\n"
            }
        };
        text += &format!("[[account.sink]]\nformat = \"env\"\npath = '{}/{id}.env'\n", sinks.display());
    }
    text += &format!(
        "\n[[account]]\nid = \"upstox-analytics\"\nprovider = \"upstox-analytics\"\napi_base = \"{base}\"\n\
         login_base = \"{base}/developer/apps\"\n[[account.sink]]\nformat = \"env\"\npath = '{}/upstox-analytics.env'\n",
        sinks.display()
    );
    std::fs::create_dir_all(&sinks).unwrap();
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let store = store(&dir);
    for (id, secret) in [
        ("tastytrade", "tasty-secret"),
        ("etrade", "etrade-secret"),
        ("etrade-typed", "etrade-secret"),
        ("upstox-extended", "upstox-secret"),
    ] {
        store.set(id, SecretItem::ApiSecret, &Secret::new(secret)).unwrap();
    }
    Brokers { sandbox, dir, config }
}

impl Brokers {
    fn engine(&self) -> Engine {
        World::engine_for(&self.config, &self.dir)
    }

    fn sink(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join("sinks").join(format!("{id}.env"))).unwrap()
    }

    /// Logs `id` in the way its broker has it: what the user types where
    /// the broker shows a code (E*TRADE's page) or a token (Upstox's
    /// console), else the browser following the redirects (which, for
    /// IBKR, is the gateway's page the engine watches).
    async fn log_in(&self, engine: &Engine, id: &str) {
        let typed = match id {
            "upstox-analytics" => Some(self.sandbox.make_upstox_analytics_token("upstox-app")),
            "etrade-typed" => None,
            _ => return log_in(engine, id).await,
        };
        let (lines, pasted) = tokio::sync::mpsc::channel(2);
        let (urls, mut shown) = tokio::sync::mpsc::unbounded_channel();
        let options = LoginOptions {
            open_browser: false,
            pasted: Some(pasted),
            show_url: Box::new(move |u| drop(urls.send(u.clone()))),
            ..Default::default()
        };
        let running = {
            let (engine, id) = (engine.clone(), id.to_owned());
            tokio::spawn(async move { engine.login(&id, options).await })
        };
        let url = shown.recv().await.expect("the login shows its page");
        assert!(url.paste, "{id}: the page's code is typed here");
        let line = match typed {
            Some(token) => token,
            // The person reads the code off E*TRADE's page.
            None => {
                let page = browse(url.authorize).await.text().await.unwrap();
                page.split("id=\"verifier\">").nth(1).and_then(|r| r.split('<').next()).expect("a code").to_owned()
            }
        };
        lines.send(Pasted { line, reply: None }).await.unwrap();
        running.await.unwrap().unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

#[tokio::test]
async fn each_logs_in_its_own_way_serves_renews_checks_and_logs_out() {
    let b = brokers("others-cycle").await;
    let engine = b.engine();
    for id in IDS {
        b.log_in(&engine, id).await;
        let s = engine.status(id).unwrap();
        assert_eq!(s.state, State::Valid, "{id}: {}", s.message);
        // The level is the countdown's, whatever the hour the test runs at:
        // E*TRADE, Breeze and IBKR count down to a midnight.
        let expected = match s.remaining_seconds {
            Some(r) => b.config.account(id).unwrap().thresholds.level_for(tokentray_core::Span::seconds(r)),
            None => Level::Green,
        };
        assert_eq!(s.level, expected, "{id}: {} ({})", s.message, s.countdown);
        let first = engine.current_token(id).await.unwrap();
        if RENEWING.contains(&id) {
            engine.refresh(id).await.unwrap_or_else(|e| panic!("{id}: {e}"));
            let renewed = engine.current_token(id).await.unwrap();
            match id {
                // Renewed in place: the same token (and secret), alive longer.
                "etrade" | "ibkr" => assert_eq!(renewed, first, "{id}"),
                _ => assert_ne!(renewed.access_token, first.access_token, "{id}: a new token is served"),
            }
        }
        assert_eq!(engine.check(id).await.unwrap_or_else(|e| panic!("{id}: {e}")).state, State::Valid, "{id}");
        let served = engine.current_token(id).await.unwrap();
        assert!(b.sink(id).contains(served.access_token.expose()), "{id}: the sink has the token");
        engine.logout(id).await.unwrap();
        assert_eq!(engine.status(id).unwrap().state, State::NoToken, "{id}");
    }
    engine.shutdown();
}

#[tokio::test]
async fn each_writes_the_names_its_scripts_read() {
    let b = brokers("others-sinks").await;
    let engine = b.engine();
    for id in ["etrade", "breeze", "upstox-extended", "upstox-analytics"] {
        b.log_in(&engine, id).await;
    }
    let etrade = engine.current_token("etrade").await.unwrap();
    let secret = etrade.token_secret.as_ref().expect("E*TRADE's token secret is kept").expose();
    assert_eq!(
        b.sink("etrade"),
        format!(
            "ETRADE_CONSUMER_KEY=etrade-key\nETRADE_OAUTH_TOKEN={}\nETRADE_OAUTH_TOKEN_SECRET={secret}\n",
            etrade.access_token.expose()
        )
    );
    let breeze = engine.current_token("breeze").await.unwrap();
    assert_eq!(
        b.sink("breeze"),
        format!("BREEZE_API_KEY=breeze-key\nBREEZE_API_SESSION={}\n", breeze.access_token.expose())
    );
    let extended = engine.current_token("upstox-extended").await.unwrap();
    assert_eq!(b.sink("upstox-extended"), format!("UPSTOX_EXTENDED_TOKEN={}\n", extended.access_token.expose()));
    let analytics = engine.current_token("upstox-analytics").await.unwrap();
    assert_eq!(b.sink("upstox-analytics"), format!("UPSTOX_ANALYTICS_TOKEN={}\n", analytics.access_token.expose()));
    // A year each, and no daily login asked for.
    for id in ["upstox-extended", "upstox-analytics"] {
        let s = engine.status(id).unwrap();
        assert!(s.remaining_seconds.unwrap() > 360 * 86_400, "{id}: {}", s.countdown);
        assert!(s.countdown.ends_with('h') && s.countdown.contains('d'), "{id}: counts down in days: {}", s.countdown);
    }
    engine.shutdown();
}

#[tokio::test]
async fn an_outage_is_never_read_as_log_in_and_the_token_is_kept() {
    let b = brokers("others-outage").await;
    let engine = b.engine();
    let (outage, limited, garbage) = (Fault::Status { code: 503 }, Fault::RateLimit, Fault::MalformedJson);
    for (id, renew, check, faults) in [
        ("tastytrade", Endpoint::TastyToken, Endpoint::TastyCustomer, vec![outage, limited, garbage]),
        // E*TRADE's renewal answers a line of text, which a 200 makes a success whatever it says.
        ("etrade", Endpoint::EtradeRenew, Endpoint::EtradeAccounts, vec![outage, limited]),
        ("ibkr", Endpoint::IbkrTickle, Endpoint::IbkrAuthStatus, vec![outage, limited, garbage]),
    ] {
        b.log_in(&engine, id).await;
        let token = engine.current_token(id).await.unwrap();
        for fault in faults {
            b.sandbox.inject(renew, fault, Some(1));
            let e = engine.refresh(id).await.unwrap_err();
            assert_eq!(e.remedy(), Remedy::Retry, "{id} {fault:?}: {e}");
            let s = engine.status(id).unwrap();
            assert!(s.auto_refresh, "{id} {fault:?}: renewal goes on: {}", s.message);
            assert_eq!(engine.current_token(id).await.unwrap().access_token, token.access_token, "{id}");
        }
        b.sandbox.inject(check, Fault::Status { code: 502 }, Some(1));
        assert_eq!(engine.check(id).await.unwrap_err().remedy(), Remedy::Retry, "{id}: could not tell");
        engine.refresh(id).await.unwrap_or_else(|e| panic!("{id}: the broker is back: {e}"));
    }
    engine.shutdown();
}

#[tokio::test]
async fn a_login_elsewhere_is_told_and_one_login_here_takes_the_session_back() {
    let b = brokers("others-competing").await;
    let engine = b.engine();
    b.log_in(&engine, "ibkr").await;
    b.sandbox.ibkr_login_elsewhere();
    let e = engine.check("ibkr").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "{e}");
    let s = engine.status("ibkr").unwrap();
    assert!(s.needs_login(), "{}", s.message);
    assert!(s.last_error_message.as_deref().unwrap_or_default().contains("another login with this username"), "{s:?}");
    assert_eq!(engine.current_token("ibkr").await.unwrap_err().remedy(), Remedy::Login, "never handed out");
    b.log_in(&engine, "ibkr").await;
    assert_eq!(engine.check("ibkr").await.unwrap().state, State::Valid);
    engine.shutdown();
}

#[tokio::test]
async fn each_renewed_grant_survives_a_refusing_store_and_a_crash() {
    use std::sync::atomic::Ordering;
    let b = brokers("others-nothing-lost").await;
    let (engine, refuse, _) = refusing_engine(&b.config, &b.dir);
    for id in RENEWING {
        b.log_in(&engine, id).await;
    }
    refuse.store(true, Ordering::SeqCst);
    let mut newest = Vec::new();
    for id in RENEWING {
        engine.refresh(id).await.unwrap();
        let journaled = b.dir.join(format!("data/journal/{id}.grant")).exists();
        match id {
            // Renewed in place: the very token the store holds, nothing new to lose or write.
            "etrade" | "ibkr" => assert!(!journaled, "{id}: an unchanged token is not journaled"),
            _ => assert!(journaled, "{id}: the journal keeps the grant"),
        }
        newest.push(engine.current_token(id).await.unwrap());
    }
    // Those that only log in: the login's grant, refused by the store, is journaled too.
    let login_only = ["breeze", "upstox-extended", "upstox-analytics"];
    for id in login_only {
        b.log_in(&engine, id).await;
        assert!(b.dir.join(format!("data/journal/{id}.grant")).exists(), "{id}: the journal keeps the grant");
        newest.push(engine.current_token(id).await.unwrap());
    }
    engine.shutdown();
    drop(engine);
    let next = b.engine();
    let all: Vec<&str> = RENEWING.iter().chain(&login_only).copied().collect();
    assert_eq!(next.recover(false).await.unwrap().grants_replayed, all.len() - 2, "all but the two in place");
    for (id, token) in all.iter().zip(&newest) {
        assert_eq!(&store(&b.dir).tokens(id).unwrap().unwrap(), token, "{id}: the renewed grant survived");
        assert_eq!(next.check(id).await.unwrap().state, State::Valid, "{id}: the broker still takes it");
    }
    next.shutdown();
}

#[tokio::test]
async fn a_renewal_in_place_writes_nothing_new_and_tells_scripts_nothing() {
    let b = brokers("others-in-place").await;
    let engine = b.engine();
    for id in ["etrade", "ibkr"] {
        b.log_in(&engine, id).await;
        let sink = b.dir.join("sinks").join(format!("{id}.env"));
        // Dated a day back: a rewrite would show, whatever the clock's grain.
        let written = std::time::SystemTime::now() - std::time::Duration::from_secs(86_400);
        std::fs::File::options().append(true).open(&sink).unwrap().set_modified(written).unwrap();
        let before = engine.status(id).unwrap().expires_at;
        let mut events = engine.subscribe();
        engine.refresh(id).await.unwrap();
        assert!(engine.status(id).unwrap().expires_at >= before, "{id}: the new life is known");
        assert_eq!(std::fs::metadata(&sink).unwrap().modified().unwrap(), written, "{id}: the sink is untouched");
        while let Ok(event) = events.try_recv() {
            assert_ne!(
                event.kind,
                tokentray_runtime::EventKind::TokenChanged,
                "{id}: no script is told of a new token"
            );
        }
    }
    engine.shutdown();
}
