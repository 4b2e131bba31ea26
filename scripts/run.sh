#!/usr/bin/env bash
# Runs TokenTray on a fresh Debian or Ubuntu machine with no config of your
# own: installs what it needs, builds, and starts the tray app on the
# built-in demo broker (the terminal demo when there is no desktop).
set -euo pipefail
cd "$(dirname "$0")/.."
# Rust from rustup.
export PATH="$HOME/.cargo/bin:$PATH"
scripts/install-deps.sh
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  cargo build --release --locked -p tokentray-cli -p tokentray-app
  exec target/release/tokentray --demo
fi
echo "no desktop here (DISPLAY is not set): running the demo in the terminal" >&2
cargo build --release --locked -p tokentray-cli
exec target/release/tokentray demo
