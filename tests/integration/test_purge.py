"""Deleting a project: refused at once, every trace removed by the purge function."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from apimeter.logic import authorization, purge
from offline.queues import lambda_record
from tests.builders import invoke, sample
from tests.integration.conftest import Api


def items(aws: dict[str, Any], table: str, project_id: str) -> list[dict[str, Any]]:
    scanned = aws["dynamodb"].scan(TableName=aws["stack"].physical_name(table))["Items"]
    return [i for i in scanned if project_id in json.dumps(i, default=repr)]  # packs hold bytes


def files(bucket: str, project_id: str) -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket).get("Contents", [])
    return [f["Key"] for f in listed if project_id in f["Key"]]


def purge_messages(aws: dict[str, Any]) -> list[dict[str, Any]]:
    url = aws["queues"]["PurgeQueue"]
    messages = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [lambda_record(m, "arn:aws:sqs:us-east-1:123456789012:PurgeQueue") for m in messages]


def test_deleting_a_project_removes_all_its_data(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    doomed, kept = api.project(token, "doomed"), api.project(token, "kept")
    key, kept_key = api.key(token, doomed)["key"], api.key(token, kept)["key"]
    batch = {"events": [{"method": "GET", "endpoint": f"/e/{i}", "status": 200} for i in range(30)]}
    batch["events"] += [{"event_id": f"u{i}", "method": "GET", "endpoint": "/u", "status": 200} for i in range(10)]
    for credential in (key, kept_key):  # with events sent without a timestamp: their first receipts too
        assert api.call("POST", "/v1/events", batch, key=credential).status == 202
    api.pump()
    assert items(aws, "EventsTable", doomed)
    assert items(aws, "RollupsTable", doomed)
    now = int(time.time() * 1000)
    window = {"from": str(now - 3_600_000), "to": str(now + 60_000)}
    assert api.call("POST", f"/v1/projects/{doomed}/exports", window, key=key).status == 202
    assert api.work("ExportQueue") == 1
    bucket = aws["stack"].physical_name("ExportsBucket")
    assert files(bucket, doomed)

    assert api.call("DELETE", f"/v1/projects/{doomed}", token=token).status == 202
    authorization.cache.clear()
    assert api.call("POST", "/v1/events", batch, key=key).status == 401
    assert api.call("GET", f"/v1/projects/{doomed}", token=token).status == 404
    assert [p["id"] for p in api.call("GET", "/v1/projects", token=token).body["projects"]] == [kept]
    assert api.call("DELETE", f"/v1/projects/{doomed}", token=token).status == 404

    (message,) = purge_messages(aws)
    assert invoke("purge", {"Records": [message]}) == {"batchItemFailures": []}
    for table in ("EventsTable", "RollupsTable", "EntitiesTable"):
        assert items(aws, table, doomed) == [], table
    assert files(bucket, doomed) == []
    assert len(items(aws, "EventsTable", kept)) == 40
    assert api.call("POST", "/v1/events", batch, key=kept_key).status == 202
    assert invoke("purge", {"Records": [message]}) == {"batchItemFailures": []}  # idempotent


def test_a_purge_out_of_time_queues_its_continuation(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    api.call("POST", "/v1/events", {"events": [{"method": "GET", "endpoint": "/a", "status": 200}] * 5}, key=key)
    api.call("DELETE", f"/v1/projects/{project_id}", token=token)
    purge_messages(aws)
    me = api.call("GET", "/v1/auth/me", token=token).body
    assert purge.purge(me["tenant"]["id"], project_id, lambda: 1.0) is False
    purge.resume(me["tenant"]["id"], project_id)
    (message,) = purge_messages(aws)
    assert json.loads(message["body"]) == {"tenant_id": me["tenant"]["id"], "project_id": project_id}


def test_purge_sample_for_an_unknown_project_finishes(aws: dict[str, Any]) -> None:
    assert invoke("purge", sample("purge")) == {"batchItemFailures": []}


def test_a_malformed_purge_message_is_reported_not_lost(aws: dict[str, Any]) -> None:
    event = sample("purge")
    event["Records"][0]["body"] = "not json"
    result = invoke("purge", event)
    assert result == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
