"""Fixtures: moto resources created from template.yaml's own definitions, and clean caches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from offline import resources
from offline.template import Stack, read_stack

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
    }
)


@pytest.fixture(scope="session")
def stack() -> Stack:
    return read_stack(ROOT)


def reset_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    from apimeter import secrets
    from apimeter.dal import dynamo
    from apimeter.logic import authorization, ingest
    from apimeter.settings import settings

    settings.cache_clear()
    dynamo.client.cache_clear()
    parameters.clear_caches()
    secrets._previous_versions.cache_clear()
    authorization.cache.clear()
    ingest._policies.clear()


@pytest.fixture
def aws(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """moto with the template's tables, secrets and queues, and every function's environment."""
    import boto3
    from moto import mock_aws

    with mock_aws():
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
        yield {"dynamodb": dynamodb, "secrets": secrets, "queues": queues, "stack": stack}
        reset_caches()
