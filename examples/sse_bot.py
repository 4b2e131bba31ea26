#!/usr/bin/env python3
"""A trading bot that follows TokenTray's change stream (Server-Sent Events)
and reconnects its market-data session when a new token arrives: no restart,
no polling, no token in a file.

    TOKENTRAY_API_KEY=$(tokentray api-key) python3 examples/sse_bot.py kite-main

Only the standard library. Replace MarketFeed with your broker's ticker
(KiteTicker, Upstox's streamer, schwab-py's stream client).
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

API = os.environ.get("TOKENTRAY_API", "http://127.0.0.1:8421")


def api_key():
    key = os.environ.get("TOKENTRAY_API_KEY")
    if key:
        return key
    return subprocess.check_output(["tokentray", "api-key"], text=True).strip()


def fetch_token(account, key):
    request = urllib.request.Request(
        f"{API}/v1/accounts/{account}/token", headers={"Authorization": f"Bearer {key}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def events(last_id):
    """Yields (id, event, data) from /v1/events, resuming after last_id."""
    headers = {"Accept": "text/event-stream"}
    if last_id is not None:
        headers["Last-Event-ID"] = str(last_id)
    request = urllib.request.Request(f"{API}/v1/events", headers=headers)
    with urllib.request.urlopen(request, timeout=60) as stream:
        event_id, kind, data = None, None, []
        for raw in stream:
            line = raw.decode("utf-8").rstrip("\r\n")
            if not line:
                if data:
                    yield event_id, kind, json.loads("\n".join(data))
                event_id, kind, data = None, None, []
            elif line.startswith(":"):
                continue  # keep-alive comment
            else:
                field, _, value = line.partition(":")
                value = value.removeprefix(" ")
                if field == "id":
                    event_id = int(value)
                elif field == "event":
                    kind = value
                elif field == "data":
                    data.append(value)


class MarketFeed:
    """Stands for the broker's streaming client."""

    def __init__(self):
        self.token = None

    def connect(self, token):
        if self.token is not None:
            print("market feed: closing the session on the old token", flush=True)
        self.token = token
        print(f"market feed: connected with token {token[:4]}…", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("account")
    parser.add_argument("--exit-after", type=int, default=0, help="stop after this many reconnects (0: never)")
    args = parser.parse_args()

    key = api_key()
    feed = MarketFeed()
    feed.connect(fetch_token(args.account, key)["access_token"])
    reconnects, last_id = 0, None
    while True:
        try:
            for event_id, kind, data in events(last_id):
                last_id = event_id if event_id is not None else last_id
                if kind == "reset":
                    feed.connect(fetch_token(args.account, key)["access_token"])
                elif kind == "token_changed" and data.get("account") == args.account:
                    token = fetch_token(args.account, key)["access_token"]
                    if token != feed.token:
                        feed.connect(token)
                        reconnects += 1
                        if args.exit_after and reconnects >= args.exit_after:
                            return 0
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            print(f"event stream lost ({e}); resuming after event {last_id}", file=sys.stderr, flush=True)
            time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
