"""Finalized hours and days are exact whatever the stream does: redelivery, late events, backfill."""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from apimeter.dal import rollups
from apimeter.domain.rollups import RollupKey
from apimeter.domain.windows import Granularity, iso
from apimeter.logic import rollup
from tests.builders import invoke, sample
from tests.integration.conftest import Api

HOUR = 3_600_000


def stream_records(aws: dict[str, Any]) -> list[dict[str, Any]]:
    """Every record in the events stream so far, in Lambda's format (to redeliver them)."""
    from offline.streams import lambda_record

    streams = boto3.client("dynamodbstreams")
    arn = aws["dynamodb"].describe_table(TableName=aws["stack"].physical_name("EventsTable"))["Table"][
        "LatestStreamArn"
    ]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")[
        "ShardIterator"
    ]
    return [lambda_record(r, arn) for r in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]]


def hour_of(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts / 1000))


def bucket(
    aws: dict[str, Any], project_id: str, granularity: Granularity, key: str, dimension: str = "*"
) -> dict[str, Any]:
    if dimension != "*":  # an endpoint or consumer, as readers see it (packed: dal/rollups.py)
        at, _, value = key.partition("#")
        found = rollups.get_many([RollupKey(project_id, granularity, dimension, at, value)]).items
        return {k: v if isinstance(v, bool) else str(v) for k, v in (found[0] if found else {}).items()}
    item = (
        aws["dynamodb"]
        .get_item(
            TableName=aws["stack"].physical_name("RollupsTable"),
            Key={"pk": {"S": f"{project_id}#{granularity}#{dimension}"}, "sk": {"S": key}},
        )
        .get("Item", {})
    )
    return {k: v.get("N", v.get("S", v.get("BOOL", v.get("NS")))) for k, v in item.items()}


