#!/usr/bin/env python3
"""A bot that reports a refused token to TokenTray and waits for a new one.

When the broker answers 401/403 (a login elsewhere or a logout ended the
session), the bot tells TokenTray at once (POST /v1/accounts/ID/check): the
tray turns to "log in", the user is notified, and every other script hears
`token_invalid`. The bot then waits on the event stream for `token_changed`
and carries on with the new token. Standard library only.

    TOKENTRAY_API_KEY=$(tokentray api-key) python3 examples/report_and_wait.py kite-main \
        --broker https://api.kite.trade

TOKENTRAY_API sets the API's address (default http://127.0.0.1:8421).
"""

import argparse
import json
import os
import sys
import urllib.error
import urllib.request

API = os.environ.get("TOKENTRAY_API", "http://127.0.0.1:8421")
KEY = os.environ["TOKENTRAY_API_KEY"]


def api(path, method="GET"):
    request = urllib.request.Request(f"{API}{path}", method=method, headers={"Authorization": f"Bearer {KEY}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def broker_profile(broker, token):
    """One call to the broker (Kite's profile), as a trading bot makes many."""
    request = urllib.request.Request(
        f"{broker}/user/profile", headers={"X-Kite-Version": "3", "Authorization": token["authorization"]}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


def wait_for_new_token(account, stream):
    """Reads the SSE stream until `token_changed` for this account."""
    event = None
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == "token_changed":
            if json.loads(line.split(":", 1)[1])["account"] == account:
                return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("account")
    parser.add_argument("--broker", required=True)
    args = parser.parse_args()
    # Subscribe first, so that a new token arriving while we report is not missed.
    stream = urllib.request.urlopen(urllib.request.Request(f"{API}/v1/events"), timeout=120)
    status, token = api(f"/v1/accounts/{args.account}/token")
    if status != 200:
        print(f"no token yet: {token['error']}", flush=True)
    elif broker_profile(args.broker, token) in (401, 403):
        code, answer = api(f"/v1/accounts/{args.account}/check", method="POST")
        why = answer.get("error", "the token works again")
        print(f"the broker refused the token; reported it ({code}): {why}", flush=True)
        if code == 200:
            return 0
    else:
        print("the token works", flush=True)
        return 0
    print("waiting for a new token", flush=True)
    wait_for_new_token(args.account, stream)
    status, token = api(f"/v1/accounts/{args.account}/token")
    ok = status == 200 and broker_profile(args.broker, token) == 200
    print("working again on the new token" if ok else "the new token does not work either", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
