"""Exports: queued over the API, written to S3 by the worker in parts, resumable, downloadable."""

from __future__ import annotations

import csv
import io
import json
import time
from typing import Any
from urllib.parse import urlparse

import boto3
import pytest

from apimeter.domain.windows import iso_ms
from apimeter.logic import exports
from tests.integration.conftest import Api

MINUTE = 60_000


@pytest.fixture
def tracked(api: Api) -> tuple[str, str, int]:
    session = api.register()
    token = session["access_token"]
    api.tenant_id = session["tenant"]["id"]  # type: ignore[attr-defined]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    events = [{"event_id": f"ev{i:03d}", "method": "GET" if i % 3 else "POST", "path": f"/items/{i}",
               "status": 500 if i % 5 == 0 else 200, "timestamp": now - (120 - i) * MINUTE, "consumer": "acme",
               "user_agent": 'agent "quoted", with comma', "properties": {"plan": "pro"}}
              for i in range(120)]  # fmt: skip
    assert api.call("POST", "/v1/events", {"events": events}, key=key).body["accepted"] == 120
    return project_id, key, now


def read_file(stack: Any, export_id: str, project_id: str, api: Api, key: str) -> tuple[dict[str, Any], bytes]:
    reply = api.call("GET", f"/v1/projects/{project_id}/exports/{export_id}", key=key)
    assert reply.status == 200, reply.body
    link = reply.body["download_url"]
    assert link is not None
    parsed = urlparse(link)
    assert "X-Amz-Signature=" in parsed.query or "Signature=" in parsed.query
    bucket = stack.physical_name("ExportsBucket")
    object_key = parsed.path.split(f"/{bucket}/", 1)[1] if f"/{bucket}/" in parsed.path else parsed.path.lstrip("/")
    content = boto3.client("s3").get_object(Bucket=bucket, Key=object_key)["Body"].read()
    return reply.body, content


def test_a_filtered_csv_export_is_written_and_linked(api: Api, tracked: tuple[str, str, int]) -> None:
    project_id, key, now = tracked
    request = {"from": str(now - 200 * MINUTE), "to": str(now + MINUTE), "format": "csv",
               "filters": {"status": 500, "method": "get"}}  # fmt: skip
    created = api.call("POST", f"/v1/projects/{project_id}/exports", request, key=key)
    assert created.status == 202, created.body
    assert (created.body["status"], created.body["filters"]) == ("queued", {"status": 500, "method": "GET"})
    assert api.work("ExportQueue") == 1
    body, content = read_file(api.stack, created.body["id"], project_id, api, key)
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    expected = [f"ev{i:03d}" for i in range(120) if i % 5 == 0 and i % 3]
    assert [r["event_id"] for r in rows] == expected  # oldest first, filtered
    assert body["status"] == "ready"
    assert (body["rows"], body["bytes"]) == (len(expected), len(content))
    assert rows[0]["user_agent"] == 'agent "quoted", with comma'
    assert json.loads(rows[0]["properties"]) == {"plan": "pro"}
    listed = api.call("GET", f"/v1/projects/{project_id}/exports", key=key).body["exports"]
    assert [e["id"] for e in listed] == [created.body["id"]]
    assert listed[0]["download_url"]  # a list is enough to download from: no call per export


def test_a_large_export_goes_in_parts_and_resumes(
    api: Api, tracked: tuple[str, str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import moto.s3.models

    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", 256)
    monkeypatch.setattr(exports, "PART_BYTES", 1500)  # about ten events a part
    project_id, key, now = tracked
    request = {"from": str(now - 200 * MINUTE), "to": str(now + MINUTE), "format": "jsonl"}
    export_id = api.call("POST", f"/v1/projects/{project_id}/exports", request, key=key).body["id"]
    tenant_id = api.tenant_id  # type: ignore[attr-defined]
    sqs = boto3.client("sqs")
    sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=api.stack.physical_name("ExportQueue"))["QueueUrl"])
    calls = 0
    while not exports.run(tenant_id, project_id, export_id, lambda: 0.0):  # out of time after every part
        calls += 1
    assert calls > 5
    body, content = read_file(api.stack, export_id, project_id, api, key)
    lines = [json.loads(line) for line in content.decode().splitlines()]
    assert [line["event_id"] for line in lines] == [f"ev{i:03d}" for i in range(120)]  # none lost or repeated
    assert (body["rows"], body["bytes"], body["status"]) == (120, len(content), "ready")
    assert exports.run(tenant_id, project_id, export_id, lambda: 0.0)  # a redelivery changes nothing


def test_bad_requests_and_a_failing_export(api: Api, tracked: tuple[str, str, int]) -> None:
    project_id, key, now = tracked
    url = f"/v1/projects/{project_id}/exports"
    backwards = api.call("POST", url, {"from": str(now), "to": str(now - 1)}, key=key)  # the empty range at 'from'
    assert (backwards.status, backwards.body["from"], backwards.body["to"]) == (202, iso_ms(now), iso_ms(now))
    assert api.call("POST", url, {"from": "yesterday", "to": str(now)}, key=key).status == 400
    assert api.call("POST", url, {"from": str(now - 1), "to": str(now), "format": "xml"}, key=key).status == 422
    assert api.call("GET", f"{url}/exp_missing", key=key).status == 404
    export_id = api.call("POST", url, {"from": str(now - 1000), "to": str(now)}, key=key).body["id"]
    tenant_id = api.tenant_id  # type: ignore[attr-defined]
    exports.fail(tenant_id, project_id, export_id, "export failed: Boom")
    failed = api.call("GET", f"{url}/{export_id}", key=key).body
    assert (failed["status"], failed["error"], failed["download_url"]) == ("failed", "export failed: Boom", None)
