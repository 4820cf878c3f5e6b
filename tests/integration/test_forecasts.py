"""Forecasts over the API: made on request from the project's hourly figures, then served as the latest."""

from __future__ import annotations

import math
import time
from decimal import Decimal
from typing import Any

from apimeter.dal import rollups
from apimeter.domain.rollups import PROJECT_TOTAL, RollupKey
from apimeter.domain.windows import bucket_key
from tests.integration.conftest import Api

HOUR = 3_600_000


def history(project_id: str, hours: int, now: int) -> float:
    """Finalized hourly totals for the ``hours`` before the current one (as the rollup run writes
    them), a daily swing with two requests priced at 0.01 each; returns the requests in them."""
    current = now - now % HOUR
    buckets: dict[RollupKey, dict[str, Any]] = {}
    for h in range(1, hours + 1):
        start = current - h * HOUR
        requests = round(100 + 60 * math.sin(2 * math.pi * (start // HOUR % 24) / 24))
        key = RollupKey(project_id, "hour", PROJECT_TOTAL, bucket_key(start, "hour"))
        buckets[key] = {"requests": requests, "c2": requests, "cost": Decimal(requests) / 100}
    rollups.replace_all(buckets, run="test", computed_at="2026-01-01T00:00:00Z")
    return sum(float(v["requests"]) for v in buckets.values())


def test_a_forecast_is_made_on_request_and_then_served(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id, ("read",))["key"]
    assert api.call("GET", f"/v1/projects/{project_id}/forecast", key=key).status == 404

    early = api.call("POST", f"/v1/projects/{project_id}/forecast", key=key)
    assert early.status == 200, early.body
    assert early.body["status"] == "insufficient_history"
    assert early.body["hourly"] == []

    now = int(time.time() * 1000)
    history(project_id, 10 * 24, now)
    made = api.call("POST", f"/v1/projects/{project_id}/forecast", key=key)
    assert made.status == 200, made.body
    forecast = made.body
    assert (forecast["status"], forecast["history_hours"], forecast["season_hours"]) == ("ready", 240, 24)
    assert forecast["currency"] == "USD"
    assert len(forecast["hourly"]) == 48
    assert len(forecast["daily"]) == 7
    assert forecast["hourly"][0]["start"] == bucket_key(now - now % HOUR, "hour")
    for step in forecast["hourly"]:
        expected = 100 + 60 * math.sin(2 * math.pi * (int(step["start"][-2:]) / 24))
        requests = step["requests"]
        assert requests["lower95"] <= requests["lower80"] <= requests["value"] <= requests["upper80"]
        assert abs(requests["value"] - expected) < 8
        assert abs(step["cost"]["value"] - requests["value"] / 100) < 0.1
    month = forecast["month_end"]
    assert month["requests"]["value"] >= month["actual_requests"]
    assert month["cost"]["lower95"] <= month["cost"]["value"] <= month["cost"]["upper95"]

    latest = api.call("GET", f"/v1/projects/{project_id}/forecast", key=key)
    assert latest.status == 200
    assert latest.body == forecast

    intruder = api.register("eve@example.com", "Evil")["access_token"]
    assert api.call("GET", f"/v1/projects/{project_id}/forecast", token=intruder).status == 404
    assert api.call("POST", f"/v1/projects/{project_id}/forecast", token=intruder).status == 404
