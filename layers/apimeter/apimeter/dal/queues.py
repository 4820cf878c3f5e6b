"""SQS: the queues that hand work to asynchronous functions."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from apimeter import aws
from apimeter.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@lru_cache(maxsize=1)
def _client() -> SQSClient:
    client: SQSClient = aws.client("sqs")
    return client


def request_purge(tenant_id: str, project_id: str) -> None:
    body: dict[str, Any] = {"tenant_id": tenant_id, "project_id": project_id}
    _client().send_message(QueueUrl=settings().require("purge_queue_url"), MessageBody=json.dumps(body))


def request_export(tenant_id: str, project_id: str, export_id: str) -> None:
    body = {"tenant_id": tenant_id, "project_id": project_id, "export_id": export_id}
    _client().send_message(QueueUrl=settings().require("export_queue_url"), MessageBody=json.dumps(body))
