#!/usr/bin/env bash
# Builds the .deb with Tauri's bundler: the tray (tokentray-tray) with its
# desktop entry and icons, the CLI and daemon (tokentray), and the systemd
# user unit. Prints the package's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cargo build --release --locked -p tokentray-cli
# The unit as packaged: the daemon is installed in /usr/bin.
mkdir -p target/package
sed 's|^ExecStart=%h/.cargo/bin/tokentray |ExecStart=/usr/bin/tokentray |' packaging/tokentray.service \
  >target/package/tokentray.service
grep -q '^ExecStart=/usr/bin/tokentray daemon$' target/package/tokentray.service
# Tauri's command line, pinned, from npm (a prebuilt binary: nothing to compile).
npx --yes @tauri-apps/cli@2.12.5 build --bundles deb --ci >&2
# The package this run made (older versions may lie beside it).
find target/release/bundle/deb -name '*.deb' -newer target/package/tokentray.service
