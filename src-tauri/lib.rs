//! The TokenTray desktop app: a tray icon with a countdown, notifications,
//! one-click logins and a small window, around the engine of
//! `tokentray-runtime`. The tray process never creates a web view: the
//! window is a process of its own (`--window`, `window_app.rs`).

mod args;
mod autostart;
#[cfg(windows)]
mod autostart_run_key;
#[cfg(target_os = "linux")]
mod autostart_xdg;
mod clipboard;
mod command_error;
mod commands;
pub mod notify;
mod placement;
mod state;
#[cfg(windows)]
mod toast;
pub mod tray;
pub mod window;
mod window_app;

pub use args::Args;

use state::AppState;
use std::path::PathBuf;
use std::sync::Arc;
use tauri::{AppHandle, Manager, RunEvent, Runtime};
use tokentray_adapters::config::Config;
use tokentray_adapters::paths;
use tokentray_runtime::control::{self, call, ClientError, Host};
use tokentray_runtime::demo::Demo;
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{Engine, EngineOptions, SystemClock};

/// Starts the tray (or, with `--window`, the window) and blocks until Quit
/// (until the window closes).
pub fn run(args: Args) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("TOKENTRAY_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal: autostarted, stderr is the journal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    // The name a tray host shows for the item (and a window manager for the
    // window): "TokenTray", not the binary's name.
    #[cfg(target_os = "linux")]
    glib::set_application_name("TokenTray");
    if args.window {
        if let Err(e) = window_app::run(&args) {
            eprintln!("tokentray-tray --window: {e}");
            std::process::exit(1);
        }
        return;
    }
    // The package starts TokenTray at every user's login: one who never set
    // it up gets no demo broker and no notifications about demo accounts.
    if args.background && !args.demo && matches!(locate(&args), Ok((Source::Demo, _, _))) {
        tracing::info!("started at login without a config: nothing to look after, so not starting");
        return;
    }
    // One instance: if a TokenTray already answers here, bring its window
    // forward and leave before any GUI starts (a GTK app torn down in the
    // middle of its start-up can crash on the way out).
    if let Ok((_, _, engine_dir)) = locate(&args) {
        if already_running(&engine_dir) {
            return;
        }
    }
    let app = tauri::Builder::default();
    // Started at login: the tray alone, no window. (Linux: `autostart_xdg.rs`;
    // Windows: `autostart_run_key.rs`.)
    #[cfg(target_os = "macos")]
    let app = app.plugin(tauri_plugin_autostart::init(
        tauri_plugin_autostart::MacosLauncher::LaunchAgent,
        Some(vec!["--background"]),
    ));
    let app = app
        .setup(move |app| {
            setup(app.handle(), &args)?;
            Ok(())
        })
        .build(tauri::generate_context!())
        .expect("the TokenTray app builds");
    app.run(|app, event| {
        if let RunEvent::ExitRequested { api, code, .. } = event {
            // The tray has no window; only Quit exits.
            if code.is_none() {
                api.prevent_exit();
            }
        } else if let RunEvent::Exit = event {
            if let Some(state) = app.try_state::<AppState>() {
                // Quit waits for refreshes and writes in flight, as the daemon's stop does.
                let engine = state.engine.clone();
                tauri::async_runtime::block_on(engine.stop(std::time::Duration::from_secs(15)));
            }
        }
    });
}

/// The window's commands (in the window process).
pub fn handlers<R: Runtime>() -> impl Fn(tauri::ipc::Invoke<R>) -> bool + Send + Sync + 'static {
    tauri::generate_handler![
        commands::accounts,
        commands::history,
        commands::settings,
        commands::login,
        commands::paste_login,
        commands::refresh,
        commands::check,
        commands::logout,
        commands::save_account,
        commands::delete_account,
        commands::save_thresholds
    ]
}

