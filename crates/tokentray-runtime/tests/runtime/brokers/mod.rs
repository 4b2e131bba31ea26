//! Fyers, Dhan and Angel One through the whole engine against the sandbox
//! over loopback: the login through the callback server, the token served,
//! renewed, checked and logged out, the sinks each provider's scripts read,
//! and the trust rules (revocation noticed, an outage never read as "log
//! in", a valid token never dropped).

use crate::common::*;
use std::path::PathBuf;
use tokentray_adapters::config::Config;
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_adapters::Secret;
use tokentray_core::{Level, State};
use tokentray_runtime::login::PasteOutcome;
use tokentray_runtime::{Engine, Remedy};
use tokentray_sandbox::{App, Endpoint, Fault, ProviderKind, Sandbox, SandboxConfig};

mod fyers_credentials;
mod others;

const IDS: [&str; 3] = ["fyers", "dhan", "angelone"];

struct Brokers {
    sandbox: Sandbox,
    dir: PathBuf,
    config: Config,
}

/// A sandbox with one app of each, a config with an env sink per account,
/// and their secrets (and Fyers' PIN) in the plaintext store.
async fn brokers(name: &str) -> Brokers {
    let dir = scratch(name);
    let ports: Vec<u16> = IDS.iter().map(|_| free_port()).collect();
    let redirect = |i: usize| format!("http://127.0.0.1:{}/cb", ports[i]);
    let apps = vec![
        App { pin: "4321".into(), ..App::new(ProviderKind::Fyers, "FY123-100", "fysecret", &redirect(0), "XF0001") },
        App::new(ProviderKind::Dhan, "dhanapp", "dhansecret", &redirect(1), "1100000001"),
        App::new(ProviderKind::AngelOne, "angelkey", "", &redirect(2), "A000001"),
    ];
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let sinks = dir.join("sinks");
    let mut text = "storage = \"plaintext\"\nhttp_timeout = \"3s\"\n".to_owned();
    for (id, app) in IDS.iter().zip(&apps) {
        text += &sandbox.account_toml(id, app);
        text += &format!("[[account.sink]]\nformat = \"env\"\npath = '{}/{id}.env'\n", sinks.display());
    }
    std::fs::create_dir_all(&sinks).unwrap();
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let store = store(&dir);
    store.set("fyers", SecretItem::ApiSecret, &Secret::new("fysecret")).unwrap();
    store.set("fyers", SecretItem::Pin, &Secret::new("4321")).unwrap();
    store.set("dhan", SecretItem::ApiSecret, &Secret::new("dhansecret")).unwrap();
    Brokers { sandbox, dir, config }
}

impl Brokers {
    fn engine(&self) -> Engine {
        World::engine_for(&self.config, &self.dir)
    }

    fn sink(&self, id: &str) -> String {
        std::fs::read_to_string(self.dir.join("sinks").join(format!("{id}.env"))).unwrap()
    }
}

type Login =
    tokio::task::JoinHandle<Result<tokentray_runtime::login::LoginOutcome, tokentray_runtime::login::LoginError>>;

/// Starts a login for `id` in the background; returns it and the URL it
/// shows, which the test opens as the browser would (or not).
async fn start_login(engine: &Engine, id: &'static str) -> (Login, url::Url) {
    let (urls, mut shown) = tokio::sync::mpsc::unbounded_channel();
    let options = tokentray_runtime::login::LoginOptions {
        open_browser: false,
        show_url: Box::new(move |u| {
            let _ = urls.send(u.authorize.clone());
        }),
        ..Default::default()
    };
    let running = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.login(id, options).await })
    };
    (running, shown.recv().await.expect("the login shows its URL"))
}

#[tokio::test]
async fn each_broker_logs_in_serves_renews_checks_and_logs_out() {
    let b = brokers("brokers-cycle").await;
    let engine = b.engine();
    for id in IDS {
        b.sandbox.clear_requests();
        log_in(&engine, id).await;
        let s = engine.status(id).unwrap();
        assert_eq!((s.state, s.level), (State::Valid, Level::Green), "{id}: {}", s.message);
        let first = engine.current_token(id).await.unwrap();
        let status = engine.refresh(id).await.unwrap();
        assert_eq!(status.state, State::Valid, "{id}");
        let renewed = engine.current_token(id).await.unwrap();
        assert_ne!(renewed.access_token, first.access_token, "{id}: a new token is served");
        assert_eq!(engine.check(id).await.unwrap().state, State::Valid, "{id}");
        assert!(b.sink(id).contains(renewed.access_token.expose()), "{id}: the sink has the new token");
        engine.logout(id).await.unwrap();
        assert_eq!(engine.status(id).unwrap().state, State::NoToken, "{id}");
        let calls: Vec<String> = b.sandbox.requests().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
        eprintln!("{id} cycle: {calls:?}");
    }
    engine.shutdown();
}

