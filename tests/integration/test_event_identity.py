"""An event is named by its event_id and timestamp (the events table's key): a resend counts once,
and an event sent without a timestamp keeps the time it was first received, whatever happens
between its first copy and its resend."""

from __future__ import annotations

import time
from typing import Any

from apimeter.dal import events
from apimeter.domain.events import IngestPolicy, screen
from tests.integration.conftest import Api


def _setup(api: Api) -> tuple[str, str]:
    token = api.register()["access_token"]
    project_id = api.project(token)
    return project_id, str(api.key(token, project_id)["key"])


def _stored(aws: dict[str, Any], event_id: str) -> list[int]:
    table = aws["stack"].physical_name("EventsTable")
    return sorted(int(i["ts"]["N"]) for i in aws["dynamodb"].scan(TableName=table)["Items"]
                  if i["event_id"]["S"] == event_id)  # fmt: skip


def test_one_event_id_at_two_times_is_two_events_and_each_resend_counts_once(api: Api, aws: dict[str, Any]) -> None:
    _, key = _setup(api)
    now = int(time.time() * 1000)
    first = {"event_id": "e", "timestamp": now - 60_000, "method": "GET", "endpoint": "/a", "status": 200}
    second = dict(first, timestamp=now)

    assert api.call("POST", "/v1/events", {"events": [first, second]}, key=key).body["accepted"] == 2
    again = api.call("POST", "/v1/events", {"events": [second, first, dict(first, status=500)]}, key=key).body
    assert (again["accepted"], again["duplicates"]) == (0, 2)
    assert [r["code"] for r in again["rejected"]] == ["CONFLICT"]  # same name, another payload
    assert _stored(aws, "e") == [now - 60_000, now]


def test_an_untimed_resend_keeps_the_first_receipt_time(api: Api, aws: dict[str, Any]) -> None:
    _, key = _setup(api)
    untimed = {"event_id": "u", "method": "GET", "endpoint": "/a", "status": 200}

    assert api.call("POST", "/v1/events", untimed, key=key).body["accepted"] == 1
    first = _stored(aws, "u")
    time.sleep(0.01)  # a later receipt: another millisecond
    assert api.call("POST", "/v1/events", untimed, key=key).body["duplicates"] == 1
    assert _stored(aws, "u") == first


def test_an_untimed_event_whose_write_was_lost_is_written_by_its_resend(api: Api, aws: dict[str, Any]) -> None:
    project_id, key = _setup(api)
    untimed = {"event_id": "lost", "method": "GET", "endpoint": "/a", "status": 200}
    received = int(time.time() * 1000) - 5_000
    ((_, claimed),) = screen(project_id, [untimed], IngestPolicy(30, 300), received).unique
    assert events.first_received([claimed], 30, 8) == [received]  # an invocation claimed the time, then ended

    reply = api.call("POST", "/v1/events", untimed, key=key).body
    assert (reply["accepted"], reply["duplicates"]) == (1, 0)
    assert _stored(aws, "lost") == [received]


def test_the_tracking_answers_are_the_documented_models(api: Api) -> None:
    from apimeter.api.models.ingest import IngestOut, QuotaOut

    _, key = _setup(api)
    event = {"event_id": "m", "timestamp": int(time.time() * 1000), "method": "GET", "endpoint": "/a", "status": 200}
    answer = api.call("POST", "/v1/events", {"events": [event, event, dict(event, status=500), {"bad": 1}]}, key=key)
    assert answer.status == 202
    assert IngestOut.model_validate(answer.body).model_dump() == answer.body
    assert [(r["index"], r["code"]) for r in answer.body["rejected"]] == [(2, "CONFLICT"), (3, "VALIDATION_ERROR")]
    quota = api.call("GET", "/v1/quota", key=key)
    assert quota.status == 200
    assert QuotaOut.model_validate(quota.body).model_dump() == quota.body
