#!/usr/bin/env python3
"""A script that reads its token from a .env file that TokenTray keeps
current (a sink with format = "env"), and picks up a new token without a
restart by reloading the file when it changes.

    python3 examples/dotenv_consumer.py ~/bots/.env KITE_ACCESS_TOKEN

Needs python-dotenv (pip install python-dotenv).
"""
import argparse
import os
import sys
import time

from dotenv import dotenv_values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("env_file")
    parser.add_argument("name", help="the variable holding the token, e.g. KITE_ACCESS_TOKEN")
    parser.add_argument("--once", action="store_true", help="print the token and exit")
    args = parser.parse_args()

    if args.once:
        print(dotenv_values(args.env_file)[args.name])
        return 0
    seen_mtime, token = None, None
    while True:
        # TokenTray replaces the file atomically: a read sees the old or the new file.
        mtime = os.stat(args.env_file).st_mtime_ns
        if mtime != seen_mtime:
            seen_mtime = mtime
            new = dotenv_values(args.env_file).get(args.name)
            if new != token:
                token = new
                print(f"using token {token[:4]}… from {args.env_file}", flush=True)
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
