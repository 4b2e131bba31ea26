//! A stand-in for a desktop's tray host, for `scripts/measure-tray.sh`: it
//! takes the tray's registration, as a panel would, until it is killed.

#[path = "../tests/app/support/watcher.rs"]
mod support;

fn main() {
    let _items = support::watcher();
    println!("tray host ready");
    loop {
        std::thread::park();
    }
}
