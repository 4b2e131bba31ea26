#!/usr/bin/env bash
# The tray app's launch time, memory and idle CPU, measured inside a desktop
# session that scripts/measure-tray.sh starts (it builds the release binary).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENTRAY_DATA_DIR=$(mktemp -d)
export TOKENTRAY_DATA_DIR TOKENTRAY_CONFIG=/nonexistent/config.toml
log=$TOKENTRAY_DATA_DIR/app.log
bin=target/release/tokentray-tray

# A tray host, as every desktop has: without one the indicator never
# registers its D-Bus objects and the figures are lower than any desktop's.
host_log=$TOKENTRAY_DATA_DIR/host.log
target/release/examples/tray_host >"$host_log" 2>&1 &
host=$!
trap 'kill "$host" 2>/dev/null || true' EXIT
for _ in $(seq 200); do grep -q "tray host ready" "$host_log" && break; sleep 0.05; done

tree() { # the pid and its descendants
  local p=$1; echo "$p"
  local c
  # Each children file is one line of space-separated pids: words, not lines.
  # shellcheck disable=SC2013
  for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do tree "$c"; done
}
memory() { # "RSS MB / PSS MB over N processes"
  local rss=0 pss=0 n=0
  for p in $(tree "$1"); do
    r=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null || echo 0)
    s=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null || echo 0)
    rss=$((rss + ${r:-0})); pss=$((pss + ${s:-0})); n=$((n + 1))
  done
  awk -v r="$rss" -v s="$pss" -v n="$n" 'BEGIN { printf "RSS %.1f MB, PSS %.1f MB, %d process(es)", r/1024, s/1024, n }'
}
ticks() { # CPU ticks of the tree
  local t=0
  for p in $(tree "$1"); do
    t=$((t + $(awk '{print $14 + $15}' /proc/"$p"/stat 2>/dev/null || echo 0)))
  done
  echo $t
}

launch() { # starts the app, prints the launch time, leaves its pid in $app
  launched=$(date +%s.%N)
  : >"$log"
  $bin --demo >"$log" 2>&1 &
  app=$!
  for _ in $(seq 300); do grep -q "tray up" "$log" && break; sleep 0.02; done
  # The log line carries its own timestamp: launch to tray up without the poll.
  line=$(grep "tray up" "$log" | head -1 | sed -E "s/\x1b\[[0-9;]*m//g" | cut -d" " -f1)
  up=$(date -d "$line" +%s.%N)
  echo "$1: launch to tray up $(awk -v a="$launched" -v b="$up" 'BEGIN { printf "%.0f ms", (b-a)*1000 }')"
}

# The first GTK program on an X display probes its GL visuals (loading Mesa,
# and LLVM under software rendering) and caches them on the root window; the
# next ones read the cache. Both cases are measured.
launch "first GTK client on the display"
sleep 10
echo "  window never opened: $(memory $app)"
kill "$app"; wait "$app" 2>/dev/null || true
launch "a later launch"
sleep 10
echo "  window never opened: $(memory $app)"
t0=$(ticks "$app"); sleep 60; t1=$(ticks "$app")
echo "CPU over 60 idle s, window never opened: $(awk -v t=$((t1 - t0)) 'BEGIN { printf "%.3f %%", t / 100 / 60 * 100 }')"

# The window is a process of its own, which the tray starts ("Open
# TokenTray", or a second launch): the tray's own memory is measured before
# any window, with the window open, and after it was closed, five times over.
pss_of() { awk '/^Pss:/ {print $2}' /proc/"$1"/smaps_rollup; }
tray_before=$(pss_of "$app")
echo "tray process alone, before any window: PSS $(awk -v s="$tray_before" 'BEGIN { printf "%.1f MB", s/1024 }')"
opens=()
for round in 1 2 3 4 5; do
  started=$(date +%s%N)
  $bin --demo --show >>"$log" 2>&1   # a second launch: the tray opens the window
  until xdotool search --onlyvisible --name "^TokenTray$" >/dev/null 2>&1; do sleep 0.01; done
  opened=$(date +%s%N)
  opens+=($(( (opened - started) / 1000000 )))
  sleep 5
  [ "$round" = 1 ] && echo "window open: $(memory "$app") (tray and window processes)"
  win=$(xdotool search --onlyvisible --name "^TokenTray$" | head -1)
  xdotool windowfocus --sync "$win" key ctrl+w
  while pgrep -f -- "$bin --window" >/dev/null; do sleep 0.05; done
  sleep 2
done
echo "window open time, launch to window mapped, 5 rounds (ms): ${opens[*]}"
echo "  median $(printf '%s\n' "${opens[@]}" | sort -n | sed -n 3p) ms"
tray_after=$(pss_of "$app")
echo "window opened and closed 5 times: $(memory "$app")"
echo "tray process alone after: PSS $(awk -v s="$tray_after" 'BEGIN { printf "%.1f MB", s/1024 }'), \
$(awk -v a="$tray_after" -v b="$tray_before" 'BEGIN { printf "%.3fx", a/b }') of before"
kill "$app"; wait "$app" 2>/dev/null || true
