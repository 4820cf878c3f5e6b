"""Finalized rollups equal the figures computed straight from a real access log, whatever the stream does.

The log (../shared/data/access-logs, elastic/examples: 10,000 requests over four days, shuffled
within each hour) is replayed through the API with its timestamps shifted so that it ends an hour
ago, keeping every gap and the order. One batch is delivered twice, and one stream batch fails
after its rollup writes and is retried (so live figures count it twice). After the scheduled rollup
runs, every finalized hour and day, every endpoint's count and the status classes, read back
through the API, equal the counts made from the file.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from apimeter.dal import dynamo, rollups
from apimeter.domain.paths import template
from apimeter.domain.rollups import ENDPOINT
from apimeter.domain.windows import Run
from apimeter.logic import rollup
from apimeter.settings import settings
from tests.integration.conftest import Api

LOG = Path(__file__).resolve().parents[3] / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3})')
HOUR = 3_600_000
pytestmark = pytest.mark.slow  # minutes of moto writes: make test runs it apart, without coverage


def hour_of(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts / 1000))


def day_of(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts / 1000))


@pytest.fixture(scope="module")
def log_events() -> list[dict[str, Any]]:
    if not LOG.exists():
        pytest.skip("shared data not present")
    parsed: list[dict[str, Any]] = []
    for number, line in enumerate(LOG.read_text().splitlines()):
        match = LINE.match(line)
        assert match, line
        ip, when, method, path, status = match.groups()
        ts = int(datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)
        parsed.append({"event_id": f"log-{number}", "timestamp": ts, "method": method, "path": path,
                       "status": int(status), "ip": ip})  # fmt: skip
    shift = int(time.time() * 1000) - HOUR - max(e["timestamp"] for e in parsed)
    for event in parsed:
        event["timestamp"] += shift  # the log ends an hour ago; gaps and order kept
    return parsed


def test_finalized_rollups_equal_the_log(api: Api, aws: dict[str, Any], log_events: list[dict[str, Any]],
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("EVENT_SHARDS", "1")  # moto scans a whole index per query: fewer shards, fewer scans
    settings.cache_clear()
    session = api.register()
    token, tenant_id = session["access_token"], session["tenant"]["id"]
    raised = {"distinct_endpoints": 5000, "key_per_minute": 100_000, "project_per_minute": 100_000}
    aws["dynamodb"].update_item(  # the operator raised this tenant's endpoint cap above the log's 1,323,
        TableName=aws["stack"].physical_name("EntitiesTable"),  # and its rate: 10,000 events may go in a minute
        Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="SET limits = :limits",
        ExpressionAttributeValues={":limits": {"M": {k: {"N": str(v)} for k, v in raised.items()}}},
    )
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]

    original_side_by_side = dynamo.side_by_side  # as dal/rollups.py calls it
    failures = {"left": 1}

    def additions_failing_once(call: Any, requests: Any) -> Any:
        done = original_side_by_side(call, requests)
        if call is rollups._add and failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("injected: the batch's rollup writes landed, then the invocation failed")
        return done

    monkeypatch.setattr(rollups, "side_by_side", additions_failing_once)
    batches = [log_events[i : i + 1000] for i in range(0, len(log_events), 1000)]
    for number, batch in enumerate(batches):
        reply = api.call("POST", "/v1/events", {"events": batch}, key=key)
        assert (reply.status, reply.body["accepted"], reply.body["rejected"]) == (202, 1000, []), reply.body
        if number == 4:  # a client retry: the same batch again
            again = api.call("POST", "/v1/events", {"events": batch}, key=key).body
            assert (again["accepted"], again["duplicates"]) == (0, 1000)
        api.pump()
    assert failures["left"] == 0  # the injected failure happened, and the pump retried the batch

    first, last = min(e["timestamp"] for e in log_events), max(e["timestamp"] for e in log_events)
    by_hour = Counter(hour_of(e["timestamp"]) for e in log_events)
    live = timeseries(api, project_id, key, "hour", first, last)
    assert sum(live.values()) > len(log_events)  # the retried batch is counted twice while live

    report = rollup.run(int(time.time() * 1000) + 20 * 60_000)  # every hour of the log is over, with grace
    assert report.hours == len(by_hour)
    assert report.events == len(log_events)

    assert timeseries(api, project_id, key, "hour", first, last) == dict(by_hour)
    finished_days = {d for d in {day_of(e["timestamp"]) for e in log_events} if d < day_of(int(time.time() * 1000))}
    days = timeseries(api, project_id, key, "day", first, last)
    by_day = Counter(day_of(e["timestamp"]) for e in log_events)
    assert {d: days[d] for d in finished_days} == {d: by_day[d] for d in finished_days}
    assert len(finished_days) >= 3

    span = f"from={first - first % HOUR}&to={last - last % HOUR + HOUR}"
    endpoints = api.call("GET", f"/v1/projects/{project_id}/metrics/endpoints?{span}&limit=1000", key=key).body
    expected_endpoints = Counter(f"{e['method']} {template(e['path'])}" for e in log_events)
    assert endpoints["distinct"] == len(expected_endpoints)
    top = {f"{r['method']} {r['endpoint']}": r["requests"] for r in endpoints["items"]}
    assert len(top) == 1000
    assert {name: expected_endpoints[name] for name in top} == top
    assert sorted(top.values(), reverse=True) == sorted(expected_endpoints.values(), reverse=True)[:1000]
    hours = Run("hour", hour_of(first), hour_of(last), (last // HOUR - first // HOUR) + 1)
    stored = rollups.read_runs(project_id, [hours], ENDPOINT).items  # every endpoint, not only the top
    assert all(item["final"] for item in stored)
    per_endpoint: Counter[str] = Counter()
    for item in stored:
        per_endpoint[rollups.value_of(item)[1]] += int(item["requests"])
    assert per_endpoint == expected_endpoints

    summary = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?{span}", key=key).body
    classes = Counter(f"{e['status'] // 100}xx" for e in log_events)
    assert {k: v for k, v in summary["status_classes"].items() if v} == dict(classes)
    assert summary["requests"] == len(log_events)
    assert summary["errors"] == sum(1 for e in log_events if e["status"] >= 400)


def timeseries(api: Api, project_id: str, key: str, granularity: str, first: int, last: int) -> dict[str, int]:
    step = HOUR if granularity == "hour" else 24 * HOUR
    url = (f"/v1/projects/{project_id}/metrics/timeseries?granularity={granularity}"
           f"&from={first - first % step}&to={last - last % step + step}&metrics=requests")  # fmt: skip
    reply = api.call("GET", url, key=key)
    assert reply.status == 200, reply.body
    length = 13 if granularity == "hour" else 10
    return {p["ts"][:length]: p["requests"] for p in reply.body["points"] if p["requests"]}
