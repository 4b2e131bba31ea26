#!/usr/bin/env bash
# Every benchmark, in release, inside a private desktop session (the keyring
# latency needs a Secret Service). Prints the figures quoted in the issues.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
command -v wrk >/dev/null || apt-get install -y -qq wrk >/dev/null
scripts/with-desktop-session.sh bash -c '
  set -euo pipefail
  cargo bench --locked -p tokentray-core --bench tick
  cargo bench --locked -p tokentray-runtime --bench login_latency
  cargo bench --locked -p tokentray-runtime --bench handoff
  cargo bench --locked -p tokentray-cli --bench daemon_idle
  cargo bench --locked -p tokentray-cli --bench revocation
  cargo bench --locked -p tokentray-cli --bench kill_window
'
scripts/measure-tray.sh
