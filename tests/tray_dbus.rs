//! What a desktop's tray host sees: the test owns the StatusNotifierWatcher
//! name on the session bus, lets the real app register its indicator, and
//! reads the title (XAyatanaLabel), the icon and the menu labels (dbusmenu)
//! over D-Bus. Run inside the desktop session that `scripts/test.sh` starts.

use dbus::arg::{RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::MatchingReceiver;
use dbus::message::MatchRule;
use dbus::Message;
use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// A dbusmenu layout node: id, properties, children.
type MenuNode = (i32, dbus::arg::PropMap, Vec<Variant<Box<dyn RefArg>>>);

/// Registrations received: (the item's bus name, the path it gave).
type Items = Arc<Mutex<Vec<(String, String)>>>;

/// Serves the watcher's method and properties on the session bus, in a thread.
/// Serves the watcher on its own thread; returns once it owns the name and
/// receives calls, so the tray started next finds it.
fn watcher() -> Items {
    let items: Items = Arc::new(Mutex::new(Vec::new()));
    let seen = items.clone();
    let (ready, serving) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let conn = Connection::new_session().expect("a D-Bus session bus");
        conn.request_name(WATCHER, false, true, false).expect("the watcher name is free");
        conn.start_receive(
            MatchRule::new_method_call(),
            Box::new(move |msg: Message, conn: &Connection| {
                let member = msg.member().map(|m| m.to_string()).unwrap_or_default();
                let reply = match member.as_str() {
                    "RegisterStatusNotifierItem" => {
                        let arg: String = msg.read1().unwrap_or_default();
                        let sender = msg.sender().map(|s| s.to_string()).unwrap_or_default();
                        seen.lock().unwrap().push((sender, arg));
                        msg.method_return()
                    }
                    "RegisterStatusNotifierHost" => msg.method_return(),
                    "Get" => {
                        let (_, property): (String, String) = msg.read2().unwrap_or_default();
                        match property.as_str() {
                            "IsStatusNotifierHostRegistered" => msg.method_return().append1(Variant(true)),
                            "ProtocolVersion" => msg.method_return().append1(Variant(0i32)),
                            _ => msg.method_return().append1(Variant(Vec::<String>::new())),
                        }
                    }
                    "GetAll" => {
                        let mut all: HashMap<String, Variant<Box<dyn RefArg>>> = HashMap::new();
                        all.insert("IsStatusNotifierHostRegistered".into(), Variant(Box::new(true)));
                        all.insert("ProtocolVersion".into(), Variant(Box::new(0i32)));
                        msg.method_return().append1(all)
                    }
                    _ => return true,
                };
                let _ = dbus::channel::Sender::send(conn, reply);
                true
            }),
        );
        ready.send(()).expect("the test waits for the watcher");
        loop {
            let _ = conn.process(Duration::from_millis(100));
        }
    });
    serving.recv_timeout(Duration::from_secs(10)).expect("the watcher started");
    items
}

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

#[test]
fn the_tray_shows_the_most_urgent_countdown_and_a_menu_per_account() {
    let items = watcher();
    let dir = tokentray_testkit::scratch("tray-dbus");
    let mut app = Command::new(env!("CARGO_BIN_EXE_tokentray-tray"))
        .arg("--demo")
        .env("TOKENTRAY_DATA_DIR", &dir)
        .env("TOKENTRAY_CONFIG", dir.join("no-config.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let started = Instant::now();
    let (service, path) = loop {
        if let Some(item) = items.lock().unwrap().first().cloned() {
            break item;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the tray never registered with the watcher");
        std::thread::sleep(Duration::from_millis(100));
    };
    // Some indicators register their bus name, others their object path.
    let path = if path.starts_with('/') { path } else { "/StatusNotifierItem".to_owned() };
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

    let menu_path: dbus::Path = item.get("org.kde.StatusNotifierItem", "Menu").unwrap();
    let menu = conn.with_proxy(service.as_str(), menu_path, Duration::from_secs(5));
    let (_revision, layout): (u32, MenuNode) =
        menu.method_call("com.canonical.dbusmenu", "GetLayout", (0i32, -1i32, Vec::<String>::new())).unwrap();
    let mut labels = Vec::new();
    for child in &layout.2 {
        strings(&child.0, &mut labels);
    }
    let has = |needle: &str| labels.iter().any(|l| l.contains(needle));
    for expected in
        ["Kite (demo): ", "OAuth2 (demo): ", "Log in", "Refresh now", "Open TokenTray", "Start at login", "Quit"]
    {
        assert!(has(expected), "menu label {expected:?} in {labels:?}");
    }
    assert!(labels.iter().any(|l| l.starts_with("Kite (demo): ") && l.ends_with("(valid)")), "{labels:?}");

    eprintln!("tray as the host sees it: title {title:?}, icon {icon}, menu {labels:?}");
    let _ = app.kill();
    let _ = app.wait();
    let _ = std::fs::remove_dir_all(&dir);
}
