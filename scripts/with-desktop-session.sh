#!/usr/bin/env bash
# Runs a command inside a private desktop session: a D-Bus session bus, an
# unlocked GNOME Keyring (Secret Service), an X server (Xvfb) and a
# notification daemon (dunst). Everything started here stops when it returns.
#
#   scripts/with-desktop-session.sh cargo test --workspace
set -euo pipefail

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

log="${TOKENTRAY_SESSION_LOG:-$(mktemp -t tokentray-session.XXXXXX.log)}"

display=":$(( 90 + RANDOM % 100 ))"
Xvfb "$display" -screen 0 1280x800x24 -nolisten tcp >>"$log" 2>&1 &
pids+=($!)
export DISPLAY="$display"
for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X${display#:}" ] && break; sleep 0.1; done

# The session bus; services it starts on demand (portals, the keyring) get
# this display and write their chatter to the log, not to the test output.
eval "$(dbus-launch --sh-syntax 2>>"$log")"
pids+=("$DBUS_SESSION_BUS_PID")
dbus-update-activation-environment DISPLAY >>"$log" 2>&1 || true

# A keyring of our own, so tests never touch the user's.
export XDG_DATA_HOME="${TOKENTRAY_SESSION_HOME:-$(mktemp -d)}"
mkdir -p "$XDG_DATA_HOME/keyrings"
eval "$(printf 'tokentray-session' | gnome-keyring-daemon --unlock --components=secrets 2>>"$log")"
export GNOME_KEYRING_CONTROL

dunst >>"$log" 2>&1 &
pids+=($!)

# Ready means the Secret Service and the notification daemon own their names
# on the bus; a test started earlier would find neither.
has_owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q "boolean true"
}
for name in org.freedesktop.secrets org.freedesktop.Notifications; do
  for _ in $(seq 100); do has_owner "$name" && break; sleep 0.1; done
  has_owner "$name" || { echo "with-desktop-session: $name did not start (log: $log)" >&2; exit 1; }
done

"$@"
