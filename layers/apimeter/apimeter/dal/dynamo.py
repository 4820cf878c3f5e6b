"""The DynamoDB client and attribute (de)serialization, shared by the table modules."""

from __future__ import annotations

import time
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]


@lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=32,
    )
    return boto3.client("dynamodb", config=config)


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def serialize(item: dict[str, Any]) -> Item:
    """Python values to DynamoDB attribute values; ``None`` values are left out."""
    return {k: _serializer.serialize(_plain(v)) for k, v in item.items() if v is not None}


def deserialize(item: Item) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def delete_keys(table: str, keys: list[Item]) -> int:
    """Delete items by key, 25 per BatchWriteItem; returns how many."""
    return batch_write(table, [{"DeleteRequest": {"Key": key}} for key in keys])


def batch_write(table: str, requests: list[dict[str, Any]]) -> int:
    """Put/delete requests, 25 per BatchWriteItem, retrying what DynamoDB leaves unprocessed."""
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {table: requests[start : start + 25]}
        for attempt in range(8):
            response = client().batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"{table}: writes still unprocessed after retries")
    return len(requests)


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
