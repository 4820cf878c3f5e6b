"""Stream delivery: partial failures, bisecting, retries, the on-failure queue; and the aggregate handler."""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

import boto3
import pytest

from apimeter.dal import rollups
from apimeter.domain.windows import Run
from offline.lambdas import Lambda
from offline.streams import StreamPump
from offline.template import StreamMapping
from tests.builders import invoke, sample
from tests.integration.conftest import Api


def test_sample_stream_event_is_aggregated(aws: dict[str, Any]) -> None:
    result = invoke("aggregate", sample("aggregate"))
    assert result == {"batchItemFailures": []}
    items = aws["dynamodb"].scan(TableName=aws["stack"].physical_name("RollupsTable"))["Items"]
    keys = {(i["pk"]["S"].split("#", 1)[1], i["sk"]["S"]) for i in items if not i["pk"]["S"].startswith("PENDING#")}
    batch = sample("aggregate")["Records"][0]["dynamodb"]["SequenceNumber"]
    shard = zlib.crc32(batch.encode()) % rollups.SLICE_SHARDS
    assert keys == {(f"{g}#*", b) for g, b in (("minute", "2025-11-22T11:59"), ("hour", "2025-11-22T11"),
                                               ("day", "2025-11-22"))} | {
        (f"{d}#slices#{shard}", f"2025-11-22T11:59#{batch}#000") for d in ("e", "c")
    }  # fmt: skip
    run = Run("day", "2025-11-22", "2025-11-22", 1)
    assert [i["sk"] for i in rollups.read_runs("prj_01jexample000000000000000", [run], "e").items] == [
        "2025-11-22#GET /v1/users/{id}"
    ]  # the live day, from its minute's slice
    assert [i["sk"] for i in rollups.read_runs("prj_01jexample000000000000000", [run], "c").items] == [
        "2025-11-22#acme-mobile"
    ]
    markers = {i["sk"]["S"] for i in items if i["pk"]["S"].startswith("PENDING#")}
    assert markers == {"prj_01jexample000000000000000#2025-11-22T11"}  # the hour awaits finalization


