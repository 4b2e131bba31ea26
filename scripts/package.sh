#!/usr/bin/env bash
# Builds the .deb and the .rpm with Tauri's bundler (both made offline, the
# .rpm without rpmbuild): the tray (tokentray-tray) with its desktop entry
# and icons, the CLI and daemon (tokentray), the systemd user unit and the
# autostart entry. Prints the .deb's path, then the .rpm's, on its last lines.
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
npx --yes @tauri-apps/cli@2.12.5 build --bundles deb,rpm --ci >&2
# The packages this run made (older versions may lie beside them).
find target/release/bundle/deb -name '*.deb' -newer target/package/tokentray.service
find target/release/bundle/rpm -name '*.rpm' -newer target/package/tokentray.service
