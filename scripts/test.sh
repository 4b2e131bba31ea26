#!/usr/bin/env bash
# The whole test suite, from a fresh Debian or Ubuntu machine: installs the
# system packages, starts the services the tests need, checks formatting and
# lints, and runs every test. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --with-tauri-driver
rustup component add rustfmt clippy >/dev/null 2>&1 || true
export PATH="$HOME/.cargo/bin:$PATH"

log=$(mktemp -t tokentray-tests.XXXXXX.log)
cargo fmt --all -- --check
shellcheck scripts/*.sh .ci/run
node --test ui/logic.test.mjs 2>&1 | tee "$log"
# The inner script reads the log's path as $1: single quotes on purpose.
# shellcheck disable=SC2016
scripts/with-desktop-session.sh bash -c '
  set -euo pipefail
  cargo clippy --workspace --all-targets --locked -- -D warnings
  cargo test --workspace --locked 2>&1 | tee -a "$1"
  exit "${PIPESTATUS[0]}"
' _ "$log"
# One closing line over every runner: cargo test binaries and node.
awk '/^test result:/ { p += $4; f += $6 } /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
