//! The tray app as a desktop session sees it: the tray over D-Bus, its icons,
//! notifications, one instance, the window through WebDriver, and the
//! package. Run inside the desktop session `scripts/test.sh` starts. One
//! binary, one module per subject.

// Tests and benches stand beside the product: they read the wall clock
// to start a test's clock where the sandbox broker's is.
#![allow(clippy::disallowed_methods)]
// Built for Linux only: every test here needs a Linux desktop session (the
// tray over D-Bus, a notification daemon, WebKitWebDriver, Xvfb, the .deb).
#![cfg(target_os = "linux")]

mod notifications;
mod one_truth;
mod package;
mod single_instance;
mod tray_dbus;
mod tray_icons;
mod webdriver;
