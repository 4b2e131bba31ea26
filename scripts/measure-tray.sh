#!/usr/bin/env bash
# Measures the release tray app on the demo config, in a private desktop
# session: time from launch to the tray being up, memory of the app and all
# its WebKit processes with the window never opened, then open, then closed
# again, and CPU over 60 idle seconds. Figures go to stdout.
#
# Memory is RSS summed over the process tree (shared pages counted in each
# process) and PSS (shared pages split between them), from /proc. The
# measuring itself is measure-tray-session.sh, run inside the session.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p tokentray-app

scripts/with-desktop-session.sh scripts/measure-tray-session.sh
