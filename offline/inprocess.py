"""The template's functions and tables in this process: moto in memory, the gateway called directly
(or served on a loopback port), the streams pumped on demand. For tools that drive the real code
with many events and then look at every item: the soak under faults (tools/soak.py) and the cost
model (bench/cost.py). The offline stack (offline/stack.py) is the same code behind real sockets.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@contextlib.contextmanager
def moto(environment: dict[str, str] | None = None, around: Callable[[Any, Any], Any] | None = None) -> Iterator[None]:
    """moto in-process, one request at a time (DynamoDB applies a conditional write atomically),
    with this process's environment and caches restored afterwards. ``environment`` is set for
    the functions; ``around(send, request)``, if given, makes each request to moto (under the
    one-at-a-time lock) by calling ``send(request)``: a meter's place to look before and after."""
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    from offline.moto import install_shortcuts
    from offline.resources import MOTO_CREDENTIAL

    saved = dict(os.environ)
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            if around is None:
                return original(self, request)
            return around(lambda r: original(self, r), request)

    BotocoreStubber.process_request = one_at_a_time  # type: ignore[method-assign]
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": MOTO_CREDENTIAL, "AWS_SECRET_ACCESS_KEY": MOTO_CREDENTIAL,
                       "AWS_DEFAULT_REGION": "us-east-1", "POWERTOOLS_TRACE_DISABLED": "true",
                       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL"})  # fmt: skip
    os.environ.update(environment or {})
    install_shortcuts()  # offline/moto.py: the same answers, faster
    try:
        with mock_aws():
            fresh()
            yield
    finally:
        BotocoreStubber.process_request = original  # type: ignore[method-assign]
        os.environ.clear()
        os.environ.update(saved)
        fresh()


def fresh() -> None:
    from apimeter import secrets
    from apimeter.dal import dynamo, notifications, sockets
    from apimeter.logic import authorization, dimensions, ingest, limits, spend
    from apimeter.settings import settings

    for cached in (settings, dynamo.client, dynamo._probe_client, sockets._client, secrets._client,
                   notifications._sns, notifications._events):  # fmt: skip
        cached.cache_clear()
    secrets.forget()
    for found in (authorization.cache, ingest._policies, dimensions._known, dimensions._full, spend._cache,
                  limits._leases, limits._quota_leases):  # fmt: skip
        found.clear()


class Stack:
    """The template's functions behind the local gateway, its tables on moto, the stream pumped on
    demand. ``environment`` overrides what the template gives the functions."""

    def __init__(self, environment: dict[str, str] | None = None) -> None:
        import boto3

        from offline import resources
        from offline.gateway import Gateway
        from offline.lambdas import load_all
        from offline.streams import StreamPump
        from offline.template import read_stack

        overrides = dict(environment or {})
        self.stack = read_stack(ROOT)
        for function in self.stack.functions.values():
            environment = {k: v for k, v in function.environment.items() if k != "POWERTOOLS_SERVICE_NAME"}
            os.environ.update(environment)
        os.environ.update(overrides)
        fresh()
        self.dynamodb = boto3.client("dynamodb")
        resources.create_tables(self.stack, self.dynamodb)
        resources.create_secrets(self.stack, boto3.client("secretsmanager"), {})
        sqs = boto3.client("sqs")
        self.queues = resources.create_queues(self.stack, sqs)
        resources.create_buckets(self.stack, boto3.client("s3"))
        resources.create_alert_channels(self.stack, boto3.client("sns"), boto3.client("events"))
        self.functions = load_all(self.stack)
        for running in self.functions.values():
            running.invoke = _unmetered(running.invoke)  # type: ignore[method-assign,assignment]
        self.gateway = Gateway(self.stack, self.functions)
        self.pumps = []
        streams = boto3.client("dynamodbstreams")
        for mapping in self.stack.streams:
            table = self.stack.physical_name(mapping.table)
            arn = self.dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
            queue = self.queues.get(mapping.on_failure_queue or "")
            # Everything is in the stream when it is pumped: no batching window to wait out.
            eager = dataclasses.replace(mapping, window_seconds=0)
            pump = StreamPump(eager, self.functions[mapping.function], streams, arn, sqs, queue, False)
            pump._open_shards()
            self.pumps.append(pump)

    def call(self, method: str, path: str, body: Any = None, **credentials: str) -> tuple[int, dict[str, str], Any]:
        """One request through the gateway: (status, lower-cased headers, decoded body)."""
        headers = {"host": "127.0.0.1", "user-agent": "apimeter-inprocess", "content-type": "application/json"}
        if "token" in credentials:
            headers["authorization"] = f"Bearer {credentials['token']}"
        if "key" in credentials:
            headers["x-api-key"] = credentials["key"]
        raw = json.dumps(body).encode() if body is not None else b""
        status, out, _, payload = self.gateway.handle(method, path, headers, raw, "127.0.0.1", "127.0.0.1")
        return status, {k.lower(): v for k, v in out.items()}, json.loads(payload) if payload else None

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        """The gateway on a loopback port for as long as the block runs; yields its base URL."""
        from offline.gateway import serve

        server = serve(self.gateway, 0)
        thread = threading.Thread(target=server.serve_forever, name="inprocess-http", daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def pump(self) -> int:
        total = 0
        while moved := sum(p.poll_once() for p in self.pumps):
            total += moved
        return total

    def items(self, logical_id: str) -> Iterator[dict[str, Any]]:
        """Every item of a table, read from moto's memory (a Scan through moto would take minutes)."""
        from apimeter.dal.dynamo import deserialize

        table = moto_table(self.stack.physical_name(logical_id))
        for value in list(table.items.values()):
            for item in list(value.values()) if table.range_key_attr else [value]:
                yield deserialize(item.to_json()["Attributes"])


def _unmetered(invoke: Callable[[dict[str, Any]], Any]) -> Callable[[dict[str, Any]], Any]:
    """An invocation whose CloudWatch metrics are dropped afterwards. They are off here, but
    Powertools still prints a metric's values once it holds 100 of them, as EMF on stdout."""
    from apimeter.observability import metrics

    def invoked(event: dict[str, Any]) -> Any:
        try:
            return invoke(event)
        finally:
            metrics.clear_metrics()

    return invoked


def moto_table(name: str) -> Any:
    """moto's own table of that name (its items in memory, no request made)."""
    from moto.dynamodb.models import dynamodb_backends

    return next(b.tables[name] for r in dynamodb_backends.values() for b in r.values() if name in b.tables)
