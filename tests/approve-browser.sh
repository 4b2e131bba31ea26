#!/bin/sh
# A "system browser" for tests: opens the authorize URL like a person would,
# and clicks the sandbox's Approve link (which leads to TokenTray's callback).
page=$(curl -s -L "$1")
link=$(printf '%s' "$page" | sed -n 's/.*id="approve" href="\([^"]*\)".*/\1/p' | sed 's/&amp;/\&/g')
[ -n "$link" ] || { echo "no Approve link on $1" >&2; exit 1; }
curl -s -o /dev/null -L "$link"
