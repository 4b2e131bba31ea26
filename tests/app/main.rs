//! The tray app as a desktop session sees it: the tray over D-Bus, its icons,
//! notifications, one instance, the window through WebDriver, and the
//! package. Run inside the desktop session `scripts/test.sh` starts. One
//! binary, one module per subject.

mod notifications;
mod one_truth;
mod package;
mod single_instance;
mod tray_dbus;
mod tray_icons;
mod webdriver;
