"""The DynamoDB client and attribute (de)serialization, shared by the table modules."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from boto3.dynamodb.types import DYNAMODB_CONTEXT, TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

Item = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


@lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=2,
        read_timeout=5,
        max_pool_connections=32,
    )
    return boto3.client("dynamodb", config=config)


@lru_cache(maxsize=1)
def _probe_client() -> DynamoDBClient:
    # A readiness probe must answer within its deadline: one attempt, short timeouts. Its own
    # session, because probes run side by side and boto3's default session is not thread-safe.
    config = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=1, read_timeout=1)
    return boto3.session.Session().client("dynamodb", config=config)


def ping(table: str) -> str:
    """The table's status (``ACTIVE``, ``UPDATING``, ...) from one DescribeTable, which costs no
    capacity; ``ClientError`` when it does not exist or cannot be reached."""
    return _probe_client().describe_table(TableName=table)["Table"]["TableStatus"]


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
    """DynamoDB attribute values (an item, a stream image) to Python values, numbers as ``Decimal``."""
    return {k: _value(v) for k, v in item.items()}


def _value(attribute: Any) -> Any:
    # Strings and numbers are nearly every attribute read, on the stream's hot path too: taken
    # directly they decode several times faster than through TypeDeserializer's dispatch, to the same values.
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        return DYNAMODB_CONTEXT.create_decimal(attribute["N"])
    return _deserializer.deserialize(attribute)


def as_json(value: Any) -> Any:
    """A deserialized value with its numbers as ints and floats again (DynamoDB gives Decimals)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [as_json(v) for v in value]
    return value


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


@dataclass(slots=True)
class Fetched:
    """What a ``batch_get`` returned, and how many calls it took (read cost is observable)."""

    items: list[Item] = field(default_factory=list)
    calls: int = 0


def batch_get(table: str, keys: list[Item], projection: str | None = None, *, consistent: bool = False) -> Fetched:
    """Items by key, 100 per BatchGetItem, retrying what DynamoDB leaves unprocessed; missing keys
    are simply absent. Items come back as attribute values. ``consistent`` reads strongly
    consistently (twice the read cost): a write acknowledged before the call is seen."""
    fetched = Fetched()
    for start in range(0, len(keys), 100):
        request: dict[str, Any] = {"Keys": keys[start : start + 100]}
        if projection:
            request["ProjectionExpression"] = projection
        if consistent:
            request["ConsistentRead"] = True
        pending: dict[str, Any] = {table: request}
        for attempt in range(8):
            response = client().batch_get_item(RequestItems=pending)
            fetched.calls += 1
            fetched.items.extend(response.get("Responses", {}).get(table, []))
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
            time.sleep(min(1.0, 0.05 * 2**attempt))
        else:
            raise RuntimeError(f"{table}: reads still unprocessed after retries")
    return fetched


def transact_write(items: Sequence[Any]) -> None:
    """One TransactWriteItems, idempotent across the SDK's own retries: a retry after an answer that
    was lost (a timeout) carries the same ClientRequestToken, so DynamoDB answers it as the first
    attempt was answered instead of cancelling it on conditions the first attempt made false."""
    client().transact_write_items(TransactItems=list(items), ClientRequestToken=uuid.uuid4().hex)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="dynamodb")


def side_by_side(call: Callable[[T], R], requests: Sequence[T]) -> list[R]:
    """``call`` on every request, 16 at a time, results in order; the first error propagates.

    For independent single-item writes (conditional puts, commutative ADDs): a batch of 1,000
    costs about as long as ~1,000/16 sequential round trips."""
    if len(requests) == 1:
        return [call(requests[0])]
    return list(_pool().map(call, requests))


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# DynamoDB's answers when a table or partition takes more than it can for now. botocore has already
# retried them by the time they reach our code, so the caller's own retry, later, is what is left.
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


def throttled(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and error_code(exc) in THROTTLING_CODES


def _applied(write: Callable[..., Any], request: dict[str, Any]) -> bool:
    """One conditional write; False when its ``ConditionExpression`` does not hold."""
    try:
        write(**request)
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def update_if(**request: Any) -> bool:
    """One UpdateItem (the request's own keyword arguments) that applies only when its
    ``ConditionExpression`` holds; False when it does not."""
    return _applied(client().update_item, request)


def delete_if(**request: Any) -> bool:
    """One DeleteItem that applies only when its ``ConditionExpression`` holds; False when it does not."""
    return _applied(client().delete_item, request)


def put_if(table: str, item: Item, condition: str = "attribute_not_exists(pk)", values: Item | None = None) -> bool:
    """One PutItem that applies only when ``condition`` holds (by default: no such item yet);
    False when it does not."""
    request: dict[str, Any] = {"TableName": table, "Item": item, "ConditionExpression": condition}
    if values:
        request["ExpressionAttributeValues"] = values
    return _applied(client().put_item, request)
