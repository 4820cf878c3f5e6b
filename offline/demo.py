"""First-start demo data: an organization, a project and an API key, created through the API itself."""

from __future__ import annotations

import json
import secrets
import urllib.request
from pathlib import Path
from typing import Any

DEMO_EMAIL = "demo@apimeter.local"


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None, key: str | None = None) -> Any:
    """One call of the API at ``base`` (our own loopback stack), its JSON answer (None when empty)."""
    request = urllib.request.Request(  # noqa: S310 - our own loopback URL
        base + path, method=method, data=json.dumps(body).encode() if body is not None else None
    )
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    if key:
        request.add_header("x-api-key", key)
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own loopback URL # nosec B310
        return json.loads(response.read() or b"null")


def project_key(base: str, token: str, name: str) -> tuple[str, str]:
    """A new project of the signed-in user's organization, and a key of it with both scopes."""
    project = call(base, "POST", "/v1/projects", {"name": name}, token)["id"]
    key = call(base, "POST", f"/v1/projects/{project}/keys", {"name": name, "scopes": ["track", "read"]}, token)
    return str(project), str(key["key"])


def create(base: str, target: Path) -> dict[str, str]:
    password = secrets.token_urlsafe(12)
    session = call(
        base, "POST", "/v1/auth/register", {"email": DEMO_EMAIL, "password": password, "organization": "Demo Org"}
    )
    project, key = project_key(base, session["access_token"], "demo")
    demo = {"email": DEMO_EMAIL, "password": password, "project_id": project, "api_key": key}
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(demo, indent=2) + "\n")
    target.chmod(0o600)
    return demo


def is_empty(base: str, demo: dict[str, str]) -> bool:
    """True when the demo project has no events in the last 30 days (asked with its key); False when
    it has some or the API cannot say."""
    path = f"/v1/projects/{demo['project_id']}/metrics/summary?window=30d"
    try:
        return bool(call(base, "GET", path, key=demo["api_key"]).get("requests") == 0)
    except (OSError, ValueError, AttributeError):
        return False


def fill_hint(base: str) -> str:
    port = "" if base.endswith(":3000") else f" PORT={base.rsplit(':', 1)[1]}"
    return f"  no traffic yet: `make demo{port}` in another terminal replays real traffic into the demo project"


def load(target: Path) -> dict[str, str] | None:
    return dict(json.loads(target.read_text())) if target.exists() else None


def usage(base: str, demo: dict[str, str], live_url: str | None = None) -> str:
    project, key = demo["project_id"], demo["api_key"]
    live = ""
    if live_url:
        port = "" if base.endswith(":3000") else f" PORT={base.rsplit(':', 1)[1]}"
        exchange = f"curl -s -X POST {base}/v1/auth/token -H 'X-API-Key: {key}'"
        read = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
        live = f"""  watch live figures, alerts and anomalies (WebSocket), then track events as above:
    make watch{port}   (prints every message for the demo project)
    TOKEN=$({exchange} | {read})
    websocat "{live_url}?token=$TOKEN"   then send {{"action":"subscribe","project_id":"{project}"}}
"""
    return f"""
  demo login     {demo["email"]} / {demo["password"]}
  demo project   {project}
  demo API key   {key}   (scopes: track, read)

  track an event:
    curl -s -X POST {base}/v1/events -H 'X-API-Key: {key}' -H 'content-type: application/json' \\
      -d '{{"method":"GET","endpoint":"/users/{{id}}","status":200,"latency_ms":42}}'
  read the last 24 hours:
    curl -s '{base}/v1/projects/{project}/metrics/summary?window=24h' -H 'X-API-Key: {key}'
  send your app's traffic from Python (README: "Send your API's traffic", one snippet per framework):
    pip install ./clients/python
    export APIMETER_API_KEY={key} APIMETER_URL={base}
{live}"""