#[tokio::test]
async fn each_broker_writes_the_names_its_scripts_read() {
    let b = brokers("brokers-sinks").await;
    let engine = b.engine();
    for id in IDS {
        log_in(&engine, id).await;
    }
    let fyers = engine.current_token("fyers").await.unwrap();
    assert_eq!(
        b.sink("fyers"),
        format!("FYERS_ACCESS_TOKEN={}\nFYERS_APP_ID=FY123-100\n", fyers.access_token.expose())
    );
    let dhan = engine.current_token("dhan").await.unwrap();
    assert_eq!(
        b.sink("dhan"),
        format!("DHAN_ACCESS_TOKEN={}\nDHAN_CLIENT_ID=1100000001\n", dhan.access_token.expose())
    );
    let angel = engine.current_token("angelone").await.unwrap();
    let feed = angel.feed_token.as_ref().expect("Angel One's feed token is kept").expose();
    assert_eq!(
        b.sink("angelone"),
        format!(
            "ANGELONE_ACCESS_TOKEN={}\nANGELONE_API_KEY=angelkey\nANGELONE_FEED_TOKEN={feed}\n",
            angel.access_token.expose()
        )
    );
    engine.shutdown();
}

#[tokio::test]
async fn a_token_ended_at_the_broker_is_renewed_where_it_can_be_else_noticed_by_a_check() {
    let b = brokers("brokers-revoked").await;
    let engine = b.engine();
    for id in IDS {
        log_in(&engine, id).await;
    }
    let before = engine.current_token("fyers").await.unwrap();
    // A login elsewhere ends the access tokens.
    b.sandbox.expire_access_tokens();
    for id in ["fyers", "angelone"] {
        assert_eq!(engine.check(id).await.unwrap().state, State::Valid, "{id}: the refresh token renews it");
    }
    assert_ne!(engine.current_token("fyers").await.unwrap().access_token, before.access_token);
    // Dhan renews only a live token: the user must log in.
    let e = engine.check("dhan").await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "dhan: {e}");
    assert_eq!(engine.current_token("dhan").await.unwrap_err().remedy(), Remedy::Login, "never handed out");

    // With the refresh tokens gone too, only a login helps anywhere.
    b.sandbox.expire_access_tokens();
    b.sandbox.revoke_refresh_tokens();
    for id in ["fyers", "angelone"] {
        let e = engine.check(id).await.unwrap_err();
        assert_eq!(e.remedy(), Remedy::Login, "{id}: {e}");
        let e = engine.current_token(id).await.unwrap_err();
        assert_eq!(e.remedy(), Remedy::Login, "{id}: a rejected token is never handed out: {e}");
        assert_eq!(engine.status(id).unwrap().level, Level::Expired, "{id}");
    }
    engine.shutdown();
}

#[tokio::test]
async fn a_check_that_crosses_a_renewal_says_nothing_about_the_new_token() {
    // Dhan ends a token when it renews it: a check of the old token still on
    // the wire comes back "invalid", about a token no longer held.
    let b = brokers("brokers-crossed").await;
    let engine = b.engine();
    log_in(&engine, "dhan").await;
    let old = engine.current_token("dhan").await.unwrap();
    let mut events = engine.subscribe();
    b.sandbox.inject(Endpoint::DhanProfile, Fault::Held, Some(1));
    let check = {
        let engine = engine.clone();
        tokio::spawn(async move { engine.check("dhan").await })
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), b.sandbox.wait_held(1))
        .await
        .expect("the check reaches the profile call");
    engine.refresh("dhan").await.unwrap();
    let renewed = engine.current_token("dhan").await.unwrap();
    assert!(!b.sandbox.live_access_tokens().contains(&old.access_token.expose().to_owned()), "Dhan ended it");
    b.sandbox.release_held();

    let status = check.await.unwrap().expect("the token held now is good");
    assert_eq!(
        (status.state, status.level, status.last_error),
        (State::Valid, Level::Green, None),
        "{}",
        status.message
    );
    assert_eq!(engine.current_token("dhan").await.unwrap().access_token, renewed.access_token, "still served");
    loop {
        match events.try_recv() {
            Ok(event) => assert_ne!(
                event.kind,
                tokentray_runtime::EventKind::TokenInvalid,
                "no script is told the new token died"
            ),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => break,
            Err(e) => panic!("the events could not all be read: {e}"),
        }
    }
    // The next check is of the new token, and the broker accepts it.
    assert_eq!(engine.check("dhan").await.unwrap().state, State::Valid);
    engine.shutdown();
}

