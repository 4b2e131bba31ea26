//! The window is created when first opened and destroyed when closed: a web
//! view costs ~300 MB, which a tray app should not pay while nobody looks.

use crate::state::AppState;
use std::sync::atomic::Ordering;
use tauri::{AppHandle, Manager, Runtime, WebviewUrl, WebviewWindowBuilder, WindowEvent};

pub const LABEL: &str = "main";

pub fn open<R: Runtime>(app: &AppHandle<R>, from_tray: bool) {
    if let Some(state) = app.try_state::<AppState>() {
        state.opened_from_tray.store(from_tray, Ordering::Relaxed);
    }
    if let Some(window) = app.get_webview_window(LABEL) {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
        return;
    }
    let built = WebviewWindowBuilder::new(app, LABEL, WebviewUrl::App("index.html".into()))
        .title("TokenTray")
        .inner_size(780.0, 560.0)
        .min_inner_size(480.0, 360.0)
        .build();
    match built {
        Ok(window) => {
            let handle = app.clone();
            window.on_window_event(move |event| {
                if let WindowEvent::Focused(false) = event {
                    let from_tray =
                        handle.try_state::<AppState>().is_some_and(|s| s.opened_from_tray.load(Ordering::Relaxed));
                    if from_tray {
                        if let Some(w) = handle.get_webview_window(LABEL) {
                            let _ = w.hide();
                        }
                    }
                }
            });
            let _ = window.set_focus();
        }
        Err(e) => tracing::error!("cannot open the window: {e}"),
    }
}
