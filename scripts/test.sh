#!/usr/bin/env bash
# The whole test suite, from a fresh Debian or Ubuntu machine: installs the
# system packages, starts the services the tests need, checks formatting and
# lints, and runs every test. `.ci/run` calls this.
#
# The tests run under cargo-nextest (each in a process of its own, every
# crate's side by side; `.config/nextest.toml`), or, where it is not
# installed, under `cargo test` (the desktop tests one at a time).
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust from rustup, and what pip installs for this user (OpenBao's `bao`).
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
scripts/install-deps.sh --with-tauri-driver
rustup component add rustfmt clippy >/dev/null 2>&1 || true

log=$(mktemp -t tokentray-tests.XXXXXX.log)
cargo fmt --all -- --check
shellcheck scripts/*.sh scripts/wine/*.sh .ci/run tests/*.sh
node --test ui/logic.test.mjs 2>&1 | tee "$log"
# The core builds without a clock (its chrono has no `clock` feature): what
# keeps it pure is the compiler, not a review.
cargo check --locked --quiet -p tokentray-core
# The inner script reads the log's path as $1: single quotes on purpose.
# shellcheck disable=SC2016
scripts/with-desktop-session.sh bash -c '
  set -euo pipefail
  cargo clippy --workspace --all-targets --locked -- -D warnings
  if cargo nextest --version >/dev/null 2>&1; then
    cargo nextest run --workspace --locked 2>&1 | tee -a "$1"
    exit "${PIPESTATUS[0]}"
  fi
  echo "cargo-nextest is not installed: running the tests with cargo test" >&2
  cargo test --workspace --exclude tokentray-app --locked 2>&1 | tee -a "$1"
  # The tray app'"'"'s tests share one desktop session: one at a time.
  cargo test -p tokentray-app --locked -- --test-threads=1 2>&1 | tee -a "$1"
  exit "${PIPESTATUS[0]}"
' _ "$log"
# Windows: cross-built, its tests under Wine, tokentray.exe end to end.
scripts/test-windows.sh 2>&1 | tee -a "$log"
# One closing line over every runner: nextest's summary (or cargo test's
# results, the Windows ones included) and node's.
awk '/^test result:/ { p += $4; f += $6 }
     /Summary \[.*tests run:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' "$log"
