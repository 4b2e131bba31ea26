#!/usr/bin/env bash
# The whole test suite, from a fresh Debian or Ubuntu machine: installs the
# system packages, starts the services the tests need, checks formatting and
# lints, and runs every test. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --with-tauri-driver
rustup component add rustfmt clippy >/dev/null 2>&1 || true
export PATH="$HOME/.cargo/bin:$PATH"

cargo fmt --all -- --check
node --test ui/logic.test.mjs
scripts/with-desktop-session.sh bash -c '
  set -euo pipefail
  cargo clippy --workspace --all-targets --locked -- -D warnings
  cargo test --workspace --locked
'
