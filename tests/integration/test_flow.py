"""The walking skeleton's contract, end to end in-process: accounts, projects, keys, ingest, analytics."""

from __future__ import annotations

import time
from typing import Any

from tests.integration.conftest import Api


def summary(api: Api, project_id: str, key: str, window: str = "24h") -> dict[str, Any]:
    reply = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window={window}", key=key)
    assert reply.status == 200, reply.body
    body: dict[str, Any] = reply.body
    return body


def test_register_login_me(api: Api) -> None:
    session = api.register("Ada@Example.com")
    assert session["token_type"] == "bearer"
    assert session["user"]["email"] == "ada@example.com"
    assert session["user"]["role"] == "owner"
    assert session["expires_in"] == 900
    login = api.call("POST", "/v1/auth/login", {"email": "ada@example.com", "password": "s3cret-pass!"})
    assert login.status == 200
    me = api.call("GET", "/v1/auth/me", token=login.body["access_token"])
    assert me.status == 200
    assert me.body["tenant"]["id"] == session["tenant"]["id"]


def test_login_failures_say_the_same_thing(api: Api) -> None:
    api.register("ada@example.com")
    wrong = api.call("POST", "/v1/auth/login", {"email": "ada@example.com", "password": "nope-nope-nope"})
    unknown = api.call("POST", "/v1/auth/login", {"email": "who@example.com", "password": "nope-nope-nope"})
    assert wrong.status == unknown.status == 401
    assert wrong.body["error"]["message"] == unknown.body["error"]["message"]
    again = api.call(
        "POST", "/v1/auth/register", {"email": "ada@example.com", "password": "0123456789", "organization": "x"}
    )
    assert again.status == 409
    assert again.body["error"]["code"] == "CONFLICT"


