//! The real window in a real WebKit engine, driven over WebDriver
//! (tauri-driver and WebKitWebDriver, under Xvfb). The window is a process of
//! its own (`tokentray-tray --window`) beside the running tray, whose engine
//! it talks to: the demo account's row shows its countdown and colour, a
//! click on "Log in" completes a login in the tray's engine and the row
//! follows live, and closing the window ends its process while the tray,
//! which never made a web view, runs on.
//!
//! Needs `tauri-driver` and `WebKitWebDriver` and a desktop session:
//! `scripts/test.sh` installs and starts them.

use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokentray_testkit::free_port;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed when the test lets go of it, also on a panic.
/// The environment every TokenTray process of the test runs in.
fn tokentray_env(command: &mut Command, data_dir: &std::path::Path) {
    command
        .env("TOKENTRAY_DATA_DIR", data_dir)
        .env("TOKENTRAY_CONFIG", data_dir.join("no-config.toml"))
        // The "system browser" opens the sandbox's login page and clicks Approve, as a person would.
        .env("BROWSER", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/approve-browser.sh %s"));
}

/// The tray on the demo broker, once its control socket answers.
fn start_tray(data_dir: &std::path::Path) -> tokentray_testkit::KilledOnDrop {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokentray-tray"));
    command.arg("--demo").stdout(Stdio::null()).stderr(std::fs::File::create(data_dir.join("tray.log")).unwrap());
    tokentray_env(&mut command, data_dir);
    let tray = tokentray_testkit::KilledOnDrop(command.spawn().unwrap());
    let socket = data_dir.join("demo/data/tokentray.sock");
    tokentray_testkit::wait_until("the tray's engine answers", Duration::from_secs(60), || {
        std::os::unix::net::UnixStream::connect(&socket).is_ok()
    });
    tray
}

/// The processes whose command line holds all of `words`.
fn processes_with(words: &[&str]) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            words.iter().all(|w| args.contains(&w.as_bytes()))
        })
        .collect()
}

impl Driver {
    /// A window on the demo tray's engine.
    async fn start(data_dir: &std::path::Path) -> Driver {
        Self::start_with(data_dir, &["--window", "--demo"]).await
    }

