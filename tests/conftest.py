"""Fixtures: moto resources created from template.yaml's own definitions, and clean caches."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from offline import resources
from offline.template import Stack, read_stack
from tests.builders import WebhookReceiver

ROOT = Path(__file__).resolve().parent.parent

# Fail closed: no test may reach a real AWS account, whatever the developer's shell has.
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
    os.environ.pop(_name, None)
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "apimeter",
        "POWERTOOLS_SERVICE_NAME": "apimeter-tests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        # GET /ready's deadline: moto on a busy machine is far slower than DynamoDB, and no test
        # may hang on the clock (the 2 s default is for AWS).
        "READINESS_TIMEOUT_SECONDS": "10",
    }
)


@pytest.fixture(scope="session")
def stack() -> Stack:
    return read_stack(ROOT)


def reset_caches() -> None:
    """What a warm function remembers (clients, settings, caches, leases): forgotten, as by a cold start."""
    from offline import inprocess

    inprocess.fresh()


@pytest.fixture
def aws(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """moto with the template's tables, secrets and queues, and every function's environment."""
    with moto_stack(stack, monkeypatch) as created:
        yield created


@contextmanager
def moto_stack(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """What ``aws`` gives a test, for fixtures of a wider scope (with their own monkeypatch)."""
    import boto3
    from moto import mock_aws
    from moto.core.botocore_stubber import BotocoreStubber

    # DynamoDB applies a conditional write atomically; in-process moto does not across threads.
    # One AWS request at a time, as offline.moto does for the offline stack.
    lock = threading.Lock()
    original = BotocoreStubber.process_request

    def one_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with lock:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_at_a_time)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        for function in stack.functions.values():
            for name, value in function.environment.items():
                if name != "POWERTOOLS_SERVICE_NAME":
                    monkeypatch.setenv(name, value)
        monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        reset_caches()
        dynamodb = boto3.client("dynamodb")
        resources.create_tables(stack, dynamodb)
        secrets = resources.create_secrets(stack, boto3.client("secretsmanager"), {})
        queues = resources.create_queues(stack, boto3.client("sqs"))
        resources.create_buckets(stack, boto3.client("s3"))
        resources.create_alert_channels(stack, boto3.client("sns"), boto3.client("events"))
        yield {"dynamodb": dynamodb, "secrets": secrets, "queues": queues, "stack": stack}
        reset_caches()


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[WebhookReceiver]:
    """A local webhook endpoint, recording each delivery; deliveries may reach loopback while it runs
    (WEBHOOK_ALLOW_PRIVATE, false on AWS), as they may on the offline stack."""
    from apimeter.settings import settings

    monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    settings.cache_clear()
    server = WebhookReceiver()
    yield server
    server.close()
    settings.cache_clear()
