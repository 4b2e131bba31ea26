#!/usr/bin/env bash
# Every benchmark, in release, inside a private desktop session (the keyring
# latency needs a Secret Service). Prints the figures quoted in the issues.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh --with-bench-tools
benches=(
  "tokentray-core tick"
  "tokentray-runtime login_latency"
  "tokentray-runtime handoff"
  "tokentray-runtime slow_connections"
  "tokentray-runtime alert_latency"
  "tokentray-cli daemon_idle"
  "tokentray-cli revocation"
  "tokentray-cli kill_window"
  "tokentray-cli vault_cluster"
  "tokentray-cli remote_login"
)
for bench in "${benches[@]}"; do
  read -r package name <<<"$bench"
  scripts/with-desktop-session.sh cargo bench --locked -p "$package" --bench "$name"
done
# Every parser of outside input, 100,000 cases each: the tallies are the lines starting `fuzz`.
for crate in adapters runtime; do
  TOKENTRAY_FUZZ_CASES=100000 cargo test --release --locked -p "tokentray-$crate" --test "$crate" \
    -- parsers:: --nocapture --test-threads 1 2>&1 | grep -oE 'fuzz .*|^test result.*'
done
scripts/measure-tray.sh
