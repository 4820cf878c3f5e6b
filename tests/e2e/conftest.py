"""Starts ``python -m offline`` on a free loopback port and talks to it over real HTTP."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.process import OfflineProcess
from tests.builders import Reply

ROOT = Path(__file__).resolve().parent.parent.parent
AUTH_CACHE_SECONDS = 1
PLATFORM_ADMIN = "root@e2e.test"


class Client:
    def __init__(self, base: str) -> None:
        self.base = base

    def call(
        self, method: str, path: str, body: Any = None, *, token: str | None = None, key: str | None = None
    ) -> Reply:
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(self.base + path, method=method, data=data)
        request.add_header("content-type", "application/json")
        if token:
            request.add_header("authorization", f"Bearer {token}")
        if key:
            request.add_header("x-api-key", key)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw, status, headers = response.read(), response.status, dict(response.headers)
        except urllib.error.HTTPError as error:
            raw, status, headers = error.read(), error.code, dict(error.headers)
        return Reply(status, {k.lower(): v for k, v in headers.items()}, json.loads(raw) if raw else None)


class Stack(OfflineProcess):
    """One ``make dev`` process: started, stopped with SIGTERM, restarted on the same data."""

    def __init__(self, state_dir: Path) -> None:
        arguments = ["--parameter", f"AuthCacheSeconds={AUTH_CACHE_SECONDS}", "--ttl-every", "1",
                     "--parameter", f"PlatformAdminEmails={PLATFORM_ADMIN}"]  # fmt: skip
        super().__init__(state_dir, arguments)
        self.client = Client(f"http://127.0.0.1:{self.port}")

    def start(self, timeout: float = 60) -> float:
        return super().start(timeout)

    def purge_state(self, project_id: str) -> str:
        """'purged' once no item of the project is left in any table (read through moto directly)."""
        import boto3

        moto = next(line.split()[2] for line in reversed(self.output) if "moto (AWS)" in line)  # after restarts
        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=moto,
            region_name="us-east-1",
            aws_access_key_id="offline",
            aws_secret_access_key="offline",
        )
        for table in dynamodb.list_tables()["TableNames"]:
            if project_id in json.dumps(dynamodb.scan(TableName=table)["Items"]):
                return f"left in {table}"
        return "purged"

    def stop(self, timeout: float = 90) -> float:  # it saves its data first; slow on a loaded machine
        assert self.process is not None
        started = time.monotonic()
        if not self.terminate(timeout):
            self.process.kill()
            raise subprocess.TimeoutExpired(self.process.args, timeout)
        return time.monotonic() - started


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("offline-state"))
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop()
