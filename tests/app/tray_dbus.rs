//! What a desktop's tray host sees: the test owns the StatusNotifierWatcher
//! name on the session bus, lets the real app register its indicator, and
//! reads the title (XAyatanaLabel), the icon and the menu labels (dbusmenu)
//! over D-Bus. Run inside the desktop session that `scripts/test.sh` starts.

#[path = "support/watcher.rs"]
mod support;

use dbus::arg::{RefArg, Variant};
use dbus::blocking::Connection;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokentray_adapters::store::{PlaintextStore, SecretStore};

/// A dbusmenu layout node: id, properties, children.
type MenuNode = (i32, dbus::arg::PropMap, Vec<Variant<Box<dyn RefArg>>>);

/// Every string anywhere in a D-Bus value.
fn strings(arg: &dyn RefArg, out: &mut Vec<String>) {
    if let Some(s) = arg.as_str() {
        out.push(s.to_owned());
    } else if let Some(iter) = arg.as_iter() {
        for item in iter {
            strings(item, out);
        }
    }
}

/// The RGBA pixel at the centre of the PNG the indicator points at.
fn centre_pixel(path: &str) -> [u8; 4] {
    let bytes = std::fs::read(path).expect("the icon file exists");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().expect("a small icon")];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba);
    let (w, h) = (info.width as usize, info.height as usize);
    let at = ((h / 2) * w + w / 2) * 4;
    [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
}

/// A dbusmenu node read from its D-Bus value: id, label, children.
fn node(arg: &dyn RefArg) -> Option<(i32, String, Vec<&dyn RefArg>)> {
    let arg = if arg.arg_type() == dbus::arg::ArgType::Variant { arg.as_iter()?.next()? } else { arg };
    let mut fields = arg.as_iter()?;
    let id = fields.next()?.as_i64()? as i32;
    let mut label = String::new();
    let mut props = fields.next()?.as_iter()?;
    while let (Some(key), Some(value)) = (props.next(), props.next()) {
        if key.as_str() == Some("label") {
            let mut found = Vec::new();
            strings(value, &mut found);
            label = found.concat();
        }
    }
    let children = fields.next()?.as_iter()?.collect();
    Some((id, label, children))
}

/// The id of the item labelled `item` in the submenu whose label starts with `submenu`.
fn item_id(layout: &MenuNode, submenu: &str, item: &str) -> Option<i32> {
    let (_, _, children) = layout.2.iter().filter_map(|c| node(&c.0)).find(|(_, l, _)| l.starts_with(submenu))?;
    children.into_iter().filter_map(node).find(|(_, l, _)| l == item).map(|(id, _, _)| id)
}

/// The id of the top-level item whose label starts with `label`.
fn top_item_id(layout: &MenuNode, label: &str) -> Option<i32> {
    layout.2.iter().filter_map(|c| node(&c.0)).find(|(_, l, _)| l.starts_with(label)).map(|(id, _, _)| id)
}

/// Clicks the top-level item labelled `label` (read afresh: ids change when
/// the menu is rebuilt), then waits for one labelled `then`.
fn click_until(menu: &dbus::blocking::Proxy<'_, &Connection>, label: &str, then: &str) {
    let layout = || -> MenuNode {
        menu.method_call("com.canonical.dbusmenu", "GetLayout", (0i32, -1i32, Vec::<String>::new()))
            .map(|(_, l): (u32, MenuNode)| l)
            .unwrap()
    };
    let id = top_item_id(&layout(), label).unwrap_or_else(|| panic!("no menu item {label:?}"));
    let clicked = (id, "clicked", Variant(Box::new(0i32) as Box<dyn RefArg>), 0u32);
    let () = menu.method_call("com.canonical.dbusmenu", "Event", clicked).unwrap();
    tokentray_testkit::wait_until(then, Duration::from_secs(15), || top_item_id(&layout(), then).is_some());
}

/// The tray app, killed when the test ends, whether it passed or not.
struct Tray(std::process::Child);