def test_projects_and_keys(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    assert api.call("GET", f"/v1/projects/{project_id}", token=token).body["name"] == "payments"
    assert [p["id"] for p in api.call("GET", "/v1/projects", token=token).body["projects"]] == [project_id]
    created = api.key(token, project_id, ("track",))
    assert created["key"].startswith(f"am_{created['prefix']}_")
    listed = api.call("GET", f"/v1/projects/{project_id}/keys", token=token).body["keys"]
    assert [k["id"] for k in listed] == [created["id"]]
    assert "key" not in listed[0]
    assert api.call("DELETE", f"/v1/projects/{project_id}/keys/{created['id']}", token=token).status == 204
    assert api.call("GET", f"/v1/projects/{project_id}/keys", token=token).body["keys"][0]["status"] == "revoked"


def test_acceptance_batches_duplicates_conflicts_and_malformed(api: Api) -> None:
    """Issue 2's scenario: 1,000 posted in 10 batches -> 925 accepted, 50 duplicates, 25 rejected."""
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    originals: list[dict[str, Any]] = [
        {"event_id": f"e{i}", "timestamp": now - i * 1000, "method": "GET", "endpoint": "/items/{id}",
         "status": 500 if i % 10 == 0 else (404 if i % 7 == 0 else 200), "latency_ms": 5 + i % 50}
        for i in range(925)
    ]  # fmt: skip
    replays = [dict(originals[i]) for i in range(50)]
    conflicts = [dict(originals[i], status=201) for i in range(100, 105)]
    malformed = [{"event_id": f"bad{i}", "method": "GET", "status": 200} for i in range(20)]  # no path/endpoint
    stream = originals + replays + conflicts + malformed
    totals: dict[str, Any] = {"accepted": 0, "duplicates": 0, "rejected": []}
    for start in range(0, 1000, 100):
        reply = api.call("POST", "/v1/events", {"events": stream[start : start + 100]}, key=key)
        assert reply.status == 202, reply.body
        totals["accepted"] += reply.body["accepted"]
        totals["duplicates"] += reply.body["duplicates"]
        totals["rejected"] += reply.body["rejected"]
    codes = [r["code"] for r in totals["rejected"]]
    assert (totals["accepted"], totals["duplicates"], len(codes)) == (925, 50, 25)
    assert (codes.count("CONFLICT"), codes.count("VALIDATION_ERROR")) == (5, 20)

    api.pump()
    result = summary(api, project_id, key)
    errors = sum(1 for e in originals if e["status"] >= 400)
    assert result["requests"] == 925
    assert result["errors"] == errors
    assert result["status_classes"]["5xx"] == sum(1 for e in originals if e["status"] >= 500)
    assert result["status_classes"]["4xx"] == sum(1 for e in originals if 400 <= e["status"] < 500)
    assert result["status_classes"]["2xx"] == 925 - errors
    assert result["error_rate"] == round(errors / 925, 6)

    api.pump()  # redelivering nothing changes nothing
    assert summary(api, project_id, key)["requests"] == 925
    series = api.call("GET", f"/v1/projects/{project_id}/metrics/timeseries?granularity=hour", key=key)
    assert series.status == 200
    assert sum(p["requests"] for p in series.body["points"]) == 925


def test_a_lone_event_is_judged_like_an_item_of_a_batch(api: Api) -> None:
    token = api.register()["access_token"]
    key = api.key(token, api.project(token))["key"]
    event = {"event_id": "x", "method": "GET", "endpoint": "/a", "status": 200}
    assert api.call("POST", "/v1/events", event, key=key).body == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert api.call("POST", "/v1/events", event, key=key).body["duplicates"] == 1
    conflict = api.call("POST", "/v1/events", dict(event, status=201), key=key)
    assert conflict.status == 202
    assert [r["code"] for r in conflict.body["rejected"]] == ["CONFLICT"]
    invalid = api.call("POST", "/v1/events", {"method": "GET"}, key=key)
    assert (invalid.status, invalid.body["accepted"]) == (202, 0)
    assert invalid.body["rejected"] == [{"index": 0, "code": "VALIDATION_ERROR", "message": "status: Field required"}]
    refused = api.call("POST", "/v1/events", [event], key=key)  # not an object: refused whole
    assert (refused.status, refused.body["error"]["code"]) == (400, "VALIDATION_ERROR")
    too_large = api.call("POST", "/v1/events", b"x" * (1_048_576 + 1), key=key)
    assert too_large.status == 413
    assert too_large.body["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_credentials_are_checked_and_tenants_isolated(api: Api) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    created = api.key(owner, project_id, ("track",))
    event = {"method": "GET", "endpoint": "/a", "status": 200}

    credentials: list[dict[str, Any]] = [{"key": "am_deadbeef_" + "A" * 43}, {"key": "nonsense"}, {}]
    for credential in credentials:
        reply = api.call("POST", "/v1/events", event, **credential)
        assert reply.status == 401
        assert reply.body["error"]["code"] == "AUTHENTICATION_FAILED"
        assert reply.body["error"]["request_id"]

    track_only = api.call("GET", f"/v1/projects/{project_id}/metrics/summary", key=created["key"])
    assert track_only.status == 403

    other = api.register("mallory@example.com", "Evil")["access_token"]
    for path in (f"/v1/projects/{project_id}", f"/v1/projects/{project_id}/metrics/summary",
                 f"/v1/projects/{project_id}/keys"):  # fmt: skip
        reply = api.call("GET", path, token=other)
        assert reply.status == 404, path
        assert project_id not in str(reply.body)
    stolen = api.call("DELETE", f"/v1/projects/{project_id}/keys/{created['id']}", token=other)
    assert stolen.status == 404

    assert api.call("DELETE", f"/v1/projects/{project_id}/keys/{created['id']}", token=owner).status == 204
    from apimeter.logic import authorization

    authorization.cache.clear()  # the cache's time has passed
    revoked = api.call("POST", "/v1/events", event, key=created["key"])
    assert revoked.status == 401


def test_unknown_route_and_bad_query_are_in_the_envelope(api: Api) -> None:
    missing = api.call("GET", "/v1/nothing-here")
    assert missing.status == 404
    assert missing.body["error"]["code"] == "NOT_FOUND"
    token = api.register()["access_token"]
    project_id = api.project(token)
    bad = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window=2h", token=token)
    assert bad.status == 422
    assert bad.body["error"]["details"][0]["field"] == "query.window"
    health = api.call("GET", "/health")
    assert health.status == 200
    assert health.body["version"]


def test_analytics_reads_the_same_rollup_items_for_few_and_many_events(api: Api) -> None:
    """Read cost depends on the window, never on how many events fell in it."""
    from apimeter.domain.principal import Principal
    from apimeter.logic import analytics

    token = api.register()["access_token"]
    counts = {}
    minute = (int(time.time() * 1000) // 60_000 - 5) * 60_000
    for label, per_minute in (("few", 1), ("many", 60)):
        project_id = api.project(token, label)
        key = api.key(token, project_id)["key"]
        events = [
            {"method": "GET", "endpoint": "/a", "status": 200, "timestamp": minute - m * 60_000 + i * 500}
            for m in range(3)
            for i in range(per_minute)
        ]
        assert api.call("POST", "/v1/events", {"events": events}, key=key).body["accepted"] == len(events)
        api.pump()
        me = api.call("GET", "/v1/auth/me", token=token).body
        principal = Principal("user", me["user"]["id"], me["tenant"]["id"], role="owner")
        result = analytics.summary(principal, project_id, "24h")
        assert result.totals.requests == len(events)
        counts[label] = result.items_read
    assert counts["few"] == counts["many"] <= 3 * 3  # at most a minute, hour and day item per touched bucket


def test_project_settings_apply_to_ingest_and_limits_only_tighten(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    changed = api.call(
        "PATCH",
        f"/v1/projects/{project_id}",
        {"ip_privacy": "hashed", "timezone": "Europe/Paris", "retention_days": 7,
         "pricing": {"currency": "EUR", "per_request": 0.0001,
                     "per_endpoint": [{"pattern": "POST /v1/generate*", "per_request": 0.02}]},
         "limits": {"key_per_minute": 50}},
        token=token,
    )  # fmt: skip
    assert changed.status == 200, changed.body
    assert (changed.body["ip_privacy"], changed.body["timezone"], changed.body["retention_days"]) == (
        "hashed",
        "Europe/Paris",
        7,
    )
    assert changed.body["pricing"]["currency"] == "EUR"
    assert changed.body["pricing"]["per_endpoint"] == [{"pattern": "POST /v1/generate*", "per_request": 0.02}]
    assert api.call("PATCH", f"/v1/projects/{project_id}", {"timezone": "Mars/Olympus"}, token=token).status == 400
    too_high = api.call("PATCH", f"/v1/projects/{project_id}", {"limits": {"key_per_minute": 10**9}}, token=token)
    assert (too_high.status, too_high.body["error"]["code"]) == (409, "CONFLICT")  # the plan's limits

    from apimeter.logic import authorization, ingest

    ingest._policies.clear()  # a minute has passed for the ingest function's settings cache
    authorization.cache.clear()
    event = {"event_id": "ip1", "method": "GET", "endpoint": "/a", "status": 200, "ip": "203.0.113.9"}
    reply = api.call("POST", "/v1/events", event, key=key)
    assert reply.headers["x-ratelimit-limit"] == "50"
    old = {**event, "event_id": "old", "timestamp": int(time.time() * 1000) - 8 * 86_400_000}
    late = api.call("POST", "/v1/events", old, key=key).body  # older than the new retention
    assert (late["accepted"], late["rejected"][0]["message"]) == (
        0,
        "timestamp: is older than the project's retention of 7 days",
    )
    (stored,) = [
        item
        for item in aws["dynamodb"].scan(TableName=aws["stack"].physical_name("EventsTable"))["Items"]
        if (item["project_id"]["S"], item["event_id"]["S"]) == (project_id, "ip1")
    ]
    assert stored["ip"]["S"].startswith("h:")
    assert "203.0.113.9" not in str(stored)
    assert stored["cost"]["N"] == "0.0001"  # priced by the project, as the event carried no cost
