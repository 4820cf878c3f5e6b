"""GET /v1/projects/{id}/events: newest first, filtered, paged without skipping or repeating."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

from tests.integration.conftest import Api

HOUR = 3_600_000


def seed(api: Api) -> tuple[str, str, list[dict[str, Any]]]:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    sent = [
        {"event_id": f"e{i:03d}", "timestamp": now - i * 7 * 60_000, "method": "POST" if i % 4 == 0 else "GET",
         "endpoint": "/orders/{id}" if i % 2 else "/users/{id}", "status": 500 if i % 13 == 0 else 200,
         "consumer": f"c{i % 5}", "latency_ms": i}
        for i in range(250)  # every 7 minutes: about 29 hours, over two or three UTC days
    ]  # fmt: skip
    for start in range(0, len(sent), 100):
        assert api.call("POST", "/v1/events", {"events": sent[start : start + 100]}, key=key).status == 202
    return project_id, key, sent


def page_through(api: Api, path: str, key: str, limit: int) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(200):
        url = f"{path}{'&' if '?' in path else '?'}limit={limit}" + (f"&cursor={quote(cursor)}" if cursor else "")
        reply = api.call("GET", url, key=key)
        assert reply.status == 200, reply.body
        seen.extend(reply.body["events"])
        cursor = reply.body["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("paging did not end")


def test_pages_cover_the_window_newest_first_exactly_once(api: Api) -> None:
    project_id, key, sent = seed(api)
    since = int(time.time() * 1000) - 40 * HOUR
    everything = page_through(api, f"/v1/projects/{project_id}/events?from={since}", key, limit=37)
    assert [e["event_id"] for e in everything] == [e["event_id"] for e in sent]  # newest first, none twice
    last_day = page_through(api, f"/v1/projects/{project_id}/events", key, limit=50)  # default: the last 24 h
    assert 200 <= len(last_day) <= 210
    assert last_day == everything[: len(last_day)]
    first = everything[0]
    assert (first["endpoint"], first["consumer"], first["status"]) == ("/users/{id}", "c0", 500)


def test_filters_with_sparse_matches_across_shards(api: Api) -> None:
    project_id, key, sent = seed(api)
    since = int(time.time() * 1000) - 40 * HOUR
    errors = page_through(api, f"/v1/projects/{project_id}/events?from={since}&status=500", key, limit=3)
    assert [e["event_id"] for e in errors] == [e["event_id"] for e in sent if e["status"] == 500]
    mixed = page_through(
        api, f"/v1/projects/{project_id}/events?from={since}&consumer=c3&method=post&endpoint=/users/{{id}}", key, 4
    )
    expected = [e for e in sent if e["consumer"] == "c3" and e["method"] == "POST" and e["endpoint"] == "/users/{id}"]
    assert [e["event_id"] for e in mixed] == [e["event_id"] for e in expected]


def test_bad_requests_and_scopes(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    track_only = api.key(token, project_id, ("track",))["key"]
    assert api.call("GET", f"/v1/projects/{project_id}/events?cursor=garbage", token=token).status == 422
    made_up = api.call("GET", f"/v1/projects/{project_id}/events?cursor=20000.1795973652731", token=token)
    assert (made_up.status, made_up.body["events"]) == (200, [])  # a cursor of our shape reads from where it says
    assert api.call("GET", f"/v1/projects/{project_id}/events?limit=0", token=token).status == 422
    assert api.call("GET", f"/v1/projects/{project_id}/events", key=track_only).status == 403
    empty = api.call("GET", f"/v1/projects/{project_id}/events", token=token).body
    assert (empty["events"], empty["next_cursor"]) == ([], None)
    assert empty["from"] < empty["to"]