def test_unreadable_record_is_reported_and_records_before_it_count(aws: dict[str, Any]) -> None:
    good = sample("aggregate")["Records"][0]
    second = json.loads(json.dumps(good))
    second["dynamodb"]["SequenceNumber"] = "4421584500000000017450439092"
    broken = json.loads(json.dumps(good))
    broken["dynamodb"]["SequenceNumber"] = "4421584500000000017450439093"
    del broken["dynamodb"]["NewImage"]["status"]
    result = invoke("aggregate", {"Records": [good, second, broken, good]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439093"}]}
    table = aws["stack"].physical_name("RollupsTable")
    day = next(i for i in aws["dynamodb"].scan(TableName=table)["Items"] if i["sk"]["S"] == "2025-11-22")
    assert day["requests"]["N"] == "2"


def test_failed_rollup_write_fails_the_batch_from_its_first_record(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise RuntimeError("throttled")

    monkeypatch.setattr(rollups, "apply", refuse)
    result = invoke("aggregate", sample("aggregate"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}


def test_removals_and_rewrites_are_not_counted(aws: dict[str, Any]) -> None:
    record = sample("aggregate")["Records"][0]
    record["eventName"] = "REMOVE"
    assert invoke("aggregate", {"Records": [record]}) == {"batchItemFailures": []}
    assert aws["dynamodb"].scan(TableName=aws["stack"].physical_name("RollupsTable"))["Count"] == 0


class Scripted:
    """A stand-in function that fails as told, to observe how the pump retries."""

    def __init__(self, behaviour: Any) -> None:
        self.behaviour = behaviour
        self.batches: list[list[str]] = []
        self.function = type("F", (), {"logical_id": "Scripted"})()

    def invoke(self, event: dict[str, Any]) -> Any:
        ids = [r["dynamodb"]["NewImage"]["pk"]["S"] for r in event["Records"]]
        self.batches.append(ids)
        return self.behaviour(event["Records"], ids)


def _pump(aws: dict[str, Any], function: Scripted, **settings: Any) -> tuple[StreamPump, str]:
    table = aws["stack"].physical_name("EventsTable")
    for i in range(6):
        aws["dynamodb"].put_item(TableName=table, Item={"pk": {"S": f"e{i}"}, "sk": {"S": "0"}})
    arn = aws["dynamodb"].describe_table(TableName=table)["Table"]["LatestStreamArn"]
    queue = aws["queues"]["AggregateFailureQueue"]
    mapping = StreamMapping(
        function="Scripted",
        table="EventsTable",
        batch_size=settings.get("batch_size", 6),
        window_seconds=0,
        max_retries=settings.get("max_retries", 2),
        bisect=settings.get("bisect", True),
        partial_failures=True,
        on_failure_queue="AggregateFailureQueue",
        starting_position="TRIM_HORIZON",
    )
    fake: Lambda = function  # type: ignore[assignment]
    pump = StreamPump(mapping, fake, boto3.client("dynamodbstreams"), arn, boto3.client("sqs"), queue, False)
    pump._open_shards()
    pump.poll_once()
    return pump, queue


def test_partial_failure_retries_from_the_reported_record(aws: dict[str, Any]) -> None:
    calls = {"n": 0}

    def fail_once_at_e3(records: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 1:
            return {"batchItemFailures": [{"itemIdentifier": records[3]["dynamodb"]["SequenceNumber"]}]}
        return {"batchItemFailures": []}

    function = Scripted(fail_once_at_e3)
    pump, _ = _pump(aws, function)
    assert function.batches == [[f"e{i}" for i in range(6)], ["e3", "e4", "e5"]]
    assert pump.delivered == 6


def test_function_errors_bisect_then_go_to_the_failure_queue(aws: dict[str, Any]) -> None:
    def poison_e4(records: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
        if "e4" in ids:
            raise RuntimeError("poison")
        return {"batchItemFailures": []}

    function = Scripted(poison_e4)
    pump, queue = _pump(aws, function, max_retries=2)
    assert function.batches[0] == [f"e{i}" for i in range(6)]
    assert ["e0", "e1", "e2"] in function.batches  # the healthy half got through after one split
    assert pump.failed_batches >= 1
    messages = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    info = json.loads(messages[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] >= 1


def test_unknown_failure_identifier_fails_the_whole_batch(aws: dict[str, Any]) -> None:
    calls = {"n": 0}

    def unknown_once(records: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
        calls["n"] += 1
        return {"batchItemFailures": [{"itemIdentifier": "nope"}]} if calls["n"] == 1 else {"batchItemFailures": []}

    function = Scripted(unknown_once)
    _pump(aws, function)
    assert function.batches[1] == function.batches[0]


def test_stream_redelivery_after_ingest_never_double_counts_a_replayed_event(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    event = {"event_id": "same", "method": "GET", "endpoint": "/a", "status": 200}
    api.call("POST", "/v1/events", event, key=key)
    api.call("POST", "/v1/events", {"events": [event, event]}, key=key)
    api.pump()
    reply = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window=1h", key=key)
    assert reply.body["requests"] == 1


def test_a_stop_drains_the_stream_however_long_the_function_takes(aws: dict[str, Any]) -> None:
    """A restart resumes at the stream's end, so a stop must deliver every record first, not give up
    after a fixed time (it did after 10 s, and live figures missed what ingest had acknowledged)."""

    def slow(records: list[dict[str, Any]], ids: list[str]) -> dict[str, Any]:
        time.sleep(0.3)
        return {"batchItemFailures": []}

    function = Scripted(slow)
    pump, _ = _pump(aws, function, batch_size=1)
    pump._thread.start()
    try:
        assert pump.drain_all(stall_seconds=1.0)  # 1.5 s of work in all, each batch within the stall
        assert pump.delivered == 6
    finally:
        pump.stop()
