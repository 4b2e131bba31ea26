//! The window's commands through Tauri's mock runtime, forwarded over the
//! real control socket to a real engine with the demo's sandbox broker,
//! real files and the plaintext store: as the window process does.

use crate::state::WindowState;
use serde_json::{json, Value};
use std::sync::Arc;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, Manager, WebviewWindow, WebviewWindowBuilder};
use tokentray_adapters::store::{SecretItem, SecretStore};
use tokentray_runtime::demo::Demo;
use tokentray_runtime::LogNotifier;

struct Fixture {
    _app: App<MockRuntime>,
    webview: WebviewWindow<MockRuntime>,
    dir: std::path::PathBuf,
    engine: tokentray_runtime::Engine,
    _demo: Demo,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.engine.shutdown();
    }
}

fn fixture(name: &str) -> Fixture {
    let dir = tokentray_testkit::scratch(&format!("app-{name}"));
    let (engine, demo) = tauri::async_runtime::block_on(async {
        let demo = Demo::start(&dir).await.unwrap();
        let engine = demo.engine(Arc::new(LogNotifier)).unwrap();
        demo.log_in_everything(&engine).await.unwrap();
        let host = tokentray_runtime::control::Host { show: None, opens_browser: true, demo: true, stop: None };
        tokentray_runtime::control::serve(engine.clone(), host).await.unwrap();
        (engine, demo)
    });
    // The real context: the capabilities and their ACL apply as in the app.
    let app = mock_builder().invoke_handler(crate::handlers()).build(tauri::generate_context!(test = true)).unwrap();
    app.manage(WindowState { engine_dir: engine.data_dir().to_owned() });
    let webview = WebviewWindowBuilder::new(&app, "main", Default::default()).build().unwrap();
    Fixture { _app: app, webview, dir, engine, _demo: demo }
}

/// The page's own origin: the app's assets as each platform's web view
/// serves them (WebView2 has no custom schemes, hence http there).
const LOCAL: &str = if cfg!(windows) { "http://tauri.localhost" } else { "tauri://localhost" };

fn call(f: &Fixture, cmd: &str, args: Value) -> Result<Value, Value> {
    call_from(f, LOCAL, cmd, args)
}

/// Invokes `cmd` as a page at `origin` would.
fn call_from(f: &Fixture, origin: &str, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: origin.parse().unwrap(),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(&f.webview, request).map(|b| b.deserialize::<Value>().unwrap())
}

#[test]
fn accounts_carry_status_and_settings_but_no_secret() {
    let f = fixture("accounts");
    let accounts = call(&f, "accounts", json!({})).unwrap();
    let list = accounts.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let kite = list.iter().find(|a| a["id"] == "demo-kite").unwrap();
    assert_eq!(kite["state"], "valid");
    assert_eq!(kite["level"], "green");
    assert_eq!(kite["orange_seconds"], 240);
    assert!(kite["act_by"].is_string());
    let text = accounts.to_string();
    assert!(!text.contains("demo-kite-secret"), "no api secret reaches the page");
    for token in ["access_token", "refresh_token"] {
        assert!(!text.contains(token), "no token field reaches the page");
    }
    assert!(call(&f, "history", json!({})).unwrap().is_array(), "the timeline's history");
    let settings = call(&f, "settings", json!({})).unwrap();
    assert_eq!(settings["demo"], true);
    assert_eq!(settings["storage_plaintext"], true);
}

#[test]
fn refresh_check_and_logout_act_on_the_engine() {
    let f = fixture("actions");
    let refreshed = call(&f, "refresh", json!({"account": "demo-oauth"})).unwrap();
    assert_eq!(refreshed["state"], "valid");
    // Kite cannot renew: a refresh asks the broker instead, as the CLI's does.
    assert_eq!(call(&f, "refresh", json!({"account": "demo-kite"})).unwrap()["state"], "valid");
    assert_eq!(call(&f, "check", json!({"account": "demo-kite"})).unwrap()["state"], "valid");
    call(&f, "logout", json!({"account": "demo-kite"})).unwrap();
    let accounts = call(&f, "accounts", json!({})).unwrap();
    let kite = accounts.as_array().unwrap().iter().find(|a| a["id"] == "demo-kite").unwrap().clone();
    assert_eq!(kite["state"], "no_token");
    let e = call(&f, "check", json!({"account": "demo-kite"})).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("tokentray login demo-kite"), "{e}");
    assert_eq!(e["remedy"], "login", "the window can offer Log in: {e}");
}

#[test]
fn without_a_running_engine_the_window_says_so() {
    let f = fixture("gone");
    f.engine.shutdown();
    tokentray_testkit::wait_until("the control channel closed", std::time::Duration::from_secs(10), || {
        !tauri::async_runtime::block_on(tokentray_runtime::control::is_running(f.engine.data_dir()))
    });
    let e = call(&f, "accounts", json!({})).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("TokenTray is not running"), "{e}");
}

#[test]
fn saving_an_account_writes_the_config_and_the_secret_to_the_store() {
    let f = fixture("save");
    let draft = json!({
        "id": "kite-main", "provider": "kite", "api_key": "abc123",
        "redirect_uri": "http://127.0.0.1:5999/cb", "orange": "2h", "red": "30m"
    });
    call(&f, "save_account", json!({"draft": draft, "replacing": null, "apiSecret": "s3cret"})).unwrap();
    let config = std::fs::read_to_string(f.dir.join("config.toml")).unwrap();
    assert!(config.contains("id = \"kite-main\"") && config.contains("# TokenTray demo"), "comments kept: {config}");
    assert!(!config.contains("s3cret"), "the secret is not in the config");
    let store = tokentray_adapters::store::PlaintextStore::new(f.dir.join("data/secrets.json"));
    assert_eq!(store.get("kite-main", SecretItem::ApiSecret).unwrap().unwrap().expose(), "s3cret");
    let accounts = call(&f, "accounts", json!({})).unwrap();
    let added = accounts.as_array().unwrap().iter().find(|a| a["id"] == "kite-main").unwrap().clone();
    assert_eq!((added["state"].as_str(), added["red_seconds"].as_i64()), (Some("no_token"), Some(1800)));

    let bad = json!({"id": "x", "provider": "kite", "api_key": "k", "redirect_uri": "nope"});
    let e = call(&f, "save_account", json!({"draft": bad, "replacing": null, "apiSecret": null})).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("redirect_uri"), "{e}");
    assert_eq!(e["remedy"], "other", "{e}");
    assert!(!std::fs::read_to_string(f.dir.join("config.toml")).unwrap().contains("id = \"x\""), "nothing written");

    call(&f, "delete_account", json!({"account": "kite-main"})).unwrap();
    assert_eq!(call(&f, "accounts", json!({})).unwrap().as_array().unwrap().len(), 2);
    let e = call(&f, "save_thresholds", json!({"orange": "1h", "red": "2h"})).unwrap_err();
    assert!(e["message"].as_str().unwrap().contains("orange must be longer than red"), "{e}");
}

#[test]
fn a_remote_page_may_call_nothing() {
    let f = fixture("acl");
    let e = call_from(&f, "https://evil.example", "accounts", json!({})).unwrap_err();
    assert!(e.as_str().unwrap().contains("not allowed"), "{e}");
    let e = call_from(&f, LOCAL, "plugin:autostart|enable", json!({})).unwrap_err();
    assert!(e.as_str().unwrap().contains("not allowed"), "{e}");
}
