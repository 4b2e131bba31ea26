#!/usr/bin/env bash
# Measures the release tray app on the demo config, in a private desktop
# session with a tray host (examples/tray_host.rs): time from launch to the
# tray being up, memory of the app with the window never opened, then open
# (the window is a process of its own, with its WebKit children), then
# closed again, the window's open time, and CPU over 60 idle seconds.
# Figures go to stdout.
#
# Memory is RSS summed over the process tree (shared pages counted in each
# process) and PSS (shared pages split between them), from /proc. The
# measuring itself is measure-tray-session.sh, run inside the session.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p tokentray-app --bin tokentray-tray --example tray_host

scripts/with-desktop-session.sh scripts/measure-tray-session.sh