#[tokio::test]
async fn an_outage_is_never_read_as_log_in_and_the_token_is_kept() {
    let b = brokers("brokers-outage").await;
    let engine = b.engine();
    for (id, renew, profile) in [
        ("fyers", Endpoint::FyersRefresh, Endpoint::FyersProfile),
        ("dhan", Endpoint::DhanRenew, Endpoint::DhanProfile),
        ("angelone", Endpoint::AngelTokens, Endpoint::AngelProfile),
    ] {
        log_in(&engine, id).await;
        let token = engine.current_token(id).await.unwrap();
        for fault in [Fault::Status { code: 503 }, Fault::RateLimit, Fault::MalformedJson] {
            b.sandbox.inject(renew, fault, Some(1));
            let e = engine.refresh(id).await.unwrap_err();
            assert_eq!(e.remedy(), Remedy::Retry, "{id} {fault:?}: {e}");
            let s = engine.status(id).unwrap();
            assert_eq!(s.state, State::Valid, "{id} {fault:?}: the token still works: {}", s.message);
            assert!(s.auto_refresh, "{id} {fault:?}: renewal goes on");
            assert_eq!(engine.current_token(id).await.unwrap().access_token, token.access_token, "{id}");
        }
        b.sandbox.inject(profile, Fault::Status { code: 502 }, Some(1));
        assert_eq!(engine.check(id).await.unwrap_err().remedy(), Remedy::Retry, "{id}: could not tell");
        assert_eq!(engine.status(id).unwrap().state, State::Valid, "{id}");
        // The broker is back: the retry works.
        engine.refresh(id).await.unwrap();
    }
    engine.shutdown();
}

#[tokio::test]
async fn a_forged_callback_without_state_cannot_end_or_take_over_a_dhan_login() {
    let b = brokers("brokers-forged").await;
    let engine = b.engine();
    let (running, authorize) = start_login(&engine, "dhan").await;
    let callback = b.config.account("dhan").unwrap().redirect_uri.to_string();
    // A page in the browser, or another program, sends token ids of its own.
    for forged in ["forged", "x' OR 1=1"] {
        let url = format!(
            "{callback}?tokenId={}",
            url::form_urlencoded::byte_serialize(forged.as_bytes()).collect::<String>()
        );
        let page = reqwest::get(url).await.unwrap();
        assert_eq!(page.status(), 400, "{forged}");
        assert!(page.text().await.unwrap().contains("If this was your login"), "{forged}");
    }
    assert!(!running.is_finished(), "the login still waits for the real callback");
    // The real one still completes it.
    let page = browse(authorize).await;
    assert_eq!(page.status(), 200, "{}", page.text().await.unwrap_or_default());
    running.await.unwrap().expect("the real login completes");
    assert_eq!(engine.status("dhan").unwrap().state, State::Valid);
    engine.shutdown();
}