/// Whether a TokenTray already answers for `engine_dir`; if so, it was
/// asked to bring its window forward.
fn already_running(engine_dir: &std::path::Path) -> bool {
    match tauri::async_runtime::block_on(control::ask(engine_dir, call::Show {})) {
        Ok(control::Shown::Window) => tracing::info!("TokenTray is already running: brought its window forward"),
        Ok(control::Shown::Headless) => {
            tracing::info!("the TokenTray daemon runs on this data directory: stop it first")
        }
        Err(ClientError::NotRunning) => return false,
        Err(e) => tracing::warn!("a TokenTray answers on this data directory already: {e}"),
    }
    true
}

/// Where the app runs from: the user's config, or the demo when there is none.
enum Source {
    Config(Box<Config>),
    Demo,
}

/// Where the app runs from, the data directory, and its engine's directory.
fn locate(args: &Args) -> Result<(Source, PathBuf, PathBuf), Box<dyn std::error::Error>> {
    let config_path = paths::config_file(args.config.clone())?;
    let source = match Config::load(&config_path) {
        _ if args.demo => Source::Demo,
        Ok(config) => Source::Config(Box::new(config)),
        Err(e) if e.is_missing_file() => Source::Demo,
        Err(e) => return Err(Box::new(e)),
    };
    let data_dir = paths::data_dir()?;
    let engine_dir = match source {
        Source::Config(_) => data_dir.clone(),
        Source::Demo => Demo::data_dir_in(&data_dir.join("demo")),
    };
    Ok((source, data_dir, engine_dir))
}

fn setup<R: Runtime>(app: &AppHandle<R>, args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (source, data_dir, engine_dir) = locate(args)?;
    // One instance, checked again: another TokenTray may have started since
    // `run` looked (before the demo would reset its files).
    if already_running(&engine_dir) {
        app.exit(0);
        return Ok(());
    }
    let (clicks_tx, mut clicks) = tokio::sync::mpsc::unbounded_channel();
    let notifier = Arc::new(notify::DesktopNotifier { clicks: clicks_tx });
    #[cfg(windows)]
    toast::register();

    let (engine, config_path, demo) = tauri::async_runtime::block_on(async {
        let (config, store, demo): (Config, Arc<dyn tokentray_adapters::store::SecretStore>, _) = match source {
            Source::Config(config) => {
                let store = tokentray_adapters::store::open(&config, &data_dir)?;
                (*config, Arc::from(store), None)
            }
            Source::Demo => {
                let demo = Demo::start(&data_dir.join("demo")).await?;
                (demo.config.clone(), Arc::new(demo.store()), Some(demo))
            }
        };
        let engine = Engine::new(
            config.clone(),
            EngineOptions { data_dir: engine_dir, store, clock: Arc::new(SystemClock), notifier: notifier.clone() },
        )?;
        if let Some(demo) = &demo {
            demo.log_in_everything(&engine).await?;
        }
        Ok::<_, Box<dyn std::error::Error>>((engine, config.path.clone(), demo))
    })?;
    let on_demo = demo.is_some();
    app.manage(AppState { engine: engine.clone(), _demo: demo, args: args.clone() });

    let window_args = args.clone();
    let window_engine = engine.data_dir().to_owned();
    let window_app = app.clone();
    let quit_app = app.clone();
    let host = Host {
        show: Some(Box::new(move || window::open(&window_args, &window_engine, tray::icon_rect(&window_app)))),
        opens_browser: true,
        demo: on_demo,
        // `tokentray stop` (the installer's too): as the menu's Quit.
        stop: Some(Box::new(move || {
            let app = quit_app.clone();
            let _ = quit_app.run_on_main_thread(move || tray::quit(&app));
        })),
    };
    let api = engine.config().api;
    let watch = tauri::async_runtime::block_on(async {
        // Only the one running engine puts right what a crash left behind,
        // and its socket answers once that is done.
        let claimed = control::claim(&engine).await?;
        engine.recover(true).await?;
        control::serve_claimed(claimed, engine.clone(), host);
        engine.spawn_scheduler();
        if api.enabled {
            if let Err(e) = tokentray_runtime::api::serve(engine.clone(), api.port).await {
                tracing::error!("{e}; scripts cannot reach the API, the rest runs");
            }
        }
        let on_invalid =
            Box::new(|e: &tokentray_adapters::config::ConfigError| tracing::error!("config edit ignored: {e}"));
        Ok::<_, Box<dyn std::error::Error>>(tokentray_runtime::watch::watch(&engine, &config_path, on_invalid)?)
    })?;
    app.manage(WatchGuard { _watch: std::sync::Mutex::new(watch) });

    app.manage(clipboard::TokenClipboard::default());
    tray::build(app, &tokentray_runtime::summary::summarize(&engine.statuses()))?;
    tray::spawn_updater(app.clone());

    // "Log in" or "Snooze 1 h" clicked in a notification.
    let click_app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Some(clicked) = clicks.recv().await {
            match clicked {
                notify::Clicked::Login(account) => start_login(&click_app, account),
                notify::Clicked::Snooze => tray::snooze(&click_app, Some(tray::SNOOZE)),
            }
        }
    });
    // The session ending (SIGTERM) is a Quit: refreshes and writes in flight finish first.
    #[cfg(unix)]
    {
        let app = app.clone();
        tauri::async_runtime::spawn(async move {
            use tokio::signal::unix::{signal, SignalKind};
            if let Ok(mut term) = signal(SignalKind::terminate()) {
                term.recv().await;
                tracing::info!("SIGTERM: stopping as Quit does");
                app.exit(0);
            }
        });
    }
    if args.show {
        window::open(args, engine.data_dir(), None);
    }
    tracing::info!("tray up");
    Ok(())
}

