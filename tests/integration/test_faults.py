"""Exactness under injected AWS faults (offline/faults.py): throttles, unprocessed batch items,
timed-out and crashing invocations, redelivered and reordered stream batches."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest

from apimeter.logic import rollup
from offline.faults import KINDS, Faults
from tests.integration.conftest import Api
from tests.integration.test_finalization import bucket, hour_of

HOUR = 3_600_000


def _project(api: Api) -> tuple[str, str]:
    token = api.register()["access_token"]
    project_id = api.project(token)
    return project_id, api.key(token, project_id)["key"]


def _events(count: int, hours_ago: int = 3) -> list[dict[str, Any]]:
    base = (int(time.time() * 1000) // HOUR - hours_ago) * HOUR
    return [{"event_id": f"e{i}", "timestamp": base + i * 7_000, "method": "GET", "endpoint": f"/r{i % 5}",
             "status": 200 if i % 6 else 503, "consumer": f"c{i % 4}"} for i in range(count)]  # fmt: skip


def _send_until_in(api: Api, key: str, batch: list[dict[str, Any]]) -> list[int]:
    """What a client does: resend the batch while the answer says to retry; the statuses seen."""
    statuses = []
    for _ in range(50):
        reply = api.call("POST", "/v1/events", {"events": batch}, key=key)
        statuses.append(reply.status)
        if reply.status == 202:
            assert reply.body["accepted"] + reply.body["duplicates"] == len(batch), reply.body
            return statuses
        if reply.status in (429, 503):
            assert reply.headers.get("retry-after"), reply.headers
        else:  # the gateway's answer for an invocation that timed out
            assert (reply.status, reply.body) == (500, {"message": "Internal Server Error"})
    raise AssertionError(f"never accepted: {statuses}")


def test_spec_parsing_and_seeded_rolls_are_reproducible() -> None:
    faults = Faults.parse("all=0.5,throttle=0.1,seed=3")
    assert faults.rates["throttle"] == 0.1
    assert set(faults.rates) == set(KINDS)
    again = Faults.parse("all=0.5,throttle=0.1,seed=3")
    assert [faults.roll("redeliver") for _ in range(50)] == [again.roll("redeliver") for _ in range(50)]
    assert faults.counts["redeliver"] == again.counts["redeliver"] > 0
    with faults.paused():
        assert not any(faults.roll("late") for _ in range(50))
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Faults.parse("floods=0.1")


def test_throttled_ingest_answers_503_with_retry_after_and_a_retry_gets_everything_in(
    api: Api, aws: dict[str, Any]
) -> None:
    """Throttling that outlasted the SDK's retries used to answer 500 INTERNAL_ERROR, which tells a
    client nothing about retrying; it is a 503 with Retry-After, and the retry loses nothing."""
    project_id, key = _project(api)
    faults = Faults({"throttle": 0.1, "throttle_exhausted": 1.0}, seed=11)
    api.inject(faults)
    batch = _events(60)
    with faults.paused():  # the authorizer has the key cached from here on, as when warm
        assert api.call("POST", "/v1/events", {"events": batch[:5]}, key=key).status == 202
    reply = api.call("POST", "/v1/events", {"events": batch}, key=key)
    assert (reply.status, reply.body["error"]["code"]) == (503, "SERVICE_UNAVAILABLE")
    assert reply.headers["retry-after"] == "1"
    faults.rates["throttle_exhausted"] = 0.01
    _send_until_in(api, key, batch[:30])  # part of it first, then the whole batch again
    _send_until_in(api, key, batch)
    assert faults.counts["throttle"] > 0  # and botocore retried those itself
    with faults.paused():
        api.pump()
        rollup.run()
    assert bucket(aws, project_id, "hour", hour_of(batch[0]["timestamp"]))["requests"] == "60"


def test_finalization_retries_batch_items_left_unprocessed(api: Api, aws: dict[str, Any]) -> None:
    project_id, key = _project(api)
    batch = _events(80)
    assert api.call("POST", "/v1/events", {"events": batch}, key=key).status == 202
    api.pump()
    faults = Faults({"unprocessed": 0.3}, seed=5)
    api.inject(faults)
    report = rollup.run()
    assert faults.counts["unprocessed"] > 0
    assert report.events == 80
    with faults.paused():
        hour = hour_of(batch[0]["timestamp"])
        assert bucket(aws, project_id, "hour", hour)["requests"] == "80"
        for endpoint, count in Counter(e["endpoint"] for e in batch).items():
            assert bucket(aws, project_id, "hour", f"{hour}#GET {endpoint}", "e")["requests"] == str(count)


def test_timeouts_crashes_redelivery_and_reordering_leave_final_figures_exact(api: Api, aws: dict[str, Any]) -> None:
    project_id, key = _project(api)
    faults = Faults({"timeout": 0.3, "stream_crash": 0.5, "redeliver": 0.5, "reorder": 0.5, "throttle": 0.05}, seed=2)
    api.inject(faults)
    batch = _events(200)
    for start in range(0, 200, 20):
        _send_until_in(api, key, batch[start : start + 20])
        api.pump()
    for kind in ("timeout", "stream_crash", "redeliver", "reorder"):
        assert faults.counts[kind] > 0, kind
    with faults.paused():
        rollup.run()
        hours = Counter(hour_of(e["timestamp"]) for e in batch)
        for hour, count in hours.items():
            assert bucket(aws, project_id, "hour", hour)["requests"] == str(count)
            for consumer in ("c0", "c1", "c2", "c3"):
                expected = sum(1 for e in batch if hour_of(e["timestamp"]) == hour and e["consumer"] == consumer)
                assert bucket(aws, project_id, "hour", f"{hour}#{consumer}", "c").get("requests", "0") == str(expected)
