#!/usr/bin/env bash
# Builds the .deb and the .rpm with Tauri's bundler (both made offline, the
# .rpm without rpmbuild): the tray (tokentray-tray) with its desktop entry
# and icons, the CLI and daemon (tokentray), the systemd user unit and the
# autostart entry. Prints the .deb's path, then the .rpm's, on its last lines.
#
#   scripts/package.sh           the release packages, as users get them
#   scripts/package.sh --debug   the same packages from the debug build the
#                                tests use (the package test: no second,
#                                optimized build of the whole tree)
set -euo pipefail
cd "$(dirname "$0")/.."
# Rust from rustup.
export PATH="$HOME/.cargo/bin:$PATH"

profile=release
case "${1:-}" in
  "") ;;
  --debug) profile=debug ;;
  *) echo "package.sh: unknown option $1 (use --debug)" >&2; exit 2 ;;
esac

scripts/install-deps.sh
if [ "$profile" = release ]; then
  cargo build --release --locked -p tokentray-cli
  debug=()
else
  cargo build --locked -p tokentray-cli
  debug=(--debug)
fi
# The unit as packaged: the daemon is installed in /usr/bin.
mkdir -p target/package
sed 's|^ExecStart=%h/.cargo/bin/tokentray |ExecStart=/usr/bin/tokentray |' packaging/tokentray.service \
  >target/package/tokentray.service
grep -q '^ExecStart=/usr/bin/tokentray daemon$' target/package/tokentray.service
# The CLI from this profile's directory (tauri.conf.json names the release one).
cli="{\"/usr/bin/tokentray\": \"target/$profile/tokentray\", \"/usr/lib/systemd/user/tokentray.service\": \"target/package/tokentray.service\", \"/etc/xdg/autostart/TokenTray.desktop\": \"packaging/autostart.desktop\"}"
overrides="{\"bundle\": {\"linux\": {\"deb\": {\"files\": $cli}, \"rpm\": {\"files\": $cli}}}}"
# Tauri's command line, pinned, from npm (a prebuilt binary: nothing to compile).
npx --yes @tauri-apps/cli@2.12.5 build "${debug[@]}" --bundles deb,rpm --ci --config "$overrides" >&2
# The packages this run made (older versions may lie beside them).
find "target/$profile/bundle/deb" -name '*.deb' -newer target/package/tokentray.service
find "target/$profile/bundle/rpm" -name '*.rpm' -newer target/package/tokentray.service
