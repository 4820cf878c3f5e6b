"""The DynamoDB client and attribute (de)serialization, shared by the table modules."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError

from apimeter import aws

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# DynamoDB's numbers: 38 significant digits, exponents from -130 to 125. A number that does not fit
# exactly is refused rather than rounded: a count or a cost must be stored as it is or not at all.
NUMBERS = Context(
    prec=38, rounding=ROUND_HALF_EVEN, Emin=-128, Emax=126, traps=[Clamped, Overflow, Inexact, Rounded, Underflow]
)

Item = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")


@lru_cache(maxsize=1)
def client() -> DynamoDBClient:
    retries = {"mode": "standard", "max_attempts": 5}
    client: DynamoDBClient = aws.client(
        "dynamodb", retries=retries, connect_timeout=2, read_timeout=5, max_pool_connections=32
    )
    return client


@lru_cache(maxsize=1)
def _probe_client() -> DynamoDBClient:
    # A readiness probe must answer within its deadline: one attempt, short timeouts.
    retries = {"mode": "standard", "total_max_attempts": 1}
    client: DynamoDBClient = aws.client("dynamodb", retries=retries, connect_timeout=1, read_timeout=1)
    return client


def ping(table: str) -> str:
    """The table's status (``ACTIVE``, ``UPDATING``, ...) from one DescribeTable, which costs no
    capacity; ``ClientError`` when it does not exist or cannot be reached."""
    return _probe_client().describe_table(TableName=table)["Table"]["TableStatus"]


def serialize(item: Mapping[str, Any]) -> Item:
    """Python values to DynamoDB attribute values; ``None`` values are left out. Floats are stored
    as the decimal they print as (0.1 as 0.1), so what a client sent is what is kept."""
    return {k: serialize_value(v) for k, v in item.items() if v is not None}


def serialize_value(value: Any) -> Any:
    """One Python value as a DynamoDB attribute value: str S, int/Decimal/float N, bool BOOL, None
    NULL, bytes B, mapping M, list/tuple L, set SS/NS/BS. Other types raise ``TypeError``."""
    if value is None:
        return {"NULL": True}
    if value is True or value is False:
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, (bytes, bytearray)):
        return {"B": bytes(value)}
    if isinstance(value, Mapping):
        return {"M": {k: serialize_value(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return {"L": [serialize_value(v) for v in value]}
    if isinstance(value, (set, frozenset)) and value:
        return _set(value)
    raise TypeError(f"no DynamoDB type for {type(value).__name__} {value!r:.80}")


def _set(value: set[Any] | frozenset[Any]) -> Any:
    if all(isinstance(v, str) for v in value):
        return {"SS": sorted(value)}
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in value):
        return {"NS": [_number(v) for v in value]}
    if all(isinstance(v, (bytes, bytearray)) for v in value):
        return {"BS": [bytes(v) for v in value]}
    raise TypeError(f"no DynamoDB set of {sorted({type(v).__name__ for v in value})}")


def _number(value: int | float | Decimal) -> str:
    exact = NUMBERS.create_decimal(repr(value) if isinstance(value, float) else value)
    if not exact.is_finite():
        raise TypeError("DynamoDB stores no Infinity or NaN")
    return str(exact)


def deserialize(item: Item) -> dict[str, Any]:
    """DynamoDB attribute values (an item, a stream image) to Python values, numbers as ``Decimal``."""
    return {k: deserialize_value(v) for k, v in item.items()}


def deserialize_value(attribute: Any) -> Any:
    """One attribute value as a Python value: the inverse of ``serialize_value`` (numbers as ``Decimal``)."""
    # Strings and numbers are nearly every attribute read, on the stream's hot path too: first.
    if "S" in attribute:
        return attribute["S"]
    if "N" in attribute:
        return NUMBERS.create_decimal(attribute["N"])
    (kind, found), *_ = attribute.items()
    if kind == "M":
        return {k: deserialize_value(v) for k, v in found.items()}
    if kind == "L":
        return [deserialize_value(v) for v in found]
    if kind in ("BOOL", "B"):
        return found
    if kind == "NULL":
        return None
    if kind in {"SS", "BS"}:
        return set(found)
    if kind == "NS":
        return {NUMBERS.create_decimal(n) for n in found}
    raise TypeError(f"unknown DynamoDB attribute type {kind}")


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


# DynamoDB's answers when a table or partition takes more than it can for now. botocore has already
# retried them by the time they reach our code, so the caller's own retry, later, is what is left.
THROTTLING_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"})


def throttled(exc: BaseException) -> bool:
    return isinstance(exc, ClientError) and aws.error_code(exc) in THROTTLING_CODES


def _applied(write: Callable[..., Any], request: dict[str, Any]) -> bool:
    """One conditional write; False when its ``ConditionExpression`` does not hold."""
    try:
        write(**request)
    except ClientError as exc:
        if aws.error_code(exc) != "ConditionalCheckFailedException":
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