def setup(api: Api, hours_ago: int, count: int) -> tuple[str, str, str, int]:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    base = (int(time.time() * 1000) // HOUR - hours_ago) * HOUR + 60_000
    batch = [{"event_id": f"e{i}", "timestamp": base + i * 1000, "method": "GET", "endpoint": "/a",
              "status": 500 if i % 4 == 0 else 200, "latency_ms": 10 + i, "consumer": f"u{i % 3}"}
             for i in range(count)]  # fmt: skip
    assert api.call("POST", "/v1/events", {"events": batch}, key=key).body["accepted"] == count
    api.pump()
    return token, project_id, key, base


def test_redelivered_batches_inflate_live_figures_but_never_final_ones(api: Api, aws: dict[str, Any]) -> None:
    _, project_id, _, base = setup(api, hours_ago=3, count=40)
    hour = hour_of(base)
    records = stream_records(aws)
    assert invoke("aggregate", {"Records": records}) == {"batchItemFailures": []}  # a redelivered batch
    assert bucket(aws, project_id, "hour", hour)["requests"] == "80"  # live totals: counted twice
    assert bucket(aws, project_id, "hour", f"{hour}#GET /a", "e")["requests"] == "40"  # the batch's slice, put again
    assert bucket(aws, project_id, "hour", f"{hour}#u0", "c")["requests"] == "14"
    ghost = RollupKey(project_id, "hour", "e", hour, "GET /ghost")  # a pack some earlier run left
    rollups.replace_all({ghost: {"requests": 1}}, run="earlier", computed_at=iso(base))

    report = rollup.run()
    assert (project_id, hour) in report.recomputed
    final = bucket(aws, project_id, "hour", hour)
    assert (final["requests"], final["errors"], final["final"]) == ("40", "10", True)
    assert final["run"] == report.run
    assert len(final["uc"]) == 3  # three consumers: one register code each
    endpoint = bucket(aws, project_id, "hour", f"{hour}#GET /a", "e")
    assert (endpoint["requests"], endpoint["errors"], endpoint["run"]) == ("40", "10", report.run)
    assert bucket(aws, project_id, "hour", f"{hour}#u0", "c")["requests"] == "14"
    assert bucket(aws, project_id, "hour", f"{hour}#GET /ghost", "e") == {}  # no raw event behind it

    invoke("aggregate", {"Records": records})  # redelivered again, after finalization
    assert bucket(aws, project_id, "hour", hour)["requests"] == "40"  # refused by the final bucket
    again = rollup.run()
    assert (project_id, hour) in again.recomputed  # the refusal marked it pending
    assert bucket(aws, project_id, "hour", hour)["requests"] == "40"


def test_a_late_event_is_counted_at_the_next_run(api: Api, aws: dict[str, Any]) -> None:
    _, project_id, key, base = setup(api, hours_ago=2, count=10)
    rollup.run()
    late = {"event_id": "late", "timestamp": base + 5 * 60_000, "method": "GET", "endpoint": "/a", "status": 404}
    assert api.call("POST", "/v1/events", late, key=key).status == 202
    api.pump()
    assert bucket(aws, project_id, "hour", hour_of(base))["requests"] == "10"
    rollup.run()
    final = bucket(aws, project_id, "hour", hour_of(base))
    assert (final["requests"], final["c4xx"]) == ("11", "1")


def test_a_run_that_ends_before_its_days_leaves_their_hours_for_the_next(
    api: Api, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, project_id, key, base = setup(api, hours_ago=50, count=10)
    rollup.run()
    late = {"event_id": "late", "timestamp": base + 5 * 60_000, "method": "GET", "endpoint": "/a", "status": 404}
    assert api.call("POST", "/v1/events", late, key=key).status == 202
    api.pump()
    finish_day = rollup.finalize_day

    def ended(project_id: str, day: str, run: str) -> None:
        raise TimeoutError("the invocation ended after the hour, before its day")

    monkeypatch.setattr(rollup, "finalize_day", ended)
    with pytest.raises(TimeoutError):
        rollup.run()
    assert bucket(aws, project_id, "hour", hour_of(base))["requests"] == "11"
    monkeypatch.setattr(rollup, "finalize_day", finish_day)
    assert rollup.run().days == 1
    day = time.strftime("%Y-%m-%d", time.gmtime(base / 1000))
    assert bucket(aws, project_id, "day", day)["requests"] == "11"
    assert bucket(aws, project_id, "day", f"{day}#GET /a", "e")["requests"] == "11"


def test_a_late_event_in_a_batch_that_runs_out_of_retries_is_still_counted(
    api: Api, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from apimeter.dal import rollups

    _, project_id, key, base = setup(api, hours_ago=2, count=10)
    rollup.run()
    seen = len(stream_records(aws))
    late = {"event_id": "late", "timestamp": base + 5 * 60_000, "method": "GET", "endpoint": "/a", "status": 404}
    assert api.call("POST", "/v1/events", late, key=key).status == 202

    def throttled(request: dict[str, Any]) -> None:
        raise RuntimeError("throttled past the SDK's retries")

    monkeypatch.setattr(rollups, "_add", throttled)  # every attempt fails: the batch goes to the failure queue
    for _ in range(3):
        reply = invoke("aggregate", {"Records": stream_records(aws)[seen:]})
        assert reply["batchItemFailures"], reply
    monkeypatch.undo()
    rollup.run()
    final = bucket(aws, project_id, "hour", hour_of(base))
    assert (final["requests"], final["c4xx"]) == ("11", "1")


def test_finished_days_are_the_sum_of_their_final_hours(api: Api, aws: dict[str, Any]) -> None:
    _, project_id, key, base = setup(api, hours_ago=50, count=30)
    invoke("aggregate", {"Records": stream_records(aws)})  # double-count the live day
    report = rollup.run()
    assert report.days == 1
    day = time.strftime("%Y-%m-%d", time.gmtime(base / 1000))
    assert bucket(aws, project_id, "day", day)["requests"] == "30"
    assert bucket(aws, project_id, "day", f"{day}#GET /a", "e")["requests"] == "30"
    assert bucket(aws, project_id, "day", f"{day}#u1", "c")["requests"] == "10"
    assert len(bucket(aws, project_id, "day", day)["uc"]) == 3
    summary = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window=7d", key=key).body
    assert summary["requests"] == 30


def test_backfill_route_marks_hours_for_the_next_run(api: Api, aws: dict[str, Any]) -> None:
    token, project_id, _, base = setup(api, hours_ago=4, count=5)
    rollup.run()
    hour_start = base - 60_000
    body = {"from": hour_start - HOUR, "to": hour_start + HOUR}  # two whole hours
    reply = api.call(
        "POST", f"/v1/projects/{project_id}/rollups/recompute", {k: str(v) for k, v in body.items()}, token=token
    )
    assert reply.status == 202
    assert reply.body == {"hours": 2, "from": iso(hour_start - HOUR), "to": iso(hour_start + HOUR)}
    report = rollup.run()
    assert (project_id, hour_of(base)) in report.recomputed
    assert bucket(aws, project_id, "hour", hour_of(base))["run"] == report.run
    # Raw events older than retention are gone, and one request marks 31 days at most: the answer says what it marked.
    too_old = {"from": "2001-01-01T00:00:00Z", "to": "2001-01-01T05:00:00Z"}
    gone = api.call("POST", f"/v1/projects/{project_id}/rollups/recompute", too_old, token=token).body
    assert gone["hours"] == 0
    too_long = {"from": str(base - 40 * 24 * HOUR), "to": str(base)}
    marked = api.call("POST", f"/v1/projects/{project_id}/rollups/recompute", too_long, token=token).body
    assert marked["to"] == iso(base)
    assert marked["from"] > iso(base - 31 * 24 * HOUR)  # moved up to retention's start (30 days, the default)


def test_the_scheduled_sample_event_runs(aws: dict[str, Any]) -> None:
    result = invoke("rollup", sample("rollup"))
    assert result["hours"] == 0
    assert result["run"].startswith("run_")
