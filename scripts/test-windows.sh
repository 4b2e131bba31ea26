#!/usr/bin/env bash
# TokenTray for Windows, built and tested on this Debian machine: installs
# the mingw-w64 toolchain, Wine and NSIS, builds the workspace for
# x86_64-pc-windows-gnu (clippy with -D warnings), runs the core, adapters,
# runtime and CLI tests and the tray app's unit tests under Wine in a
# prefix of its own, then the end-to-end run of tokentray.exe under Wine,
# driven from Linux (crates/tokentray-cli/tests/cli/windows_e2e.rs), and
# the installer installed and removed (tests/windows-installer.sh).
# Prints the Windows tally on its own line. `scripts/test.sh` (so `.ci/run`) calls it.
#
#   scripts/test-windows.sh [--no-e2e]   (--no-e2e: the tests under Wine only)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

e2e=true
for arg in "$@"; do
  case "$arg" in
    --no-e2e) e2e=false ;;
    *) echo "test-windows.sh: unknown option $arg (use --no-e2e)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh --with-windows
target=x86_64-pc-windows-gnu

# Sourced from the repository root (the script cds there); shellcheck
# checks env.sh on its own.
# shellcheck disable=SC1091
. scripts/wine/env.sh

# Windows' build: the whole workspace, the tray app included, lint-clean.
cargo clippy --locked --target "$target" --workspace --all-targets -- -D warnings

# The tray app's unit tests (its commands under the real capabilities, the
# Run value) load WebView2Loader.dll, which the gnu target cannot link in:
# it goes beside the test binary, as the installer puts it beside the tray.
cargo test --locked --target "$target" -p tokentray-app --lib --no-run
loader=$(find "target/$target/debug/build" -path '*webview2-com-sys-*/out/x64/WebView2Loader.dll' -printf '%T@ %p\n' \
  | sort -rn | head -1 | cut -d' ' -f2-)
cp "$loader" "target/$target/debug/deps/"

log=$(mktemp -t tokentray-windows-tests.XXXXXX.log)
status=0
cargo test --locked --target "$target" --no-fail-fast \
  -p tokentray-core -p tokentray-adapters -p tokentray-runtime -p tokentray-cli 2>&1 | tee "$log" || status=$?
cargo test --locked --target "$target" --no-fail-fast -p tokentray-app --lib 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { p += $4; f += $6; i += $8 }
     END { printf "Windows (under Wine): %d passed, %d failed, %d ignored\n", p, f, i }' "$log"
if [ "$status" -ne 0 ]; then
  exit "$status"
fi
if $e2e; then
  # tokentray.exe and a Windows reader that holds a file as Python does.
  cargo build --locked --target "$target" -p tokentray-cli
  mkdir -p target/wine-helpers
  x86_64-w64-mingw32-gcc -municode -O2 -o target/wine-helpers/hold_file.exe scripts/wine/hold_file.c
  TOKENTRAY_WINDOWS_EXE="$PWD/target/$target/debug/tokentray.exe" \
  TOKENTRAY_WINDOWS_HOLD_EXE="$PWD/target/wine-helpers/hold_file.exe" \
    cargo test --locked -p tokentray-cli --test cli windows_e2e -- --ignored --nocapture
  # The installer, built from the same debug build, installed and removed.
  tests/windows-installer.sh
fi