    /// A window started with `args`, as the tray's "Open TokenTray" starts it.
    async fn start_with(data_dir: &std::path::Path, args: &[&str]) -> Driver {
        let port = free_port();
        let native = free_port();
        let mut command = Command::new("tauri-driver");
        command
            .args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(data_dir.join("app.log")).unwrap());
        tokentray_env(&mut command, data_dir);
        let child = command.spawn().expect("tauri-driver is installed (scripts/test.sh installs it)");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let mut driver = Driver { child, base, http, session: String::new() };
        // The window process, as the tray's "Open TokenTray" starts it.
        let capabilities = json!({"capabilities": {"alwaysMatch": {"tauri:options": {
            "application": env!("CARGO_BIN_EXE_tokentray-tray"),
            "args": args
        }}}});
        let started = Instant::now();
        let session = loop {
            match driver.http.post(format!("{}/session", driver.base)).json(&capabilities).send().await {
                Ok(r) => break r.json::<Value>().await.unwrap(),
                Err(_) if started.elapsed() < Duration::from_secs(20) => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(e) => panic!("tauri-driver does not answer: {e}"),
            }
        };
        driver.session =
            session["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {session}")).to_owned();
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method, url);
        if let Some(b) = body {
            request = request.json(&b);
        }
        request.send().await.unwrap().json::<Value>().await.unwrap()
    }

    async fn find(&self, css: &str) -> Option<String> {
        let v =
            self.call(reqwest::Method::POST, "/element", Some(json!({"using": "css selector", "value": css}))).await;
        v["value"][ELEMENT].as_str().map(str::to_owned)
    }

    async fn attribute(&self, css: &str, name: &str) -> Option<String> {
        let e = self.find(css).await?;
        let v = self.call(reqwest::Method::GET, &format!("/element/{e}/attribute/{name}"), None).await;
        v["value"].as_str().map(str::to_owned)
    }

    async fn text(&self, css: &str) -> Option<String> {
        let e = self.find(css).await?;
        let v = self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None).await;
        v["value"].as_str().map(str::to_owned)
    }

    async fn displayed(&self, css: &str) -> bool {
        let e = self.find(css).await.unwrap_or_else(|| panic!("no element {css}"));
        self.call(reqwest::Method::GET, &format!("/element/{e}/displayed"), None).await["value"] == json!(true)
    }

    /// Chooses `value` in the `<select>` at `css`, as a person's pick does (with its change event).
    async fn choose(&self, css: &str, value: &str) {
        let script = "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
                      s.dispatchEvent(new Event('change'));";
        self.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": [css, value]}))).await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await.unwrap_or_else(|| panic!("no element {css}"));
        self.call(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({}))).await;
    }

    /// Waits until the row's colour is `level`; returns the countdown text then.
    async fn wait_for_level(&self, account: &str, level: &str) -> String {
        let started = Instant::now();
        loop {
            // The page re-renders rows on every change: look them up afresh each time.
            if self.attribute(&format!("#row-{account}"), "data-level").await.as_deref() == Some(level) {
                if let Some(text) = self.text(&format!("#row-{account} .countdown")).await {
                    return text;
                }
            }
            if started.elapsed() > Duration::from_secs(30) {
                let source = self.call(reqwest::Method::GET, "/source", None).await;
                let level = self.attribute(&format!("#row-{account}"), "data-level").await;
                panic!("{account} never turned {level:?}; the page: {source}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        if let Some(png) = v["value"].as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok()) {
            let _ = std::fs::write(path, png);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_process_follows_the_trays_engine_and_leaves_when_closed() {
    let dir = tokentray_testkit::scratch("webdriver");
    let mut tray = start_tray(&dir);
    let tray_pid = tray.0.id();
    let driver = Driver::start(&dir).await;

    let countdown = driver.wait_for_level("demo-kite", "green").await;
    assert!(countdown.ends_with('m') || countdown.ends_with('s'), "a countdown, not {countdown:?}");
    assert_eq!(driver.text("#row-demo-kite .state").await.as_deref(), Some("valid"));
    driver.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tokentray-window.png")).await;

    // A bar for the share of time left, and the one action that matters as the main button.
    let share: u32 = driver.attribute("#row-demo-kite .life", "aria-valuenow").await.unwrap().parse().unwrap();
    assert!((1..=100).contains(&share), "a share of the token's life: {share}");
    let main = driver.attribute("#row-demo-kite button.primary", "data-action").await;
    assert_eq!(main.as_deref(), Some("check"), "Kite renews only by a login: a green one is checked");
    assert!(driver.attribute("#row-demo-kite .countdown", "title").await.unwrap().starts_with("Act by "));

    driver.click("#row-demo-kite button[data-action=logout]").await;
    assert_eq!(driver.wait_for_level("demo-kite", "no_token").await, "log in");
    let main = driver.attribute("#row-demo-kite button.primary", "data-action").await;
    assert_eq!(main.as_deref(), Some("login"), "logged out: Log in is the main button");

    driver.click("#row-demo-kite button[data-action=login]").await;
    let countdown = driver.wait_for_level("demo-kite", "green").await;
    assert!(countdown.ends_with('m'), "a fresh 6-minute token: {countdown}");
    // The week's timeline has the logout and the new login, in words too.
    let started = Instant::now();
    while driver.find("#row-demo-kite .timeline .seg.level-green").await.is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "the timeline never showed the login");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let words = driver.attribute("#row-demo-kite .timeline", "aria-label").await.unwrap();
    assert!(words.starts_with("Kite (demo): Last 7 days: 1 new token"), "{words}");
    assert_eq!(driver.text("#row-demo-kite .state").await.as_deref(), Some("valid"));

    // Usable at 360 px wide: nothing wider than the window.
    let rect = json!({"width": 360, "height": 640});
    driver.call(reqwest::Method::POST, "/window/rect", Some(rect)).await;
    let script = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";
    let widths = driver.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await;
    let (scroll, client) = (widths["value"][0].as_u64().unwrap(), widths["value"][1].as_u64().unwrap());
    assert!(client <= 400 && scroll <= client, "at {client} px the page is {scroll} px wide");

    // The form shows each provider's own fields, and says what is missing.
    driver.click("#add").await;
    assert!(!driver.displayed("#f-user_id").await && !driver.displayed("#f-pin").await, "Kite takes neither");
    driver.choose("#f-provider", "dhan").await;
    assert!(driver.displayed("#f-user_id").await, "Dhan asks for the client id");
    assert!(!driver.displayed("#f-pin").await);
    driver.choose("#f-provider", "fyers").await;
    assert!(driver.displayed("#f-pin").await && !driver.displayed("#f-user_id").await, "Fyers asks for the PIN");
    driver.choose("#f-provider", "angelone").await;
    for (field, value) in [("#f-id", "angel"), ("#f-api_key", "key"), ("#f-redirect_uri", "https://example.com/cb")] {
        let e = driver.find(field).await.unwrap();
        driver.call(reqwest::Method::POST, &format!("/element/{e}/value"), Some(json!({"text": value}))).await;
    }
    driver.click("#account-form button[type=submit]").await;
    let error = driver.text("#form-error").await.unwrap_or_default();
    assert!(error.contains("client id"), "the form names what to fix: {error:?}");
    assert_eq!(driver.attribute("#f-user_id", "aria-invalid").await.as_deref(), Some("true"));

    // Closing the window ends its process; the tray runs on, with no web view.
    let window = ["--window", "--demo"];
    assert_eq!(processes_with(&window).len(), 1, "one window process");
    // The answer may never come whole: the app ends with its last window.
    let close = format!("{}/session/{}/window", driver.base, driver.session);
    let _ = driver.http.delete(close).send().await;
    tokentray_testkit::wait_until("the window process ended", Duration::from_secs(20), || {
        processes_with(&window).is_empty()
    });
    assert!(tray.0.try_wait().unwrap().is_none(), "the tray still runs");
    let children = std::fs::read_to_string(format!("/proc/{tray_pid}/task/{tray_pid}/children")).unwrap_or_default();
    let webkit: Vec<&str> = children
        .split_whitespace()
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().contains("WebKit"))
        .collect();
    assert!(webkit.is_empty(), "the tray never starts WebKit: {webkit:?}");
    let _ = driver.http.delete(format!("{}/session/{}", driver.base, driver.session)).send().await;
    // The session's end stops it as Quit does.
    let _ = std::process::Command::new("kill").args(["-TERM", &tray_pid.to_string()]).status();
    tokentray_testkit::wait_until("the tray stopped on SIGTERM", Duration::from_secs(30), || {
        tray.0.try_wait().unwrap().is_some()
    });
    assert_eq!(tray.0.wait().unwrap().code(), Some(0), "SIGTERM is a clean stop");
    // Its log went to a file, as an autostarted tray's goes to the journal: no colour codes.
    let log = std::fs::read_to_string(dir.join("tray.log")).unwrap();
    assert!(log.contains("SIGTERM: stopping as Quit does"), "{log}");
    assert!(log.contains("INFO"), "the tray logged: {log}");
    assert!(!log.contains('\u{1b}'), "no colour codes off a terminal: {log}");
}

/// One account in each level, made by real logins against a sandbox broker
/// in an engine of the test's own, which the window talks to over its
/// control socket: green, orange, red, ended at the broker, and no token.
struct Scene {
    _sandbox: tokentray_sandbox::Sandbox,
    engine: tokentray_runtime::Engine,
}

async fn every_level(dir: &std::path::Path) -> Scene {
    use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
    let port = |_| format!("http://127.0.0.1:{}/cb", free_port());
    let apps: Vec<App> =
        [ProviderKind::Kite, ProviderKind::Upstox, ProviderKind::Schwab, ProviderKind::Kite, ProviderKind::Dhan]
            .into_iter()
            .enumerate()
            .map(|(i, provider)| {
                App::new(provider, &format!("app{i}"), &format!("secret{i}"), &port(i), &format!("USER{i}"))
            })
            .collect();
    let sandbox = Sandbox::start(SandboxConfig { apps: apps.clone(), ..SandboxConfig::default() }).await.unwrap();
    let mut text = "storage = \"plaintext\"\n".to_owned();
    // id, label, and what makes its level: the token's life, or the refresh limit.
    let accounts = [
        ("kite", "Zerodha Kite", "token_lifetime = \"8h\"\n"),
        ("upstox", "Upstox", "token_lifetime = \"2h\"\n"),
        ("oauth", "OAuth2 broker", ""),
        ("kite-old", "Kite (other login)", "token_lifetime = \"8h\"\n"),
        ("dhan", "Dhan", ""),
    ];
    for ((id, label, extra), app) in accounts.iter().zip(&apps) {
        text += &sandbox.account_toml(id, app);
        text += &format!("label = \"{label}\"\n{extra}");
        if app.provider == ProviderKind::Schwab {
            // A generic OAuth2 broker whose refresh token lasts 40 minutes: under the red threshold.
            text = text.replace("provider = \"schwab\"", "provider = \"oauth2\"");
            text += &format!("[account.oauth2]\n{}refresh_limit = \"40m\"\n", sandbox.oauth2_endpoints_toml());
        }
    }
    std::fs::write(dir.join("config.toml"), &text).unwrap();
    let config = tokentray_adapters::config::Config::load(&dir.join("config.toml")).unwrap();
    let store = tokentray_adapters::store::PlaintextStore::new(dir.join("data/secrets.json"));
    for (i, (id, ..)) in accounts.iter().enumerate() {
        use tokentray_adapters::store::{SecretItem, SecretStore};
        store.set(id, SecretItem::ApiSecret, &tokentray_adapters::Secret::new(format!("secret{i}"))).unwrap();
    }
    let engine = tokentray_runtime::Engine::new(
        config,
        tokentray_runtime::EngineOptions {
            data_dir: dir.join("data"),
            store: std::sync::Arc::new(store),
            clock: std::sync::Arc::new(tokentray_runtime::SystemClock),
            notifier: std::sync::Arc::new(tokentray_runtime::LogNotifier),
        },
    )
    .unwrap();
    let log_in = |id: &'static str| {
        let engine = engine.clone();
        async move { engine.login(id, tokentray_runtime::login::LoginOptions::following_redirects()).await.unwrap() }
    };
    // A login elsewhere ends this one's token; a check finds out.
    log_in("kite-old").await;
    sandbox.expire_access_tokens();
    assert!(engine.check("kite-old").await.is_err(), "the broker ended it");
    for id in ["kite", "upstox", "oauth"] {
        log_in(id).await;
    }
    let host = tokentray_runtime::control::Host { show: None, opens_browser: true, demo: false, stop: None };
    tokentray_runtime::control::serve(engine.clone(), host).await.unwrap();
    engine.spawn_scheduler();
    Scene { _sandbox: sandbox, engine }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_window_shows_one_account_in_each_level() {
    let dir = tokentray_testkit::scratch("webdriver-levels");
    let scene = every_level(&dir).await;
    let engine_dir = dir.join("data");
    let driver = Driver::start_with(&dir, &["--window", "--engine-dir", engine_dir.to_str().unwrap()]).await;
    for (id, level, action) in [
        ("kite", "green", "check"),
        ("upstox", "orange", "check"),
        ("oauth", "red", "login"),
        ("kite-old", "expired", "login"),
        ("dhan", "no_token", "login"),
    ] {
        let countdown = driver.wait_for_level(id, level).await;
        let main = driver.attribute(&format!("#row-{id} button.primary"), "data-action").await;
        assert_eq!(main.as_deref(), Some(action), "{id} ({level}, {countdown}): the main button");
    }
    // Nothing wider than the window at its usual size either: the buttons wrap.
    let script = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];";
    let widths = driver.call(reqwest::Method::POST, "/execute/sync", Some(json!({"script": script, "args": []}))).await;
    let (scroll, client) = (widths["value"][0].as_i64().unwrap(), widths["value"][1].as_i64().unwrap());
    assert!(scroll <= client, "the page is {scroll} px wide in a {client} px window");
    // Tall enough for the picture to hold every row.
    let resized = driver.call(reqwest::Method::POST, "/window/rect", Some(json!({"width": 900, "height": 720}))).await;
    assert!(resized["value"]["width"].is_number(), "the window took the size: {resized}");
    let screenshot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tokentray-levels.png");
    driver.screenshot(&screenshot).await;
    // `TOKENTRAY_UPDATE_SCREENSHOT=1` refreshes the README's picture from this run.
    if std::env::var_os("TOKENTRAY_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&screenshot, concat!(env!("CARGO_MANIFEST_DIR"), "/docs/window.png")).unwrap();
    }
    drop(driver);
    scene.engine.shutdown();
}

/// Angel One's redirect goes to the user's own https page, which no loopback
/// server receives: Log in opens the browser and the window asks for the
/// address it lands on. The pasted address completes the login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_angel_one_login_is_finished_by_pasting_the_address_into_the_window() {
    use tokentray_sandbox::{App, ProviderKind, Sandbox, SandboxConfig};
    let dir = tokentray_testkit::scratch("webdriver-paste");
    let opened = dir.join("opened-urls.txt");
    // The engine below runs in this process: its "browser" only notes the URL.
    // (Set before anything here reads the environment; the other tests pass theirs to their children.)
    std::env::set_var(
        "BROWSER",
        format!("{} {} %s", concat!(env!("CARGO_MANIFEST_DIR"), "/tests/record-browser.sh"), opened.display()),
    );
    let app = App::new(ProviderKind::AngelOne, "angelkey", "", "https://trader.example.com/angel/cb", "A000001");
    let sandbox = Sandbox::start(SandboxConfig { apps: vec![app.clone()], ..SandboxConfig::default() }).await.unwrap();
    std::fs::write(
        dir.join("config.toml"),
        format!("storage = \"plaintext\"\n{}", sandbox.account_toml("angel", &app)),
    )
    .unwrap();
    let config = tokentray_adapters::config::Config::load(&dir.join("config.toml")).unwrap();
    let engine = tokentray_runtime::Engine::new(
        config,
        tokentray_runtime::EngineOptions {
            data_dir: dir.join("data"),
            store: std::sync::Arc::new(tokentray_adapters::store::PlaintextStore::new(dir.join("data/secrets.json"))),
            clock: std::sync::Arc::new(tokentray_runtime::SystemClock),
            notifier: std::sync::Arc::new(tokentray_runtime::LogNotifier),
        },
    )
    .unwrap();
    let host = tokentray_runtime::control::Host { show: None, opens_browser: true, demo: false, stop: None };
    tokentray_runtime::control::serve(engine.clone(), host).await.unwrap();
    let engine_dir = dir.join("data");
    let driver = Driver::start_with(&dir, &["--window", "--engine-dir", engine_dir.to_str().unwrap()]).await;
    driver.wait_for_level("angel", "no_token").await;
    driver.click("#row-angel button[data-action=login]").await;
    let authorize = {
        let opened = opened.clone();
        tokio::task::spawn_blocking(move || {
            tokentray_testkit::wait_until("the browser opened", Duration::from_secs(20), || {
                std::fs::read_to_string(&opened).is_ok_and(|s| s.contains("http"))
            });
            std::fs::read_to_string(&opened).unwrap().trim().to_owned()
        })
        .await
        .unwrap()
    };
    tokentray_testkit::eventually_async("the paste field shown", || async { driver.displayed("#paste-form").await })
        .await;
    // What the person does in the browser: log in at Angel, land on their page.
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let landed = http.get(&authorize).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    assert!(landed.starts_with("https://trader.example.com/angel/cb?"), "{landed}");
    let field = driver.find("#p-url").await.unwrap();
    driver.call(reqwest::Method::POST, &format!("/element/{field}/value"), Some(json!({"text": landed}))).await;
    driver.click("#paste-form button[type=submit]").await;
    // Valid, whatever colour the hour gives a daily token.
    tokentray_testkit::eventually_async("the login completed", || async {
        driver.text("#row-angel .state").await.is_some_and(|s| s.starts_with("valid"))
    })
    .await;
    tokentray_testkit::eventually_async("the paste field gone", || async { !driver.displayed("#paste-form").await })
        .await;
    drop(driver);
    engine.shutdown();
}
