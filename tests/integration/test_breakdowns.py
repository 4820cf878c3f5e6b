"""Summary against the previous window, custom ranges, status-code and method breakdowns, tenant usage."""

from __future__ import annotations

import time

import pytest

from apimeter.domain.windows import iso
from tests.integration.conftest import Api

HOUR = 3_600_000


def track(api: Api, key: str, events: list[dict[str, object]]) -> None:
    assert api.call("POST", "/v1/events", {"events": events}, key=key).status == 202


def test_summary_compares_with_the_previous_window(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    current = [{"method": "GET", "endpoint": "/a", "status": 200, "timestamp": now - i * 60_000, "cost": 0.5,
                "latency_ms": 100, "response_bytes": 300, "consumer": f"c{i % 3}"} for i in range(30)]  # fmt: skip
    before = [{"method": "POST", "endpoint": "/a", "status": 503, "timestamp": now - 30 * HOUR - i * 60_000,
               "cost": 0.5, "latency_ms": 50, "response_bytes": 100, "consumer": "c0"} for i in range(20)]  # fmt: skip
    track(api, key, current + before)
    api.pump()
    summary = api.call("GET", f"/v1/projects/{project_id}/metrics/summary", key=key).body
    assert (summary["window"], summary["requests"], summary["previous"]["requests"]) == ("24h", 30, 20)
    assert summary["change"]["requests"] == 0.5
    assert summary["change"]["error_rate"] == -1.0
    assert summary["previous"]["errors"] == 20
    assert summary["change"]["latency_p95"] == pytest.approx(1.0, abs=0.03)
    assert summary["throughput_rps"] == round(30 / 86_400, 6)
    # every card's figure has its previous value and change, so a dashboard computes none of them
    previous, change = summary["previous"], summary["change"]
    assert (previous["bytes_out"], change["bytes_out"]) == (2_000, 3.5)
    assert (previous["unique_consumers"], change["unique_consumers"]) == (1, 2.0)
    assert (previous["throughput_rps"], change["throughput"]) == (round(20 / 86_400, 6), 0.5)
    assert summary["change"]["latency_p50"] == pytest.approx(1.0, abs=0.03)
    assert summary["previous"]["latency_p99_ms"] == pytest.approx(50, rel=0.02)

    custom = api.call(
        "GET", f"/v1/projects/{project_id}/metrics/summary?from={now - 31 * HOUR}&to={now - 29 * HOUR}", key=key
    ).body
    assert (custom["window"], custom["requests"], custom["errors"]) == ("custom", 20, 20)
    up_to = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?to={now - 29 * HOUR}", key=key).body
    assert (up_to["from"], up_to["to"]) == (iso(now - 53 * HOUR), iso(now - 29 * HOUR))  # 'from': a day before
    backwards = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?from={now}&to={now - HOUR}", key=key)
    assert (backwards.body["from"], backwards.body["to"], backwards.body["requests"]) == (iso(now), iso(now), 0)

    codes = api.call("GET", f"/v1/projects/{project_id}/metrics/status-codes?window=7d", key=key).body
    assert codes["items"] == [{"key": "200", "count": 30, "share": 0.6}, {"key": "503", "count": 20, "share": 0.4}]
    assert codes["status_classes"]["5xx"] == 20
    methods = api.call("GET", f"/v1/projects/{project_id}/metrics/methods?window=7d", key=key).body
    assert [(m["key"], m["count"]) for m in methods["items"]] == [("GET", 30), ("POST", 20)]


def test_usage_adds_up_the_organization(api: Api) -> None:
    token = api.register()["access_token"]
    for name, count in (("one", 3), ("two", 4)):
        project_id = api.project(token, name)
        key = api.key(token, project_id)["key"]
        track(api, key, [{"method": "GET", "endpoint": "/u", "status": 200}] * count)
    api.pump()
    usage = api.call("GET", "/v1/usage?window=1h", token=token).body
    assert usage["requests"] == 7
    assert api.call("GET", "/v1/usage", key=key).status == 403
    other = api.register("other@example.com")["access_token"]
    assert api.call("GET", "/v1/usage", token=other).body["requests"] == 0
