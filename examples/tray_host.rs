//! A stand-in for a desktop's tray host, for `scripts/measure-tray.sh`: it
//! takes the tray's registration, as a panel would, until it is killed.

#[cfg(target_os = "linux")]
#[path = "../tests/app/support/watcher.rs"]
mod support;

/// A tray host is a D-Bus service: Linux only.
#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tray_host stands in for a Linux desktop's tray host (D-Bus); there is none to stand in for here");
    std::process::exit(2);
}

#[cfg(target_os = "linux")]
fn main() {
    let _items = support::watcher();
    println!("tray host ready");
    loop {
        std::thread::park();
    }
}
