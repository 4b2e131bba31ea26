#!/usr/bin/env bash
# Builds TokenTray's Windows installer on this Debian machine: cross-builds
# tokentray.exe (the CLI and daemon) and tokentray-tray.exe for
# x86_64-pc-windows-gnu, stages them with WebView2Loader.dll (the gnu
# target cannot link the loader statically; webview2-com-sys carries it and
# its build copies it out), the icon and a README, and runs Debian's
# makensis on packaging/windows/installer.nsi. Prints the installer's path
# on its last line.
#
#   scripts/package-windows.sh [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

profile=debug
build_flags=()
for arg in "$@"; do
  case "$arg" in
    --release) profile=release; build_flags=(--release) ;;
    *) echo "package-windows.sh: unknown option $arg (use --release)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh --with-windows >&2
target=x86_64-pc-windows-gnu
cargo build --locked --target "$target" "${build_flags[@]}" -p tokentray-app -p tokentray-cli >&2
out="target/$target/$profile"
# The newest build's copy (old build directories may linger).
loader=$(find "$out/build" -path '*webview2-com-sys-*/out/x64/WebView2Loader.dll' -printf '%T@ %p\n' \
  | sort -rn | head -1 | cut -d' ' -f2-)
if [ -z "$loader" ]; then
  echo "package-windows.sh: WebView2Loader.dll not found under $out/build (webview2-com-sys's build copies it)" >&2
  exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

stage="target/windows-installer/stage-$profile"
rm -rf "$stage"
mkdir -p "$stage"
cp "$out/tokentray-tray.exe" "$out/tokentray.exe" "$loader" icons/icon.png icons/icon.ico "$stage/"
# Windows' line ends, for Notepad.
sed 's/$/\r/' >"$stage/README.txt" <<TEXT
TokenTray $version keeps broker and OAuth API tokens alive.

tokentray-tray.exe  the tray (started at login if you kept that choice)
tokentray.exe       the command line: tokentray --help; tokentray demo
Your config:        %APPDATA%\\tokentray\\config.toml
Your data:          %LOCALAPPDATA%\\tokentray (state, journal, logs)
Your secrets:       Windows Credential Manager, under "tokentray"
Uninstalling keeps all three; delete them by hand to forget everything.
TEXT

installer="$PWD/target/windows-installer/TokenTray-$version-$profile-setup.exe"
makensis -V2 -INPUTCHARSET UTF8 \
  "-DVERSION=$version" "-DSTAGE=$PWD/$stage" "-DOUTFILE=$installer" \
  packaging/windows/installer.nsi >&2
echo "$installer"
