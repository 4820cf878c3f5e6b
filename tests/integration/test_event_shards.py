"""A busy project's events spread over more write shards from a time on; nothing about an event's
identity, listing, finalization or purge changes (domain/shards.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from apimeter.dal import rollups
from apimeter.domain.rollups import RollupKey
from apimeter.domain.shards import Step
from apimeter.logic import ingest, limits, rollup
from tests.integration.conftest import Api

HOUR = 3_600_000


def _shards_of(aws: dict[str, Any], project_id: str) -> dict[str, int]:
    table = aws["stack"].physical_name("EventsTable")
    items = aws["dynamodb"].scan(TableName=table)["Items"]
    return {
        i["event_id"]["S"]: int(i["pk"]["S"].rsplit("#", 1)[1]) for i in items if i["project_id"]["S"] == project_id
    }


def test_events_from_a_step_on_spread_wider_and_resends_still_find_their_first_copy(
    api: Api, aws: dict[str, Any]
) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    hour = (int(time.time() * 1000) - 2 * HOUR) // HOUR * HOUR
    since = hour + HOUR // 2
    assert rollups.grow_shards(project_id, Step(since, 32))
    assert not rollups.grow_shards(project_id, Step(since + 60_000, 16))  # never fewer
    ingest._policies.clear()
    sent: list[dict[str, Any]] = [
        {"event_id": f"e{n}", "timestamp": hour + n * 3_000, "method": "GET", "endpoint": "/a", "status": 200}
        for n in range(1_000)
    ]
    assert api.call("POST", "/v1/events", {"events": sent}, key=key).body["accepted"] == 1_000
    shards = _shards_of(aws, project_id)
    before = [shards[e["event_id"]] for e in sent if e["timestamp"] < since]
    after = [shards[e["event_id"]] for e in sent if e["timestamp"] >= since]
    assert max(before) < 8 <= max(after) < 32
    again = api.call("POST", "/v1/events", {"events": sent}, key=key).body
    assert (again["accepted"], again["duplicates"]) == (0, 1_000)

    api.pump()
    rollup.run(hour + 2 * HOUR + rollup.GRACE_MS)
    totals = rollups.bucket(RollupKey(project_id, "hour", "*", time.strftime("%Y-%m-%dT%H", time.gmtime(hour / 1000))))
    assert totals is not None
    assert (totals["requests"], totals["final"]) == (1_000, True)
    listed, cursor = 0, None
    while True:
        query = f"from={hour}&to={hour + HOUR}&limit=500" + (f"&cursor={cursor}" if cursor else "")
        page = api.call("GET", f"/v1/projects/{project_id}/events?{query}", key=key).body
        listed += len(page["events"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    assert listed == 1_000


def test_a_project_charged_faster_than_its_shards_take_grows_them_ahead_of_time(
    api: Api, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    event = {"method": "GET", "endpoint": "/a", "status": 200}
    assert api.call("POST", "/v1/events", event, key=key).status == 202
    assert rollups.shard_schedule(project_id) == ()  # a quiet project keeps the default
    monkeypatch.setattr(limits, "project_rate", lambda _: 20_000.0)
    now = int(time.time() * 1000)
    assert api.call("POST", "/v1/events", event, key=key).status == 202
    (step,) = rollups.shard_schedule(project_id)
    assert step.shards == 128
    assert step.since_ms >= now + 120_000  # later than any writer's cached schedule or skewed timestamp
