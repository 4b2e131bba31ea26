#!/bin/sh
# A "system browser" for tests whose login page a person would use by hand:
# it only notes the URL it was asked to open (in the file named first).
printf '%s\n' "$2" >> "$1"
