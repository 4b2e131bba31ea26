//! The tray icon, its title and its menu, kept in step with the engine. The
//! icon is set only when its look changes (each change writes a file on
//! Linux), the title at most once a minute (every second in the last one).

use crate::state::AppState;
use std::sync::Mutex;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Runtime};
use tokentray_adapters::config::TrayIcons;
use tokentray_runtime::summary::{next_title_change, summarize, AccountLine, TrayLook, TraySummary};

pub const TRAY_ID: &str = "tokentray";

pub fn icon(look: TrayLook, style: TrayIcons) -> Image<'static> {
    macro_rules! set {
        ($suffix:literal) => {
            match look {
                TrayLook::NoAccounts => include_bytes!(concat!("../icons/tray-none", $suffix, ".png")),
                TrayLook::Green => include_bytes!(concat!("../icons/tray-green", $suffix, ".png")),
                TrayLook::Orange => include_bytes!(concat!("../icons/tray-orange", $suffix, ".png")),
                TrayLook::Red => include_bytes!(concat!("../icons/tray-red", $suffix, ".png")),
                TrayLook::ActNow => include_bytes!(concat!("../icons/tray-expired", $suffix, ".png")),
                // Grey, as with no account: nothing known to act on.
                TrayLook::Unreachable => include_bytes!(concat!("../icons/tray-none", $suffix, ".png")),
            }
        };
    }
    let bytes: &'static [u8] = match style {
        TrayIcons::Color => set!(""),
        TrayIcons::Light => set!("-light"),
        TrayIcons::Dark => set!("-dark"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNGs")
}

/// What is on screen now, to change only what changed.
#[derive(Default)]
pub struct Shown {
    look: Option<(TrayLook, TrayIcons)>,
    title: Option<String>,
    lines: Option<Vec<AccountLine>>,
    /// The snooze the menu shows.
    snoozed: Option<Option<tokentray_core::Instant>>,
}

/// How long "Snooze" holds what can wait.
pub const SNOOZE: tokentray_core::Span = tokentray_core::Span::hours(1);

pub struct TrayState {
    pub shown: Mutex<Shown>,
}

pub fn build<R: Runtime>(app: &AppHandle<R>, summary: &TraySummary) -> tauri::Result<TrayIcon<R>> {
    let engine = &app.state::<AppState>().engine;
    let snoozed = engine.snoozed_until();
    let menu = menu(app, &summary.lines, snoozed, engine.now())?;
    let style = engine.config().tray.icons;
    // The icon goes to a file the panel reads. Not the shared default
    // (`/tmp/tray-icon` without XDG_RUNTIME_DIR): there another user could
    // swap the colour the trader trusts, and a second TokenTray (the demo
    // beside the real one) would overwrite this one's.
    let icon_dir = engine.data_dir().join("tray-icon");
    tokentray_adapters::atomic::ensure_private_dir(&icon_dir)?;
    let tray = TrayIconBuilder::with_id(TRAY_ID)
        .temp_dir_path(&icon_dir)
        .icon(icon(summary.look, style))
        .tooltip(tooltip(&summary.lines))
        .title(&summary.title)
        .menu(&menu)
        .show_menu_on_left_click(true)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayState {
        shown: Mutex::new(Shown {
            look: Some((summary.look, style)),
            title: Some(summary.title.clone()),
            lines: Some(summary.lines.clone()),
            snoozed: Some(snoozed),
        }),
    });
    Ok(tray)
}

/// Every account's countdown, for the desktops that show a tray tooltip
/// (Linux's indicators have none: there the menu's first lines say the same).
fn tooltip(lines: &[AccountLine]) -> String {
    std::iter::once("TokenTray").chain(lines.iter().map(|l| l.text.as_str())).collect::<Vec<_>>().join("\n")
}

