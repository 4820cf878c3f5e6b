"""``make watch``: print a project's live messages from the WebSocket API, reconnecting as needed.

By default it watches the demo project of the offline stack on 127.0.0.1:$PORT with the demo key;
``--url``, ``--key`` and ``--project`` point it anywhere else (a deployed stack: ``--url`` is the
HTTP API's URL and ``--live`` the stack's ``LiveUrl`` output).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parent.parent


def token_for(url: str, key: str) -> str:
    """A short-lived read token for an API key (POST /v1/auth/token)."""
    request = urllib.request.Request(  # noqa: S310 - the user's own API URL
        f"{url}/v1/auth/token", method="POST", headers={"x-api-key": key}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the user's own API URL # nosec B310
        return str(json.loads(response.read())["access_token"])


def watch(url: str, live: str, key: str, project: str) -> None:
    """Until interrupted: a stop, the idle limit or the two-hour limit ends a connection, and a
    new one (with a fresh token) follows."""
    while True:
        try:
            with connect(f"{live}?token={token_for(url, key)}") as socket:
                socket.send(json.dumps({"action": "subscribe", "project_id": project}))
                for message in socket:
                    print(message, flush=True)
            print("# connection closed; reconnecting", flush=True)
        except ConnectionClosed as closed:
            print(f"# connection lost ({closed.rcvd.code if closed.rcvd else 1006}); reconnecting", flush=True)
        except OSError as exc:  # the stack is stopped or restarting
            print(f"# {url} unreachable ({exc}); retrying", flush=True)
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make watch", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the HTTP API")
    parser.add_argument("--live", help="the WebSocket API (default: the offline stack's, <url>/ws)")
    parser.add_argument("--key", help="an API key with the read scope (default: the offline demo key)")
    parser.add_argument("--project", help="the project to watch (default: the offline demo project)")
    args = parser.parse_args(argv)
    demo_file = ROOT / ".offline" / "demo.json"
    demo = json.loads(demo_file.read_text()) if demo_file.exists() else {}
    key, project = args.key or demo.get("api_key"), args.project or demo.get("project_id")
    if not key or not project:
        parser.error("no demo data in .offline/demo.json: start `make dev` first, or pass --key and --project")
    live = args.live or "ws" + args.url.removeprefix("http") + "/ws"
    print(f"# watching {project} on {live} (Ctrl-C stops)", flush=True)
    try:
        watch(args.url.rstrip("/"), live, key, project)
    except InvalidStatus as refused:
        print(f"connection refused: HTTP {refused.response.status_code}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
