//! A tray host for tests and measurements: owns the StatusNotifierWatcher
//! name on the session bus and takes every indicator's registration, as a
//! desktop's panel does (without one, an indicator never registers its D-Bus
//! objects, and memory figures are lower than on any desktop).

use dbus::arg::{RefArg, Variant};
use dbus::blocking::Connection;
use dbus::channel::MatchingReceiver;
use dbus::message::MatchRule;
use dbus::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const WATCHER: &str = "org.kde.StatusNotifierWatcher";

/// Registrations received: (the item's bus name, the path it gave).
pub type Items = Arc<Mutex<Vec<(String, String)>>>;

/// Serves the watcher's method and properties on the session bus, in a thread.
/// Serves the watcher on its own thread; returns once it owns the name and
/// receives calls, so the tray started next finds it.
pub fn watcher() -> Items {
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
