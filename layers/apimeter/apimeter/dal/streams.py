"""DynamoDB stream records, read the same way by every function that consumes the events stream."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import deserialize

Record = dict[str, Any]


def new_image(record: Record) -> dict[str, Any] | None:
    """The item an INSERT record added, decoded (numbers as ``Decimal``); None for MODIFY and REMOVE
    records (rewrites, TTL expiries), which add no event. KeyError when an INSERT carries no image."""
    if record.get("eventName") != "INSERT":
        return None
    return deserialize(record["dynamodb"]["NewImage"])
