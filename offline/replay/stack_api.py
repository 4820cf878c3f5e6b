"""The running offline stack as the replay talks to it: the public API with the demo project's key,
the development routes that run schedules now (``/_offline/schedules/...``, as ``make pipeline``),
and, for the one thing the API has no route for, the stack's store (its moto endpoint, from
``endpoints.json`` in its state directory, as ``tools/recompute.py`` reaches it)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any


class StackError(Exception):
    """The stack did not answer as expected: ``status`` 0 when it did not answer at all."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Stack:
    base_url: str
    api_key: str
    project_id: str
    timeout: float = 900.0  # a pipeline run on a busy machine takes a minute; a summary, seconds

    def call(self, method: str, path: str, body: Any = None, *, key: bool = True) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, method=method, data=data)  # noqa: S310 - loopback
        request.add_header("content-type", "application/json")
        if key:
            request.add_header("x-api-key", self.api_key)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - loopback # nosec B310
                raw = response.read()
        except urllib.error.HTTPError as error:
            raise StackError(error.code, _message(error.read()) or str(error)) from None
        except OSError as error:
            raise StackError(0, f"{self.base_url} does not answer ({error})") from None
        return json.loads(raw) if raw else None

    @property
    def project_path(self) -> str:
        return f"/v1/projects/{self.project_id}"

    def healthy(self) -> bool:
        try:
            return bool(self.call("GET", "/health", key=False))
        except StackError:
            return False

    def project(self) -> dict[str, Any]:
        return dict(self.call("GET", self.project_path))

    def summary(self, start_ms: int, end_ms: int) -> dict[str, Any]:
        query = urllib.parse.urlencode({"from": start_ms, "to": end_ms})
        return dict(self.call("GET", f"{self.project_path}/metrics/summary?{query}"))

    def count(self, start_ms: int, end_ms: int) -> int:
        """Requests counted in whole hours ``[start_ms, end_ms)``: a cheap read (one item an hour,
        unlike a summary, which also merges unique consumers)."""
        query = urllib.parse.urlencode({"granularity": "hour", "from": start_ms, "to": end_ms, "metrics": "requests"})
        points = self.call("GET", f"{self.project_path}/metrics/timeseries?{query}")["points"]
        return sum(int(point.get("requests") or 0) for point in points)

    def run_schedule(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run a schedule now and wait for it (``make rollup``, ``make pipeline HOUR=...``)."""
        return dict(self.call("POST", f"/_offline/schedules/{name}", payload, key=False))

    def make_forecast(self) -> dict[str, Any]:
        return dict(self.call("POST", f"{self.project_path}/forecast"))

    def anomalies(self, window: str = "30d") -> list[dict[str, Any]]:
        return list(self.call("GET", f"{self.project_path}/anomalies?window={window}")["anomalies"])


def _message(raw: bytes) -> str:
    try:
        return str(json.loads(raw)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return raw.decode(errors="replace")[:200]


def forget_detectors(endpoints: dict[str, str], project_id: str) -> int:
    """Delete a project's saved anomaly detectors, so that the pipeline's next judgement learns the
    project's history afresh, as for a new project. A detector skips hours before the last one it
    judged, so history replayed behind it (the hourly schedule judged the empty demo project before
    the replay) would otherwise never be learned. Offline only: there is no route for this."""
    import boto3

    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=endpoints["AWS_ENDPOINT_URL"],
        region_name=endpoints.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=endpoints["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=endpoints["AWS_SECRET_ACCESS_KEY"],
    )
    table = endpoints["ROLLUPS_TABLE"]
    partition = f"{project_id}#detectors"  # apimeter.dal.rollups.detector_states reads this partition
    keys = []
    for page in dynamodb.get_paginator("query").paginate(
        TableName=table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": partition}},
        ProjectionExpression="pk, sk",
    ):
        keys += page["Items"]
    for start in range(0, len(keys), 25):
        pending: Any = {table: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]}
        while pending:
            pending = dynamodb.batch_write_item(RequestItems=pending).get("UnprocessedItems")
    return len(keys)
