"""Read cost does not grow with traffic: every analytics call reads the same number of rollup items for
10 thousand and for 1 million events over the same windows.

Rollup items are generated directly (the same buckets, endpoints and consumers for both projects,
counts 100 times larger for the big one), as the stream and the rollup function would have written
them; the analytics API then answers over real HTTP routes in-process, and a botocore hook counts
the items DynamoDB returns from the rollups table.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from apimeter.dal import rollups
from apimeter.dal.dynamo import client, serialize
from apimeter.domain import distinct, sketch
from apimeter.domain.rollups import RollupKey
from apimeter.domain.windows import STEP_MS, Granularity, bucket_key, bucket_start
from apimeter.logic import analytics
from tests.integration.conftest import Api

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

pytestmark = pytest.mark.slow  # about a minute writing rollup items to moto
ENDPOINTS = ("GET /users/{id}", "POST /orders", "GET /health")
CONSUMERS = ("acme", "globex", "initech")
MINUTE, HOUR, DAY = STEP_MS["minute"], STEP_MS["hour"], STEP_MS["day"]


EDGES = (0, HOUR, 2 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 30 * DAY, 60 * DAY)  # window and previous-window starts


def buckets(now: int) -> Iterator[tuple[Granularity, str]]:
    """Every bucket the analytics calls of 24 h, 7 d and 30 d windows (and the windows before them)
    can touch: days throughout, hours within 26 hours of a window's edge, minutes (kept 72 h) within
    80 minutes of an edge inside the last 72 hours."""
    for day in range(bucket_start(now - 61 * DAY, "day"), now, DAY):
        yield "day", bucket_key(day, "day")
    hours: set[int] = set()
    minutes: set[int] = set()
    for edge in (now - back for back in EDGES):
        hours.update(range(bucket_start(edge - 26 * HOUR, "hour"), min(now, edge + 26 * HOUR), HOUR))
        if now - edge <= 2 * DAY:
            minutes.update(range(bucket_start(edge - 80 * MINUTE, "minute"), min(now, edge + 80 * MINUTE), MINUTE))
    yield from (("hour", bucket_key(hour, "hour")) for hour in sorted(hours))
    yield from (("minute", bucket_key(minute, "minute")) for minute in sorted(minutes))


def generate(project_id: str, now: int, scale: int) -> None:
    """Write the rollup items of a project whose traffic is ``scale`` times the base."""
    table = boto3.client("dynamodb")
    name = aws_table()
    requests: list[dict[str, Any]] = []
    packed: dict[RollupKey, dict[str, Any]] = {}
    bins = {sketch.bin_of(v): scale for v in (12.0, 45.0, 230.0)}
    for granularity, bucket in buckets(now):
        per_item = {"minute": 1, "hour": 14, "day": 24 * 14}[granularity] * scale
        values = {"requests": per_item, "errors": per_item // 20, "c2xx": per_item - per_item // 20,
                  "c5xx": per_item // 20, "s200": per_item - per_item // 20, "s503": per_item // 20,
                  "m_GET": per_item, "lat_n": 3 * scale, "lat_sum": 287 * scale,
                  **{f"lq{b}": c for b, c in bins.items()}}  # fmt: skip
        final = {"final": True, "run": "run_generated"} if granularity != "minute" else {}
        codes = {"uc": {distinct.code(c) for c in CONSUMERS}}
        requests.append({**values, **final, **codes, "pk": f"{project_id}#{granularity}#*", "sk": bucket})
        for dimension, names in (("e", ENDPOINTS), ("c", CONSUMERS)):  # packed, as finalization writes them
            packed.update({RollupKey(project_id, granularity, dimension, bucket, v): values for v in names})
    for start in range(0, len(requests), 25):
        chunk: list[WriteRequestTypeDef] = [
            {"PutRequest": {"Item": serialize(item)}} for item in requests[start : start + 25]
        ]
        table.batch_write_item(RequestItems={name: chunk})
    rollups.replace_all(
        packed, run="run_generated", computed_at="2026-01-01T00:00:00Z", minute_expires_at=now // 1000 + 72 * 3600
    )


def aws_table() -> str:
    from apimeter.settings import settings

    return settings().require("rollups_table")


class ReadCounter:
    """Items DynamoDB returns from the rollups table, counted from botocore's parsed responses."""

    def __init__(self) -> None:
        self.items = 0
        events = client().meta.events
        events.register("provide-client-params.dynamodb", self._remember)
        events.register("after-call.dynamodb", self._count)

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["tables"] = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))

    def _count(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if aws_table() not in context.get("tables", []):
            return
        if "Items" in parsed:
            self.items += len(parsed["Items"])
        elif "Item" in parsed:
            self.items += 1
        elif "Responses" in parsed:
            self.items += sum(len(found) for found in parsed["Responses"].values())

    def measure(self, api: Api, path: str, key: str) -> int:
        before = self.items
        reply = api.call("GET", path, key=key)
        assert reply.status == 200, (path, reply.body)
        return self.items - before


CALLS = (
    "metrics/summary?window={w}",
    "metrics/endpoints?window={w}",
    "metrics/consumers?window={w}",
    "metrics/status-codes?window={w}",
    "metrics/methods?window={w}",
    "consumers/acme/usage?window={w}",
    "metrics/timeseries?granularity={g}&from={start}",
    "metrics/timeseries?granularity={g}&from={start}&endpoint=/orders&method=POST",
    "metrics/timeseries?granularity={g}&from={start}&consumer=acme",
    "metrics/daily?days={days}",
)
WINDOWS = {"24h": ("hour", DAY, 1), "7d": ("day", 7 * DAY, 7), "30d": ("day", 30 * DAY, 30)}


def test_items_read_do_not_grow_with_traffic(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    now = int(time.time() * 1000)
    monkeypatch.setattr(analytics, "_now_ms", lambda: now)  # both projects are asked at the same instant
    counter = ReadCounter()
    token = api.register()["access_token"]
    projects = []
    for name, scale in (("ten-thousand", 1), ("one-million", 100)):
        project_id = api.project(token, name)
        key = api.key(token, project_id)["key"]
        generate(project_id, now, scale)
        month = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window=30d", key=key).body["requests"]
        projects.append((project_id, key, month))
    assert 9_000 <= projects[0][2] <= 11_500  # about ten thousand events in the 30-day window
    assert projects[1][2] == 100 * projects[0][2]  # and a hundred times more
    report = []
    for window, (granularity, length, days) in WINDOWS.items():
        for call in CALLS:
            path = call.format(w=window, g=granularity, start=now - length, days=days)
            small, large = (counter.measure(api, f"/v1/projects/{p}/{path}", k) for p, k, _ in projects)
            assert small == large, (window, path)
            assert small > 0, (window, path)
            report.append(f"{window} {path.split('?')[0]}{'+filter' if '&e' in path or '&c' in path else ''}={small}")
    print("\nitems read per call: " + ", ".join(report))