/// Keeps the config and state files watched for as long as the app runs.
struct WatchGuard {
    _watch: std::sync::Mutex<tokentray_runtime::watch::FileWatch>,
}

/// A login started from the tray or a notification: the browser opens, the
/// window and tray follow through engine events.
pub fn start_login<R: Runtime>(app: &AppHandle<R>, account: String) {
    let state = app.state::<AppState>();
    let engine = state.engine.clone();
    if is_server_account(&engine, &account) {
        // A server's: through this tray's own control channel, which carries
        // it to the server, opens the browser here and catches the redirect.
        let data_dir = engine.data_dir().to_owned();
        tauri::async_runtime::spawn(async move {
            let timeout_secs = tokentray_runtime::login::DEFAULT_TIMEOUT.as_secs();
            let request =
                tokentray_runtime::control::call::Login { account, no_browser: false, timeout_secs, relayed: false };
            let (_paste, pasted) = tokio::sync::mpsc::channel(1);
            if let Err(e) = tokentray_runtime::control::log_in(&data_dir, request, |_| {}, pasted).await {
                tracing::warn!("login failed: {e}");
            }
        });
        return;
    }
    // A redirect no loopback server receives (Angel One's) comes back pasted
    // into the window's field, so the window opens beside the browser.
    let pasted = engine.config().account(&account).is_some_and(|a| !tokentray_runtime::login::served_on_loopback(a));
    let options = LoginOptions { paste_from_window: true, ..LoginOptions::default() };
    let login = tauri::async_runtime::spawn({
        let engine = engine.clone();
        async move {
            if let Err(e) = engine.login(&account, options).await {
                tracing::warn!("login failed: {e}");
            }
        }
    });
    if pasted {
        window::open(&state.args, engine.data_dir(), tray::icon_rect(app));
    }
    drop(login);
}

/// Whether `id` is a server's account (`ACCOUNT@SERVER`), followed over SSH.
pub fn is_server_account(engine: &tokentray_runtime::Engine, id: &str) -> bool {
    tokentray_runtime::remote::Route::of(&engine.config(), id).is_some()
}

#[cfg(test)]
mod command_tests;
