//! `tokentray demo`: the sandbox broker, the engine and two demo accounts in
//! one process, with the status printed as it changes.

use crate::context::CliError;
use std::io::BufRead;
use std::process::ExitCode;
use std::sync::Arc;
use tokentray_adapters::paths;
use tokentray_runtime::demo::{Demo, KITE_ID};
use tokentray_runtime::login::LoginOptions;
use tokentray_runtime::{EventKind, LogNotifier};

pub async fn run() -> Result<ExitCode, CliError> {
    crate::logging::init("info", None).map_err(|source| CliError::Io { context: "logging".into(), source })?;
    let dir = paths::data_dir()?.join("demo");
    let demo = Demo::start(&dir).await?;
    let engine = demo.engine(Arc::new(LogNotifier))?;
    // The demo's engine is the one of its data directory: commands from
    // another terminal hand their work to it, as to a daemon.
    let claimed = tokentray_runtime::control::claim(&engine).await?;
    let asked = std::sync::Arc::new(tokio::sync::Notify::new());
    let ask = asked.clone();
    let host = tokentray_runtime::control::Host {
        show: None,
        opens_browser: true,
        demo: true,
        stop: Some(Box::new(move || ask.notify_one())),
    };
    let _control = tokentray_runtime::control::serve_claimed(claimed, engine.clone(), host);
    let config_path = demo.config.path.clone();
    eprintln!(
        "\nTokenTray demo: a sandbox broker at {} and two accounts.\n\
         - {KITE_ID}: a daily-login token that lives 6 minutes (orange at 4 min left, red at 2, then expired)\n\
         - demo-oauth: 2-minute tokens refreshed automatically, for 10 minutes after each login\n\n\
         From another terminal:\n  export TOKENTRAY_CONFIG={} TOKENTRAY_DATA_DIR={}\n  tokentray status; tokentray token {KITE_ID}; tokentray login {KITE_ID}\n\n\
         Press Enter to log in to {KITE_ID} in your browser; Ctrl-C to quit.\n",
        demo.sandbox.url(),
        config_path.display(),
        demo.data_dir().display(),
    );
    demo.log_in_everything(&engine).await?;
    let scheduler = engine.spawn_scheduler();
    let _watch = tokentray_runtime::watch::watch(&engine, &config_path, Box::new(|_| {}))?;

    let (enter_tx, mut enter) = tokio::sync::mpsc::channel::<()>(1);
    std::thread::spawn(move || {
        for _ in std::io::stdin().lock().lines().map_while(Result::ok) {
            if enter_tx.blocking_send(()).is_err() {
                break;
            }
        }
    });
    let mut events = engine.subscribe();
    let mut shown = crate::status_cmd::table(&engine.statuses(), &engine.storage());
    eprint!("{shown}");
    let stop = crate::daemon_cmd::wait_for_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = asked.notified() => break,
            Some(()) = enter.recv() => {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let options = LoginOptions {
                        show_url: Box::new(|url| eprintln!("Opening the browser; if nothing opens, visit:\n  {}", url.authorize)),
                        ..LoginOptions::default()
                    };
                    if let Err(e) = engine.login(KITE_ID, options).await {
                        eprintln!("login: {e}");
                    }
                });
            }
            event = events.recv() => {
                if matches!(event, Ok(e) if e.kind != EventKind::ConfigReloaded) {
                    // One change often raises two events (token and status): print it once.
                    let table = crate::status_cmd::table(&engine.statuses(), &engine.storage());
                    if table != shown {
                        eprint!("\n{table}");
                        shown = table;
                    }
                }
            }
        }
    }
    engine.shutdown();
    let _ = scheduler.await;
    Ok(ExitCode::SUCCESS)
}