fn menu<R: Runtime>(
    app: &AppHandle<R>,
    lines: &[AccountLine],
    snoozed: Option<tokentray_core::Instant>,
    now: tokentray_core::Instant,
) -> tauri::Result<Menu<R>> {
    let mut accounts: Vec<Submenu<R>> = Vec::new();
    for line in lines {
        let login = MenuItem::with_id(app, format!("login:{}", line.id), "Log in", true, None::<&str>)?;
        let refresh =
            MenuItem::with_id(app, format!("refresh:{}", line.id), "Refresh now", line.can_refresh, None::<&str>)?;
        let check = MenuItem::with_id(app, format!("check:{}", line.id), "Check now", true, None::<&str>)?;
        let copy = MenuItem::with_id(app, format!("copy:{}", line.id), "Copy token", line.can_copy, None::<&str>)?;
        accounts.push(Submenu::with_id_and_items(
            app,
            format!("account:{}", line.id),
            &line.text,
            true,
            &[&login, &refresh, &check, &copy],
        )?);
    }
    let none = MenuItem::with_id(app, "none", "No accounts: open TokenTray to add one", false, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open TokenTray", true, None::<&str>)?;
    let snooze = match snoozed {
        Some(until) => {
            let until = tokentray_runtime::when(until, now);
            MenuItem::with_id(
                app,
                "resume",
                format!("Resume notifications (snoozed until {until})"),
                true,
                None::<&str>,
            )?
        }
        None => MenuItem::with_id(app, "snooze", "Snooze notifications 1 h", true, None::<&str>)?,
    };
    let autostart_on = crate::autostart::is_enabled(app);
    let autostart = CheckMenuItem::with_id(app, "autostart", "Start at login", true, autostart_on, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let (sep1, sep2) = (PredefinedMenuItem::separator(app)?, PredefinedMenuItem::separator(app)?);
    let mut items: Vec<&dyn IsMenuItem<R>> = accounts.iter().map(|s| s as &dyn IsMenuItem<R>).collect();
    if lines.is_empty() {
        items.push(&none);
    }
    items.extend([&sep1 as &dyn IsMenuItem<R>, &open, &snooze, &autostart, &sep2, &quit]);
    Menu::with_items(app, &items)
}

/// A server's account's request, through this tray's control channel (which carries it over SSH).
async fn ask_server<C: tokentray_runtime::control::Call>(
    engine: &tokentray_runtime::Engine,
    request: C,
) -> Result<(), String> {
    tokentray_runtime::control::ask(engine.data_dir(), request).await.map(drop).map_err(|e| e.to_string())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    match id.split_once(':') {
        Some(("login", account)) => crate::start_login(app, account.to_owned()),
        Some(("refresh", account)) => {
            let engine = app.state::<AppState>().engine.clone();
            let account = account.to_owned();
            tauri::async_runtime::spawn(async move {
                let refreshed = match crate::is_server_account(&engine, &account) {
                    true => ask_server(&engine, tokentray_runtime::control::call::Refresh { account }).await,
                    false => engine.refresh(&account).await.map(drop).map_err(|e| e.to_string()),
                };
                if let Err(e) = refreshed {
                    tracing::warn!("refresh from the tray menu failed: {e}");
                }
            });
        }
        // What the broker says now; the tray and a notification follow.
        Some(("check", account)) => {
            let engine = app.state::<AppState>().engine.clone();
            let account = account.to_owned();
            tauri::async_runtime::spawn(async move {
                let checked = match crate::is_server_account(&engine, &account) {
                    true => ask_server(&engine, tokentray_runtime::control::call::Check { account }).await,
                    false => engine.check(&account).await.map(drop).map_err(|e| e.to_string()),
                };
                if let Err(e) = checked {
                    tracing::warn!("check from the tray menu: {e}");
                }
            });
        }
        Some(("copy", account)) => crate::clipboard::copy_token(app, account.to_owned()),
        _ => match id {
            "open" => {
                let state = app.state::<AppState>();
                crate::window::open(&state.args, state.engine.data_dir(), icon_rect(app));
            }
            "snooze" => snooze(app, Some(SNOOZE)),
            "resume" => snooze(app, None),
            "autostart" => {
                if let Err(e) = crate::autostart::set(app, !crate::autostart::is_enabled(app)) {
                    tracing::warn!("cannot change start at login: {e}");
                }
            }
            "quit" => quit(app),
            _ => {}
        },
    }
}

/// Where the icon is on screen, where the desktop says (Linux indicators do not).
#[cfg(target_os = "linux")]
pub fn icon_rect<R: Runtime>(_app: &AppHandle<R>) -> Option<crate::placement::Rect> {
    None
}

/// Where the icon is on screen, where the desktop says (Linux indicators do not).
#[cfg(not(target_os = "linux"))]
pub fn icon_rect<R: Runtime>(app: &AppHandle<R>) -> Option<crate::placement::Rect> {
    let rect = app.tray_by_id(TRAY_ID)?.rect().ok()??;
    let scale = app.primary_monitor().ok().flatten().map_or(1.0, |m| m.scale_factor());
    let position = rect.position.to_physical::<i32>(scale);
    let size = rect.size.to_physical::<u32>(scale);
    Some(crate::placement::Rect { x: position.x, y: position.y, width: size.width, height: size.height })
}

/// Brings the tray in line with the engine; changes only what changed.
pub fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else { return };
    let engine = &app.state::<AppState>().engine;
    let (summary, style) = (summarize(&engine.statuses()), engine.config().tray.icons);
    let state = app.state::<TrayState>();
    let mut shown = state.shown.lock().expect("tray state lock");
    if shown.look != Some((summary.look, style)) {
        let _ = tray.set_icon(Some(icon(summary.look, style)));
        shown.look = Some((summary.look, style));
    }
    if shown.title.as_deref() != Some(summary.title.as_str()) {
        let _ = tray.set_title(Some(&summary.title));
        shown.title = Some(summary.title.clone());
    }
    let snoozed = engine.snoozed_until();
    if shown.lines.as_deref() != Some(summary.lines.as_slice()) || shown.snoozed != Some(snoozed) {
        match menu(app, &summary.lines, snoozed, engine.now()) {
            Ok(m) => {
                let _ = tray.set_menu(Some(m));
                let _ = tray.set_tooltip(Some(tooltip(&summary.lines)));
                shown.lines = Some(summary.lines);
                shown.snoozed = Some(snoozed);
            }
            Err(e) => tracing::warn!("cannot rebuild the tray menu: {e}"),
        }
    }
}

/// Snoozes what can wait for `span`, or resumes (`None`); the menu says which.
pub fn snooze<R: Runtime>(app: &AppHandle<R>, span: Option<tokentray_core::Span>) {
    let engine = app.state::<AppState>().engine.clone();
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        if let Err(e) = engine.snooze(span).await {
            tracing::warn!("cannot snooze: {e}");
        }
        refresh(&app);
    });
}

/// Keeps the tray current: on every engine event, and when the title's text changes.
pub fn spawn_updater<R: Runtime>(app: AppHandle<R>) {
    let engine = app.state::<AppState>().engine.clone();
    let mut events = engine.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let next = next_title_change(&engine.statuses(), engine.now());
            let sleep = next
                .map(|t| (t - engine.now()).to_std().unwrap_or_default())
                .unwrap_or(std::time::Duration::from_secs(3600));
            tokio::select! {
                event = events.recv() => {
                    if matches!(event, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        break;
                    }
                }
                _ = tokio::time::sleep(sleep) => {}
            }
            refresh(&app);
        }
    });
}

/// Quits: the engine stops starting work, and the app exits.
pub fn quit<R: Runtime>(app: &AppHandle<R>) {
    app.state::<AppState>().engine.shutdown();
    app.exit(0);
}
