#!/usr/bin/env bash
# The tray app's launch time, memory and idle CPU, measured inside a desktop
# session that scripts/measure-tray.sh starts (it builds the release binary).
set -euo pipefail
cd "$(dirname "$0")/.."
TOKENTRAY_DATA_DIR=$(mktemp -d)
export TOKENTRAY_DATA_DIR TOKENTRAY_CONFIG=/nonexistent/config.toml
log=$TOKENTRAY_DATA_DIR/app.log
bin=target/release/tokentray-tray

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

$bin --demo --show >>"$log" 2>&1   # a second launch brings the window forward
sleep 8
echo "window open: $(memory $app)"
win=$(xdotool search --name "^TokenTray$" | head -1)
xdotool windowfocus --sync "$win" key ctrl+w
sleep 8
echo "window opened then closed: $(memory $app)"
kill "$app"; wait "$app" 2>/dev/null || true

