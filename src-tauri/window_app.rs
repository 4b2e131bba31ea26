//! The window as a process of its own (`tokentray-tray --window`): one web
//! view, the page's commands forwarded to the running engine over its
//! control socket, and the engine's changes followed live. Closing the
//! window ends the process and every WebKit child with it. One window at a
//! time: a second one brings the first forward and leaves.

use crate::placement::{self, Rect, PANEL};
use crate::state::WindowState;
use crate::Args;
use std::path::PathBuf;
use tauri::{AppHandle, Emitter, Manager, Runtime, WebviewUrl, WebviewWindowBuilder};
use tokentray_runtime::control::{self, doorbell, doorbell::Doorbell};

pub const LABEL: &str = "main";

/// Runs the window until it is closed.
pub fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let engine_dir = match &args.engine_dir {
        Some(dir) => dir.clone(),
        None => crate::locate(args)?.2,
    };
    // One window: the first holds the doorbell for its life (claimed before
    // the web view starts); another rings it to bring it forward and leaves.
    let Some(bell) = tauri::async_runtime::block_on(doorbell::claim(&engine_dir))? else {
        tauri::async_runtime::block_on(doorbell::ring(&engine_dir, "show"))?;
        tracing::info!("the window is open already: brought it forward");
        return Ok(());
    };
    if !tauri::async_runtime::block_on(control::is_running(&engine_dir)) {
        return Err("TokenTray is not running here: start it (tokentray-tray), and it opens this window".into());
    }
    let near = args.near;
    let app = tauri::Builder::default()
        .invoke_handler(crate::handlers())
        .setup(move |app| {
            app.manage(WindowState { engine_dir: engine_dir.clone() });
            open(app.handle(), near)?;
            answer_show(app.handle(), bell);
            follow_engine(app.handle(), engine_dir.clone());
            Ok(())
        })
        .build(tauri::generate_context!())?;
    // The last window closed ends the process: nothing else lives here.
    app.run(|_, _| {});
    Ok(())
}

/// Opens the window: a compact panel beside the tray icon where the
/// desktop said where it is, else a window of the usual size that the
/// window manager places.
fn open<R: Runtime>(app: &AppHandle<R>, near: Option<Rect>) -> tauri::Result<()> {
    let builder = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("TokenTray")
        .min_inner_size(360.0, 360.0);
    let screen = near.and_then(|icon| {
        let monitor = app.monitor_from_point(f64::from(icon.x), f64::from(icon.y)).ok().flatten()?;
        let area = monitor.work_area();
        let screen = Rect { x: area.position.x, y: area.position.y, width: area.size.width, height: area.size.height };
        Some((icon, screen, monitor.scale_factor()))
    });
    let window = match screen {
        Some((icon, screen, scale)) => {
            let physical = |logical: f64| (logical * scale).round() as u32;
            let (x, y) = placement::beside_tray(icon, (physical(PANEL.0), physical(PANEL.1)), screen);
            builder.inner_size(PANEL.0, PANEL.1).position(f64::from(x) / scale, f64::from(y) / scale).build()?
        }
        None => builder.inner_size(780.0, 560.0).build()?,
    };
    window.set_focus()
}

/// Brings the window forward when a second one rings.
fn answer_show<R: Runtime>(app: &AppHandle<R>, bell: Doorbell) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        while let Ok(word) = bell.next().await {
            if word != "show" {
                continue;
            }
            let handle = app.clone();
            let _ = app.run_on_main_thread(move || {
                if let Some(w) = handle.get_webview_window(LABEL) {
                    let _ = w.show();
                    let _ = w.unminimize();
                    let _ = w.set_focus();
                }
            });
        }
    });
}

/// The page reloads its accounts on every change the engine reports; when
/// the engine goes away (Quit), the window goes with it.
fn follow_engine<R: Runtime>(app: &AppHandle<R>, engine_dir: PathBuf) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let emitter = app.clone();
        let followed = control::follow_changes(&engine_dir, |account| {
            let _ = emitter.emit("accounts-changed", account);
        })
        .await;
        if let Err(e) = followed {
            tracing::warn!("cannot follow the running TokenTray: {e}");
        }
        tracing::info!("the running TokenTray went away: closing the window");
        app.exit(0);
    });
}
