#!/usr/bin/env bash
# Runs TokenTray on a fresh Debian or Ubuntu machine with no config of your
# own: installs what it needs, builds, and starts the demo on the built-in
# sandbox broker.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p tokentray-cli
exec target/release/tokentray demo
