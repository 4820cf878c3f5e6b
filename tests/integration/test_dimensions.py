"""Per-endpoint and per-consumer analytics: rankings, one consumer's usage, daily usage, filtered time
series, unique consumers, and the caps that fold the rest into ``other``."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import quote

import pytest

from apimeter.dal import rollups
from apimeter.logic import rollup
from tests.integration.conftest import Api

MINUTE = 60_000
HOUR = 60 * MINUTE


def track(api: Api, key: str, events: list[dict[str, Any]]) -> None:
    reply = api.call("POST", "/v1/events", {"events": events}, key=key)
    assert reply.status == 202, reply.body
    assert reply.body["rejected"] == [], reply.body


@pytest.fixture
def traffic(api: Api) -> tuple[str, str]:
    """Three endpoints and three consumers over the last two hours, with known figures."""
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    events = []
    for i in range(60):  # GET /users/{id}: 60 calls, 6 errors, 50 ms, alice and bob
        events.append({"method": "GET", "path": f"/users/{1000 + i}", "status": 404 if i % 10 == 0 else 200,
                       "latency_ms": 50, "consumer": "alice" if i % 2 else "bob", "timestamp": now - i * MINUTE,
                       "cost": 0.01})  # fmt: skip
    for i in range(20):  # POST /orders: 20 calls, 10 errors, 400 ms, carol only
        events.append({"method": "POST", "endpoint": "/orders", "status": 500 if i % 2 else 201, "latency_ms": 400,
                       "consumer": "carol co", "timestamp": now - i * 3 * MINUTE})  # fmt: skip
    for i in range(5):  # GET /health: 5 calls, no consumer
        events.append({"method": "GET", "endpoint": "/health", "status": 200, "latency_ms": 1,
                       "timestamp": now - i * MINUTE})  # fmt: skip
    track(api, key, events)
    api.pump()
    return project_id, key


def test_top_endpoints_by_each_sort(api: Api, traffic: tuple[str, str]) -> None:
    project_id, key = traffic
    url = f"/v1/projects/{project_id}/metrics/endpoints?window=24h"
    by_requests = api.call("GET", url, key=key).body
    assert by_requests["distinct"] == 3
    rows = {(r["method"], r["endpoint"]): r for r in by_requests["items"]}
    users = rows[("GET", "/users/{id}")]
    assert (users["requests"], users["errors"], users["error_rate"]) == (60, 6, 0.1)
    assert users["status_classes"]["4xx"] == 6
    assert users["latency_ms"]["p95"] == pytest.approx(50, rel=0.01)
    assert users["cost"] == pytest.approx(0.6)
    assert [r["endpoint"] for r in by_requests["items"]] == ["/users/{id}", "/orders", "/health"]
    assert by_requests["items"][0]["share"] == round(60 / 85, 6)

    order = {
        sort: [r["endpoint"] for r in api.call("GET", f"{url}&sort={sort}", key=key).body["items"]]
        for sort in ("errors", "error_rate", "latency_p95")
    }
    assert order == {
        "errors": ["/orders", "/users/{id}", "/health"],
        "error_rate": ["/orders", "/users/{id}", "/health"],
        "latency_p95": ["/orders", "/users/{id}", "/health"],
    }
    top = api.call("GET", f"{url}&limit=1", key=key).body
    assert (len(top["items"]), top["distinct"]) == (1, 3)
    assert api.call("GET", f"{url}&sort=fastest", key=key).status == 422


def test_consumers_and_one_consumers_usage(api: Api, traffic: tuple[str, str]) -> None:
    project_id, key = traffic
    ranked = api.call("GET", f"/v1/projects/{project_id}/metrics/consumers?window=24h", key=key).body
    assert [(r["consumer"], r["requests"]) for r in ranked["items"]] == [("alice", 30), ("bob", 30), ("carol co", 20)]
    usage = api.call("GET", f"/v1/projects/{project_id}/consumers/{quote('carol co')}/usage?window=24h", key=key).body
    assert (usage["consumer"], usage["requests"], usage["errors"]) == ("carol co", 20, 10)
    assert usage["previous"]["requests"] == 0
    assert usage["unique_consumers"] is None
    nobody = api.call("GET", f"/v1/projects/{project_id}/consumers/nobody/usage", key=key).body
    assert nobody["requests"] == 0

    summary = api.call("GET", f"/v1/projects/{project_id}/metrics/summary", key=key).body
    assert summary["unique_consumers"] == 3
    assert summary["unique_consumers_error"] == 0.0325
    assert summary["status_codes"] == {"200": 59, "201": 10, "500": 10, "404": 6}
    assert summary["latency_ms"]["min"] == pytest.approx(1, rel=0.0101)
    assert summary["latency_ms"]["max"] == pytest.approx(400, rel=0.01)


def test_daily_usage_per_consumer(api: Api, traffic: tuple[str, str]) -> None:
    project_id, key = traffic
    daily = api.call("GET", f"/v1/projects/{project_id}/metrics/daily?days=3&limit=2", key=key).body["days"]
    assert len(daily) == 3
    assert sum(d["requests"] for d in daily) == 85
    with_consumer = 0
    for day in daily:
        with_consumer += sum(c["requests"] for c in day["consumers"]) + day["other_consumers"]["requests"]
        counts = [c["requests"] for c in day["consumers"]]
        assert counts == sorted(counts, reverse=True)
        assert len(counts) <= 2
        assert day["consumers_count"] >= len(counts)
    assert with_consumer == 80  # every call that named a consumer, listed or summed as other
    assert daily[-1]["date"] == time.strftime("%Y-%m-%d", time.gmtime())
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/daily?days=91", key=key).status == 422


def test_timeseries_filters_and_metrics(api: Api, traffic: tuple[str, str]) -> None:
    project_id, key = traffic
    base = f"/v1/projects/{project_id}/metrics/timeseries?granularity=hour"

    def total(query: str, field: str = "requests") -> int:
        reply = api.call("GET", f"{base}&{query}", key=key)
        assert reply.status == 200, reply.body
        return sum(p[field] or 0 for p in reply.body["points"])

    assert total("endpoint=/users/{id}&method=get") == 60
    assert total("endpoint=/users/{id}") == 60
    assert total("method=POST") == 20
    assert total("method=GET") == 65
    carol = api.call("GET", f"/v1/projects/{project_id}/consumers/{quote('carol co')}/timeseries?granularity=hour",
                     key=key)  # fmt: skip
    assert (carol.status, sum(p["errors"] for p in carol.body["points"])) == (200, 10), carol.body
    assert carol.body["filters"] == {"consumer": "carol co"}
    assert total("status_class=5xx") == 10
    assert total("status_class=4xx&metrics=errors", "errors") == 6
    assert total("metrics=cost", "cost") == pytest.approx(0.6)

    reply = api.call("GET", f"{base}&metrics=requests,unique_consumers", key=key).body
    assert reply["metrics"] == ["requests", "unique_consumers"]
    assert max(p["unique_consumers"] or 0 for p in reply["points"]) >= 2
    assert all(p["latency_ms"] is None for p in reply["points"])
    filtered = api.call("GET", f"{base}&endpoint=/orders&method=POST", key=key).body
    assert filtered["filters"] == {"endpoint": "/orders", "method": "POST"}

    # What the filters do not keep answers null, and the answer names the metrics it answers.
    for query, answered in (("status_class=5xx&metrics=requests,latency", ["requests"]),
                            ("endpoint=/orders&metrics=requests,unique_consumers", ["requests"])):  # fmt: skip
        reply = api.call("GET", f"{base}&{query}", key=key).body
        assert reply["metrics"] == answered, query
        assert all(p["latency_ms"] is None and p["unique_consumers"] is None for p in reply["points"])
    for bad in ("status_class=6xx", "metrics=bogus"):  # what the document's schema refuses
        refused = api.call("GET", f"{base}&{bad}", key=key)
        assert (refused.status, refused.body["error"]["code"]) == (422, "VALIDATION_ERROR"), bad
    by_minute = f"/v1/projects/{project_id}/consumers/alice/timeseries?granularity=minute"
    assert sum(p["requests"] for p in api.call("GET", by_minute, key=key).body["points"]) == 30


def test_live_and_finalized_unique_consumers_agree(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    hour_start = (int(time.time() * 1000) // HOUR - 3) * HOUR
    track(api, key, [{"method": "GET", "endpoint": "/x", "status": 200, "consumer": f"c{i % 40}",
                      "timestamp": hour_start + i * 1000} for i in range(400)])  # fmt: skip
    api.pump()
    url = f"/v1/projects/{project_id}/metrics/summary?from={hour_start}&to={hour_start + HOUR}"
    live = api.call("GET", url, key=key).body
    rollup.run()
    final = api.call("GET", url, key=key).body
    assert live["unique_consumers"] == final["unique_consumers"]  # the same sketch, compacted
    assert abs(final["unique_consumers"] - 40) <= 3 * final["unique_consumers_error"] * 40
    assert live["requests"] == final["requests"] == 400


def test_caps_fold_the_rest_into_other(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    reply = api.call(
        "PATCH",
        f"/v1/projects/{project_id}",
        {"limits": {"distinct_endpoints": 2, "distinct_consumers": 1}},
        token=token,
    )
    assert reply.status == 200, reply.body
    key = api.key(token, project_id)["key"]
    track(api, key, [{"method": "GET", "endpoint": f"/e{i}", "status": 200, "consumer": f"u{i}"} for i in range(5)])
    track(api, key, [{"method": "GET", "endpoint": "/e0", "status": 200, "consumer": "u4"}])
    api.pump()
    endpoints = api.call("GET", f"/v1/projects/{project_id}/metrics/endpoints", key=key).body["items"]
    assert sorted((r["endpoint"], r["requests"]) for r in endpoints) == [("/e0", 2), ("/e1", 1), ("other", 3)]
    assert next(r for r in endpoints if r["endpoint"] == "other")["method"] is None
    consumers = api.call("GET", f"/v1/projects/{project_id}/metrics/consumers", key=key).body["items"]
    assert sorted((r["consumer"], r["requests"]) for r in consumers) == [("other", 5), ("u0", 1)]
    raw = api.call("GET", f"/v1/projects/{project_id}/events?endpoint=/e4", key=key).body["events"]
    assert len(raw) == 1  # raw events keep what was sent


def test_registration_never_exceeds_the_cap_under_concurrency(api: Api) -> None:
    outcomes: list[bool] = []
    lock = threading.Lock()

    def register(value: str) -> None:
        kept = rollups.register("prj_concurrent", "e", value, 5)
        with lock:
            outcomes.append(kept)

    threads = [threading.Thread(target=register, args=(f"GET /v{i}",)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == [False] * 15 + [True] * 5
    assert rollups.register("prj_concurrent", "e", "GET /v0", 5) == (
        "GET /v0" in rollups.registered("prj_concurrent", "e", ["GET /v0"])
    )


def _slots(project_id: str, dimension: str) -> int:
    from apimeter.dal.dynamo import client

    item = (
        client()
        .get_item(TableName=rollups._table(), Key={"pk": {"S": f"DIMS#{project_id}#{dimension}"}, "sk": {"S": "count"}})
        .get("Item")
    )
    return int(item["values"]["N"]) if item else 0


def test_new_values_register_together_for_a_write_each_and_one_for_the_lot(api: Api) -> None:
    from apimeter.dal.dynamo import client

    writes: list[str] = []
    client().meta.events.register("before-call.dynamodb.*", lambda model, **_: writes.append(model.name))
    assert rollups.register("prj_many", "c", "u3", 100)  # another ingest kept one of them first
    writes.clear()
    values = [f"u{i}" for i in range(10)]
    assert rollups.register_all("prj_many", "c", values, 100)
    assert [w for w in writes if w in ("PutItem", "UpdateItem")].count("PutItem") == 10
    assert [w for w in writes if w in ("PutItem", "UpdateItem")].count("UpdateItem") == 2  # the slots; one given back
    assert rollups.registered("prj_many", "c", values) == set(values)
    assert _slots("prj_many", "c") == 10
    assert not rollups.register_all("prj_many", "c", [f"w{i}" for i in range(91)], 100)  # no room for all
    assert _slots("prj_many", "c") == 10
    assert not rollups.register_all("prj_few", "c", ["a", "b", "c"], 2)  # a first batch past the cap
    assert _slots("prj_few", "c") == 0
