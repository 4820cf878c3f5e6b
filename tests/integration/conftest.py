"""The whole API in-process: template routes, authorizer and handlers on moto, streams pumped on demand."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from offline.faults import WATCHED, Faults
from offline.gateway import Gateway
from offline.lambdas import Lambda, load_all
from offline.queues import QueuePump
from offline.streams import StreamPump
from offline.template import Stack
from tests.builders import Reply


class Api:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.functions: dict[str, Lambda] = load_all(stack)
        self.gateway = Gateway(stack, self.functions)
        self._pumps: list[StreamPump] = []
        self._machines: Any = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        key: str | None = None,
        content_type: str | None = "application/json",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        headers = {"host": "127.0.0.1", "user-agent": "tests", **(headers or {})}
        if content_type:
            headers["content-type"] = content_type
        if token:
            headers["authorization"] = f"Bearer {token}"
        if key:
            headers["x-api-key"] = key
        raw = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else b"")
        status, out, _, payload = self.gateway.handle(method, path, headers, raw, "127.0.0.1", "127.0.0.1")
        return Reply(status, out, json.loads(payload) if payload else None)

    def open_streams(self) -> None:
        """Start reading the streams, as the event source mappings would from deployment on (a
        mapping at LATEST sees only what is written after this)."""
        dynamodb, streams, sqs = boto3.client("dynamodb"), boto3.client("dynamodbstreams"), boto3.client("sqs")
        for mapping in self.stack.streams:
            table = self.stack.physical_name(mapping.table)
            arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            queue = sqs.get_queue_url(QueueName=self.stack.physical_name(mapping.on_failure_queue or ""))
            pump = StreamPump(mapping, self.functions[mapping.function], streams, arn, sqs, queue["QueueUrl"], False)
            pump._open_shards()
            self._pumps.append(pump)

    def inject(self, faults: Faults) -> None:
        """Faults (offline/faults.py) in every DynamoDB call of the handlers, in the invocations of
        the ingest path and stream consumers, and in the stream's delivery."""
        from apimeter.dal import dynamo

        faults.install(dynamo.client().meta.events)
        for name in WATCHED:
            faults.guard(self.functions[name], name)
        for pump in self._pumps:
            pump.faults = faults

    def pump(self) -> int:
        """Deliver everything in the stream to its function, as the event source mapping would."""
        total = 0
        while moved := sum(p.poll_once() for p in self._pumps):
            total += moved
        return total

    def run_pipeline(self, payload: dict[str, Any] | None = None) -> Any:
        """Execute the hourly state machine on moto's Step Functions, tasks calling the handlers."""
        from offline import stepfunctions

        if self._machines is None:
            stepfunctions.route_lambda_tasks(self.stack, self.functions)
            self._machines = stepfunctions.StateMachines(self.stack, boto3.client("stepfunctions"))
        return self._machines.run("HourlyPipeline", payload)

    def work(self, queue: str) -> int:
        """Deliver what is in one of the template's queues to its function until it is empty."""
        sqs = boto3.client("sqs")
        mapping = next(m for m in self.stack.queues if m.queue == queue)
        url = sqs.get_queue_url(QueueName=self.stack.physical_name(queue))["QueueUrl"]
        pump = QueuePump(mapping, self.functions[mapping.function], sqs, url, self.stack.arn(queue))
        total = 0
        while moved := pump.poll_once():
            total += moved
        return total

    # flows

    def register(self, email: str = "owner@example.com", organization: str = "Acme") -> dict[str, Any]:
        reply = self.call(
            "POST", "/v1/auth/register", {"email": email, "password": "s3cret-pass!", "organization": organization}
        )
        assert reply.status == 201, reply.body
        session: dict[str, Any] = reply.body
        return session

    def project(self, token: str, name: str = "payments") -> str:
        reply = self.call("POST", "/v1/projects", {"name": name}, token=token)
        assert reply.status == 201, reply.body
        return str(reply.body["id"])

    def key(self, token: str, project_id: str, scopes: tuple[str, ...] = ("track", "read")) -> dict[str, Any]:
        reply = self.call("POST", f"/v1/projects/{project_id}/keys", {"name": "k", "scopes": list(scopes)}, token=token)
        assert reply.status == 201, reply.body
        key: dict[str, Any] = reply.body
        return key


@pytest.fixture
def api(aws: dict[str, Any], stack: Stack) -> Api:
    api = Api(stack)
    api.open_streams()
    return api
