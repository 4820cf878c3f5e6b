"""Item primitives of the entities table, shared by its aggregates' modules."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal import dynamo
from apimeter.dal.dynamo import client, deserialize, serialize, transact_write
from apimeter.errors import Conflict
from apimeter.settings import settings


def name() -> str:
    return settings().require("entities_table")


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def get(pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
    response = client().get_item(TableName=name(), Key=key(pk, sk), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None


def query_prefix(pk: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every item of partition ``pk`` whose sort key starts with ``prefix`` (all of them if none)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": name(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    if prefix:
        kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
        kwargs["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
    while True:
        response = client().query(**kwargs)
        items.extend(deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def batch_get(keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
    return [deserialize(item) for item in dynamo.batch_get(name(), keys, consistent=consistent).items]


def put_new(row: dict[str, Any]) -> dict[str, Any]:
    """A transaction's Put of ``row`` that fails if the item exists."""
    return {"Put": {"TableName": name(), "Item": serialize(row), "ConditionExpression": "attribute_not_exists(pk)"}}


def create(rows: list[dict[str, Any]], conflict: str) -> None:
    """Put new items together, all or none; CONFLICT with ``conflict`` if any exists."""
    try:
        transact_write([put_new(row) for row in rows])
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            raise Conflict(conflict) from exc
        raise


def set_attributes(
    item_key: dict[str, Any],
    changes: dict[str, Any],
    condition: str = "attribute_exists(pk)",
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """One UpdateItem that SETs ``changes`` when ``condition`` holds (by default: the item exists)."""
    placeholders = {f"#f{i}": attribute for i, attribute in enumerate(changes)}
    client().update_item(
        TableName=name(),
        Key=item_key,
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes))),
        ConditionExpression=condition,
        ExpressionAttributeNames={**placeholders, **(names or {})},
        ExpressionAttributeValues=serialize({f":v{i}": v for i, v in enumerate(changes.values())} | (values or {})),
    )
