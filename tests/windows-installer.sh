#!/usr/bin/env bash
# The Windows installer, installed and removed under Wine in a fresh prefix
# of its own: lists what it installed, checks the Start-menu entry, the
# autostart value, the PATH and that the installed CLI runs, then
# uninstalls and checks that the program is gone and the user's config and
# data are not. `scripts/test-windows.sh` runs it.
#
#   tests/windows-installer.sh [INSTALLER]   (default: scripts/package-windows.sh builds one)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

installer="${1:-}"
if [ -z "$installer" ]; then
  installer=$(scripts/package-windows.sh | tail -1)
fi
echo "installer: $installer ($(du -h "$installer" | cut -f1))"

export TOKENTRAY_WINEPREFIX="$PWD/target/wine-prefix-installer"
rm -rf "$TOKENTRAY_WINEPREFIX"
# The prefix (over a gigabyte) is this test's alone: gone when it ends,
# however it ends.
trap 'wineserver -k >/dev/null 2>&1 || true; rm -rf "$TOKENTRAY_WINEPREFIX"' EXIT
# Sourced from the repository root; shellcheck checks env.sh on its own.
# shellcheck disable=SC1091
. scripts/wine/env.sh

fail() {
  echo "installer test: $*" >&2
  exit 1
}
profile="$WINEPREFIX/drive_c/users/$(id -un)"
app="$profile/AppData/Local/Programs/TokenTray"
shortcut="$profile/AppData/Roaming/Microsoft/Windows/Start Menu/Programs/TokenTray.lnk"
run_key='HKCU\Software\Microsoft\Windows\CurrentVersion\Run'

# The user's own files, which an uninstall must leave where they are.
mkdir -p "$profile/AppData/Roaming/tokentray" "$profile/AppData/Local/tokentray"
echo '# my accounts' >"$profile/AppData/Roaming/tokentray/config.toml"
echo '{}' >"$profile/AppData/Local/tokentray/state.json"

# A PATH of the user's own, with an entry the install folder's name is a
# prefix of: the install adds one entry, the uninstall takes that one only.
user_path="C:\\Tools;C:\\users\\$(id -un)\\AppData\\Local\\Programs\\TokenTray-dev\\bin"
wine reg add 'HKCU\Environment' /v Path /t REG_EXPAND_SZ /d "$user_path" /f >/dev/null
path_now() { wine reg query 'HKCU\Environment' /v Path 2>/dev/null | tr -d '\r' | sed -n 's/.*REG_EXPAND_SZ *//p'; }

wine "$installer" /S
wineserver --wait
echo "installed in %LOCALAPPDATA%\\Programs\\TokenTray:"
(cd "$app" && find . -type f -printf '%P\n' | sort | while read -r f; do
  printf '  %-22s %s\n' "$f" "$(du -h "$f" | cut -f1)"
done)
for f in tokentray-tray.exe tokentray.exe WebView2Loader.dll icon.ico icon.png README.txt uninstall.exe; do
  [ -f "$app/$f" ] || fail "$f is not installed"
done
[ -f "$shortcut" ] || fail "no Start-menu entry"
wine reg query "$run_key" /v TokenTray 2>/dev/null | grep -q -- '--background' || fail "no autostart value"
[ "$(path_now)" = "$user_path;C:\\users\\$(id -un)\\AppData\\Local\\Programs\\TokenTray" ] \
  || fail "the PATH is not the user's plus the CLI's folder: $(path_now)"
wine "$app/tokentray.exe" --help | grep -q "stop" || fail "the installed CLI does not run"
echo "Start menu, autostart, PATH: in place; the installed tokentray.exe runs"

wine "$app/uninstall.exe" /S
wineserver --wait
if [ -e "$app/tokentray.exe" ] || [ -e "$app/tokentray-tray.exe" ]; then fail "the program is still there"; fi
[ ! -e "$shortcut" ] || fail "the Start-menu entry is still there"
if wine reg query "$run_key" /v TokenTray >/dev/null 2>&1; then fail "the autostart value is still there"; fi
[ "$(path_now)" = "$user_path" ] || fail "the uninstall did not give the user's PATH back as it was: $(path_now)"
[ -f "$profile/AppData/Roaming/tokentray/config.toml" ] || fail "the uninstall removed the user's config"
[ -f "$profile/AppData/Local/tokentray/state.json" ] || fail "the uninstall removed the user's data"
echo "uninstalled: program, Start-menu entry and autostart gone, the PATH as it was; config and data kept"
echo "installer test: passed"
