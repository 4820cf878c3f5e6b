"""DynamoDB stream records, read the same way by every function that consumes the events stream."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import Item, deserialize

Record = dict[str, Any]


def new_image(record: Record) -> dict[str, Any] | None:
    """The item an INSERT record added, decoded (numbers as ``Decimal``); None for MODIFY and REMOVE
    records (rewrites, TTL expiries), which add no event. KeyError when an INSERT carries no image."""
    image = inserted(record)
    return None if image is None else deserialize(image)


def inserted(record: Record) -> Item | None:
    """The item an INSERT record added as it comes, attribute values (``{"S": ...}``, ``{"N": ...}``):
    for a reader that decodes only what it needs (dal/events.from_image); None and KeyError as
    ``new_image``."""
    if record.get("eventName") != "INSERT":
        return None
    image: Item = record["dynamodb"]["NewImage"]
    return image