#[tokio::test]
async fn each_brokers_renewed_grant_survives_a_refusing_store_and_a_crash() {
    use std::sync::atomic::Ordering;
    let b = brokers("brokers-nothing-lost").await;
    let (engine, refuse, seen) = refusing_engine(&b.config, &b.dir);
    for id in IDS {
        log_in(&engine, id).await;
    }
    refuse.store(true, Ordering::SeqCst);
    let mut newest = Vec::new();
    for id in IDS {
        let stored = store(&b.dir).tokens(id).unwrap().unwrap();
        // Each renewal ends the old grant at the broker (Dhan ends the token,
        // Fyers and Angel One hand out new ones): only the new one counts now.
        engine.refresh(id).await.unwrap();
        let served = engine.current_token(id).await.unwrap();
        assert_ne!(served, stored, "{id}: the renewed token is served although the store refused it");
        assert!(b.dir.join(format!("data/journal/{id}.grant")).exists(), "{id}: the journal keeps the grant");
        newest.push(served);
    }
    assert!(seen.0.lock().unwrap().iter().any(|n| n.contains("not saved")), "the user was told");
    // The process dies with the store still refusing: the journal alone has
    // the renewed grants.
    engine.shutdown();
    drop(engine);
    let next = b.engine();
    assert_eq!(next.recover(false).await.unwrap().grants_replayed, IDS.len());
    for (id, token) in IDS.iter().zip(&newest) {
        assert_eq!(&store(&b.dir).tokens(id).unwrap().unwrap(), token, "{id}: the renewed grant survived");
        assert_eq!(&next.current_token(id).await.unwrap(), token, "{id}");
        assert_eq!(next.check(id).await.unwrap().state, State::Valid, "{id}: the broker still takes it");
        next.refresh(id).await.unwrap_or_else(|e| panic!("{id}: its renewal grant is the live one: {e}"));
    }
    next.shutdown();
}

/// Angel One redirects only to an https page on the user's own server, which
/// no loopback server of TokenTray's receives: a login from the tray or the
/// window opens the browser and takes the address it lands on, pasted into
/// the window. A wrong paste is refused and the login keeps waiting.
#[tokio::test]
async fn an_angel_one_login_from_the_window_takes_the_pasted_address() {
    let dir = scratch("brokers-angel-paste");
    let app = App::new(ProviderKind::AngelOne, "angelkey", "", "https://trader.example.com/angel/cb", "A000001");
    let sandbox = Sandbox::start(SandboxConfig { apps: vec![app.clone()], ..SandboxConfig::default() }).await.unwrap();
    let text = format!("storage = \"plaintext\"\nhttp_timeout = \"3s\"\n{}", sandbox.account_toml("angel", &app));
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = Config::load(&dir.join("config.toml")).unwrap();
    let engine = World::engine_for(&config, &dir);
    let e = engine.paste_redirect("angel", "https://trader.example.com/angel/cb?x=1".into()).await.unwrap_err();
    assert_eq!(e.remedy(), Remedy::Login, "no login waits yet: {e}");

    let (urls, mut shown) = tokio::sync::mpsc::unbounded_channel();
    let options = tokentray_runtime::login::LoginOptions {
        open_browser: false,
        paste_from_window: true,
        show_url: Box::new(move |u| drop(urls.send(u.authorize.clone()))),
        ..Default::default()
    };
    let running = tokio::spawn({
        let engine = engine.clone();
        async move { engine.login("angel", options).await }
    });
    let authorize = shown.recv().await.expect("the login shows its URL");
    let view = engine.account_views().into_iter().find(|a| a.status.id == "angel").unwrap();
    assert!(view.login_by_paste && view.awaiting_paste, "the window shows the paste field");
    // Not an address at all, a page the user copied by mistake, then the real one: each told how it went.
    let said = engine.paste_redirect("angel", "my login".into()).await.unwrap();
    assert_eq!(said, PasteOutcome::NotAnAddress);
    assert!(said.refusal().unwrap().contains("paste the whole address"), "{said:?}");
    let forged = "https://trader.example.com/angel/cb?auth_token=forged&feed_token=x&refresh_token=y";
    let said = engine.paste_redirect("angel", forged.into()).await.unwrap();
    assert!(matches!(&said, PasteOutcome::Refused { why } if why.contains("If this was your login")), "{said:?}");
    let said = engine.paste_redirect("angel", callback_url(&authorize).await).await.unwrap();
    assert_eq!(said, PasteOutcome::LoggedIn);
    running.await.unwrap().expect("the pasted address completes the login");
    assert_eq!(engine.status("angel").unwrap().state, State::Valid);
    let view = engine.account_views().into_iter().find(|a| a.status.id == "angel").unwrap();
    assert!(!view.awaiting_paste, "nothing waits any more");
    engine.shutdown();
}
