# shellcheck shell=bash
# Sourced: a Wine prefix of TokenTray's own (its first start takes a few
# seconds), quiet, with the one DLL Debian 12's Wine lacks (see
# bcryptprimitives.c), and cargo running Windows binaries through Wine.
export WINEPREFIX="${TOKENTRAY_WINEPREFIX:-$PWD/target/wine-prefix}"
export WINEDEBUG=-all
export WINEDLLOVERRIDES="mscoree,mshtml=" # no Mono or Gecko download prompts
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=wine
# No display here: Wine's console programs need none.
unset DISPLAY WAYLAND_DISPLAY
if [ ! -f "$WINEPREFIX/system.reg" ]; then
  mkdir -p "$WINEPREFIX"
  wineboot --init >/dev/null 2>&1 || true
  wineserver --wait
fi
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ] || [ scripts/wine/bcryptprimitives.c -nt "$shim" ]; then
  x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" \
    scripts/wine/bcryptprimitives.c scripts/wine/bcryptprimitives.def -ladvapi32
fi
