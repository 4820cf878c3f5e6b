"""Starts ``python -m offline`` on a free loopback port and talks to it over real HTTP."""

from __future__ import annotations

import json
import math
import os
import random
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from offline.process import OfflineProcess
from tests.builders import Reply
from tests.conftest import reset_caches

ROOT = Path(__file__).resolve().parent.parent.parent
AUTH_CACHE_SECONDS = 1
PLATFORM_ADMIN = "root@e2e.test"
HOUR = 3_600_000


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
            if project_id in json.dumps(dynamodb.scan(TableName=table)["Items"], default=str):  # binary values too
                return f"left in {table}"
        return "purged"

    def stop(self, timeout: float = 90) -> float:  # it saves its data first; slow on a loaded machine
        assert self.process is not None
        started = time.monotonic()
        if not self.terminate(timeout):
            self.process.kill()
            raise subprocess.TimeoutExpired(self.process.args, timeout)
        return time.monotonic() - started


@contextmanager
def tables_of(stack: Stack) -> Iterator[None]:
    """The data-access modules pointed at the running stack's moto (to plant history the API
    cannot make: three weeks of hours)."""
    endpoints = json.loads((stack.state_dir / "endpoints.json").read_text())
    saved = {name: os.environ.get(name) for name in endpoints}
    os.environ.update(endpoints)
    reset_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_caches()


def plant_spike(stack: Stack, project_id: str, endpoint: str | None = None) -> str:
    """Three weeks of ordinary hours, already judged (the detectors' saved state), then a last
    finished hour three times as busy, for the project (and ``endpoint``, "METHOD /route", when
    given). The hour is returned: ``POST /_offline/schedules/HourlyPipeline {"hour": ...}`` judges
    it with the real pipeline, which finds the spike."""
    from apimeter.dal import rollups
    from apimeter.domain.anomaly import Detector
    from apimeter.domain.rollups import ENDPOINT, PROJECT_TOTAL, RollupKey
    from apimeter.domain.windows import bucket_key

    now = int(time.time() * 1000)
    hour_ms = now - now % HOUR - HOUR
    hour = bucket_key(hour_ms, "hour")
    rng = random.Random(4)

    def usual(start: int) -> int:
        return round(200 + 80 * math.sin(2 * math.pi * (start // HOUR % 24) / 24) + rng.gauss(0, 5))

    detector = Detector(3600)
    for h in range(21 * 24, 0, -1):
        detector.update((hour_ms - h * HOUR) / 1000, usual(hour_ms - h * HOUR))
    series = [(PROJECT_TOTAL, "")] + ([(ENDPOINT, endpoint)] if endpoint else [])
    spike = 3 * usual(hour_ms)
    with tables_of(stack):
        rollups.save_detector_states(project_id, {s: {"requests": detector.state()} for s in series})
        rollups.replace_all(
            {RollupKey(project_id, "hour", dimension, hour, value): {"requests": spike, "cost": Decimal(0)}
             for dimension, value in series},
            run="e2e", computed_at="2026-01-01T00:00:00Z",
        )  # fmt: skip
    return hour


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("offline-state"))
    running.start()
    yield running
    if running.process and running.process.poll() is None:
        running.stop()
