#!/usr/bin/env bash
# Runs a command inside a private desktop session: a D-Bus session bus, an
# unlocked GNOME Keyring (Secret Service), an X server (Xvfb) and a
# notification daemon (dunst). Everything started here stops when it returns.
#
#   scripts/with-desktop-session.sh cargo test --workspace
set -euo pipefail

if [ -z "${TOKENTRAY_IN_SESSION:-}" ]; then
  export TOKENTRAY_IN_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# A keyring of our own, so tests never touch the user's.
export XDG_DATA_HOME="${TOKENTRAY_SESSION_HOME:-$(mktemp -d)}"
mkdir -p "$XDG_DATA_HOME/keyrings"
eval "$(printf 'tokentray-session' | gnome-keyring-daemon --unlock --components=secrets 2>/dev/null)"
export GNOME_KEYRING_CONTROL

display=":$(( 90 + RANDOM % 100 ))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >/dev/null 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

dunst >/dev/null 2>&1 &
pids+=($!)

# Wait until the Secret Service answers on the bus.
for _ in $(seq 50); do
  secret-tool lookup tokentray-probe probe >/dev/null 2>&1 && break
  [ $? -eq 1 ] && break
  sleep 0.1
done

"$@"
