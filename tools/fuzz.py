"""Fuzz the whole HTTP API with schemathesis, from its OpenAPI document, against a running stack.

    python -m tools.fuzz --url http://127.0.0.1:3000 [--max-examples 20] [--max-time 600] [-- schemathesis args]

Every run signs up a fresh organization, so nothing is left from the one before: its owner's access
token answers the ``bearer`` scheme, and a key of a fresh project with both scopes the ``apiKey``
one (tools/fuzz_auth.py makes them again when the fuzzer has signed itself out or deleted them).
The run covers every operation of docs/openapi.json with schemathesis' checks of what the document
promises (``CHECKS``; not those of undocumented methods, which API Gateway answers) in all its
phases: the document's examples, the edges of every constraint, random data, and the stateful
phase, which follows the document's links from a create to its read, update and delete.
It ends by counting the requests the fuzzer sent (from its HAR report) and how many of them
were answered with each status class. Exit status is schemathesis': 0 when nothing failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import urllib.error
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from offline.demo import call, project_key

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
CHECKS = ("not_a_server_error", "response_schema_conformance", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "negative_data_rejection", "positive_data_acceptance", "ignored_auth",
          "use_after_free", "ensure_resource_availability", "missing_required_header")  # fmt: skip


def works(url: str, path: str, token: str | None = None, key: str | None = None) -> bool:
    """Whether a credential is still accepted (a GET of ``path`` is not a 401)."""
    try:
        call(url, "GET", path, token=token, key=key)
    except urllib.error.HTTPError as error:
        return error.code != 401
    return True


def sign_in(url: str, login: dict[str, str]) -> dict[str, Any]:
    """A new session (access and refresh token) for an existing account."""
    return dict(call(url, "POST", "/v1/auth/login", login))


def register(url: str, login: dict[str, str]) -> dict[str, Any]:
    """A new organization owned by a new account, and its first session."""
    return dict(call(url, "POST", "/v1/auth/register", {**login, "organization": "fuzz"}))


def refreshed(url: str, refresh_token: str) -> dict[str, Any]:
    """The session a refresh token rotates into."""
    return dict(call(url, "POST", "/v1/auth/refresh", {"refresh_token": refresh_token}))


def new_login() -> dict[str, str]:
    return {"email": f"fuzz-{uuid.uuid4().hex[:12]}@apimeter.test", "password": uuid.uuid4().hex}


def new_key(url: str, token: str) -> str:
    """A key with both scopes, of a new project of the signed-in user's organization."""
    return project_key(url, token, "fuzz")[1]


def run(url: str, max_examples: int, max_time: int | None, extra: list[str]) -> int:
    login = new_login()
    session = register(url, login)
    token = session["access_token"]
    seed = str(uuid.uuid4().int % 2**31)
    command = [sys.executable, "-m", "schemathesis.cli", "run", str(DOCUMENT), "--url", url,
               "--checks", ",".join(CHECKS), "--max-examples", str(max_examples), "--workers", "2",
               "--request-timeout", "60", "--seed", seed, "--no-color", *extra]  # fmt: skip
    if max_time:
        command += ["--max-time", str(max_time)]
    environment = {**os.environ, "SCHEMATHESIS_HOOKS": "tools.fuzz_auth", "PYTHONPATH": str(ROOT),
                   "APIMETER_FUZZ_URL": url, "APIMETER_FUZZ_TOKEN": token, "APIMETER_FUZZ_KEY": new_key(url, token),
                   "APIMETER_FUZZ_EMAIL": login["email"], "APIMETER_FUZZ_PASSWORD": login["password"],
                   "APIMETER_FUZZ_REFRESH": session["refresh_token"]}  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:  # schemathesis writes its cassettes and caches where it runs
        har = Path(folder) / "requests.har"
        command += ["--report", "har", "--report-har-path", str(har)]
        status = subprocess.call(command, env=environment, cwd=folder)  # noqa: S603 - our own arguments # nosec B603
        if har.exists():
            print(requests_line(json.loads(har.read_text())))
        return status


def requests_line(har: dict[str, Any]) -> str:
    """``requests: N (2xx a, 4xx b, ...)``, from a HAR log."""
    entries = har.get("log", {}).get("entries", [])
    classes = Counter(f"{entry.get('response', {}).get('status', 0) // 100}xx" for entry in entries)
    return f"requests: {len(entries)} ({', '.join(f'{k} {v}' for k, v in sorted(classes.items()))})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--max-examples", type=int, default=20, help="per operation and phase")
    parser.add_argument("--max-time", type=int, default=None, help="seconds for the whole run")
    args, extra = parser.parse_known_args(argv)
    return run(args.url.rstrip("/"), args.max_examples, args.max_time, [a for a in extra if a != "--"])


if __name__ == "__main__":
    sys.exit(main())