impl Drop for Tray {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The one tray host of this test process, shared by its tests.
fn host() -> support::Items {
    static ITEMS: std::sync::OnceLock<support::Items> = std::sync::OnceLock::new();
    ITEMS.get_or_init(support::watcher).clone()
}

/// Starts the tray app on `dir` (and `config`, or the demo) and waits until
/// its indicator registers with the host; returns it and the item's bus name and path.
fn start_tray(dir: &std::path::Path, config: Option<&std::path::Path>) -> (Tray, String, String) {
    let items = host();
    let mut command = Command::new(env!("CARGO_BIN_EXE_tokentray-tray"));
    match config {
        Some(config) => command.env("TOKENTRAY_CONFIG", config),
        None => command.arg("--demo").env("TOKENTRAY_CONFIG", dir.join("no-config.toml")),
    };
    let app = command.env("TOKENTRAY_DATA_DIR", dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let app = Tray(app);
    let pid = app.0.id();
    let conn = Connection::new_session().unwrap();
    let bus = conn.with_proxy("org.freedesktop.DBus", "/org/freedesktop/DBus", Duration::from_secs(5));
    let started = Instant::now();
    loop {
        // Several trays may register with this host: this one is the item whose sender is our child.
        let registered = items.lock().unwrap().clone();
        for (service, path) in registered {
            let owner: Result<(u32,), _> =
                bus.method_call("org.freedesktop.DBus", "GetConnectionUnixProcessID", (&service,));
            if owner.is_ok_and(|(p,)| p == pid) {
                // Some indicators register their bus name, others their object path.
                let path = if path.starts_with('/') { path } else { "/StatusNotifierItem".to_owned() };
                return (app, service, path);
            }
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the tray never registered with the watcher");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_tray_shows_the_most_urgent_countdown_and_a_menu_per_account() {
    let dir = tokentray_testkit::scratch("tray-dbus");
    let (_app, service, path) = start_tray(&dir, None);
    let conn = Connection::new_session().unwrap();
    let item = conn.with_proxy(service.as_str(), path.as_str(), Duration::from_secs(5));
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;

    // The title: the most urgent account (demo-kite, 6-minute token) and its countdown.
    let deadline = Instant::now() + Duration::from_secs(15);
    let title = loop {
        let t: String = item.get("org.kde.StatusNotifierItem", "XAyatanaLabel").unwrap_or_default();
        if !t.is_empty() || Instant::now() > deadline {
            break t;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(title.starts_with("Kite (demo) ") && title.ends_with('m'), "title: {title:?}");
    let icon: String = item.get("org.kde.StatusNotifierItem", "IconName").unwrap();
    assert_eq!(centre_pixel(&icon), [46, 160, 67, 255], "the icon is green: {icon}");
    let status: String = item.get("org.kde.StatusNotifierItem", "Status").unwrap();
    assert_eq!(status, "Active");
    let name: String = item.get("org.kde.StatusNotifierItem", "Title").unwrap();
    assert_eq!(name, "TokenTray", "the name the host shows for the item");

    let menu_path: dbus::Path = item.get("org.kde.StatusNotifierItem", "Menu").unwrap();
    let menu = conn.with_proxy(service.as_str(), menu_path, Duration::from_secs(5));
    let (_revision, layout): (u32, MenuNode) =
        menu.method_call("com.canonical.dbusmenu", "GetLayout", (0i32, -1i32, Vec::<String>::new())).unwrap();
    let mut labels = Vec::new();
    for child in &layout.2 {
        strings(&child.0, &mut labels);
    }
    let has = |needle: &str| labels.iter().any(|l| l.contains(needle));
    for expected in [
        "Kite (demo): ",
        "OAuth2 (demo): ",
        "Log in",
        "Refresh now",
        "Check now",
        "Copy token",
        "Open TokenTray",
        "Start at login",
        "Quit",
    ] {
        assert!(has(expected), "menu label {expected:?} in {labels:?}");
    }
    assert!(labels.iter().any(|l| l.starts_with("Kite (demo): ") && l.ends_with("(valid)")), "{labels:?}");

    eprintln!("tray as the host sees it: title {title:?}, icon {icon}, menu {labels:?}");

    // "Snooze notifications 1 h": held for an hour, kept in the state file, and resumed.
    let state_file = dir.join("demo").join("data").join("state.json");
    click_until(&menu, "Snooze notifications 1 h", "Resume notifications (snoozed until ");
    let state: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert!(state["snoozed_until"].is_string(), "every process knows: {state}");
    click_until(&menu, "Resume notifications", "Snooze notifications 1 h");

    // "Copy token": the token a script would get, on the clipboard, cleared again.
    let store = PlaintextStore::new(dir.join("demo").join("data").join("secrets.json"));
    let token = store.tokens(tokentray_runtime::demo::KITE_ID).unwrap().expect("the demo logged in").access_token;
    let mut clipboard = arboard::Clipboard::new().expect("the test's display has a clipboard");
    let deadline = Instant::now() + Duration::from_secs(30);
    'copied: loop {
        // The menu is rebuilt (new ids) when a countdown line changes: read it afresh for each click.
        let (_, layout): (u32, MenuNode) =
            menu.method_call("com.canonical.dbusmenu", "GetLayout", (0i32, -1i32, Vec::<String>::new())).unwrap();
        let copy = item_id(&layout, "Kite (demo): ", "Copy token").expect("Copy token in Kite's submenu");
        let clicked = (copy, "clicked", Variant(Box::new(0i32) as Box<dyn RefArg>), 0u32);
        let () = menu.method_call("com.canonical.dbusmenu", "Event", clicked).unwrap();
        let clicked_at = Instant::now();
        while clicked_at.elapsed() < Duration::from_secs(3) {
            if clipboard.get_text().ok().as_deref() == Some(token.expose()) {
                break 'copied;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(Instant::now() < deadline, "the token never reached the clipboard: {:?}", clipboard.get_text());
    }
    let copied = Instant::now();
    let deadline = copied + Duration::from_secs(90);
    while clipboard.get_text().ok().as_deref() == Some(token.expose()) {
        assert!(Instant::now() < deadline, "the copied token was never cleared");
        std::thread::sleep(Duration::from_millis(250));
    }
    let held = copied.elapsed();
    assert!(held >= Duration::from_secs(25), "cleared after {held:?}: too soon to paste");
    eprintln!("the copied token stayed on the clipboard for {held:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every pixel of a PNG, as RGBA.
fn pixels(path: &std::path::Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(path).expect("the icon file exists")));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().expect("a small icon")];
    reader.next_frame(&mut buf).unwrap();
    buf
}

#[test]
fn the_host_shows_the_symbolic_set_and_the_act_now_cross() {
    // One account with no token: act now. The config asks for light symbolic icons.
    let dir = tokentray_testkit::scratch("tray-dbus-symbolic");
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "storage = \"plaintext\"\n[tray]\nicons = \"light\"\n\n[[account]]\nid = \"kite\"\nprovider = \"kite\"\n\
         api_key = \"k\"\nredirect_uri = \"http://127.0.0.1:1/cb\"\n",
    )
    .unwrap();
    let (_app, service, path) = start_tray(&dir.join("data"), Some(&config));
    let conn = Connection::new_session().unwrap();
    let item = conn.with_proxy(service.as_str(), path.as_str(), Duration::from_secs(5));
    use dbus::blocking::stdintf::org_freedesktop_dbus::Properties;
    let expected = pixels(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("icons/tray-expired-light.png"));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let icon: String = item.get("org.kde.StatusNotifierItem", "IconName").unwrap_or_default();
        if !icon.is_empty() && pixels(std::path::Path::new(&icon)) == expected {
            break;
        }
        assert!(Instant::now() < deadline, "the host never saw the light act-now cross: {icon}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let title: String = item.get("org.kde.StatusNotifierItem", "XAyatanaLabel").unwrap();
    assert_eq!(title, "kite: log in");
    let _ = std::fs::remove_dir_all(&dir);
}
