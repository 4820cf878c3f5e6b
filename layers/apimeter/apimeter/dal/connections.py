"""WebSocket connections, their subscriptions and each project's push slot, in the entities table.

Keys (pk / sk):
  CONN#<connection id>  / CONN          who connected (the authorizer's principal), the projects
                                        it subscribes to; TTL ``expires_at`` (two hours, the
                                        gateway's own connection limit)
  LIVE#<project id>     / SUB#<conn id> a subscription, found by project with one Query; same TTL
  LIVE#<project id>     / GATE          the project's last push slot and the minutes touched since
Nothing here is read by scanning. TTL deletion lags by up to days, so reads skip expired items.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import client, delete_keys, deserialize, serialize, update_if
from apimeter.settings import settings

GATE_SECONDS = 86_400  # an idle project's slot item goes away after a day


def _table() -> str:
    return settings().require("entities_table")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _connection_key(connection_id: str) -> dict[str, Any]:
    return _key(f"CONN#{connection_id}", "CONN")


def _subscription_key(project_id: str, connection_id: str) -> dict[str, Any]:
    return _key(f"LIVE#{project_id}", f"SUB#{connection_id}")


@dataclass(frozen=True, slots=True)
class Connection:
    connection_id: str
    principal: dict[str, Any]  # Principal.to_context() of whoever connected
    projects: frozenset[str] = field(default_factory=frozenset)
    expires_at: int = 0


def open_connection(connection_id: str, principal: dict[str, Any], connected_at_ms: int, expires_at: int) -> None:
    row = {"principal": principal, "connected_at": connected_at_ms, "expires_at": expires_at}
    item = serialize(row) | _connection_key(connection_id)
    client().put_item(TableName=_table(), Item=item)


def get_connection(connection_id: str) -> Connection | None:
    response = client().get_item(TableName=_table(), Key=_connection_key(connection_id), ConsistentRead=True)
    item = response.get("Item")
    if item is None:
        return None
    row = deserialize(item)
    if int(row["expires_at"]) <= time.time():
        return None
    return Connection(
        connection_id, dict(row["principal"]), frozenset(row.get("projects") or ()), int(row["expires_at"])
    )


def add_subscription(connection: Connection, project_id: str, limit: int) -> bool:
    """Subscribe; False when the connection already watches ``limit`` other projects (or is gone)."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_connection_key(connection.connection_id),
            UpdateExpression="ADD projects :project",
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(projects) OR size(projects) < :limit OR contains(projects, :id))",
            ExpressionAttributeValues={
                ":project": {"SS": [project_id]},
                ":limit": {"N": str(limit)},
                ":id": {"S": project_id},
            },
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        return False
    item = _subscription_key(project_id, connection.connection_id) | {"expires_at": {"N": str(connection.expires_at)}}
    client().put_item(TableName=_table(), Item=item)
    return True


def remove_subscription(connection_id: str, project_id: str) -> None:
    client().delete_item(TableName=_table(), Key=_subscription_key(project_id, connection_id))
    update_if(  # a connection already gone has nothing to remove
        TableName=_table(),
        Key=_connection_key(connection_id),
        UpdateExpression="DELETE projects :project",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":project": {"SS": [project_id]}},
    )


def close_connection(connection_id: str) -> int:
    """Forget a connection and its subscriptions; returns how many subscriptions it had."""
    response = client().delete_item(TableName=_table(), Key=_connection_key(connection_id), ReturnValues="ALL_OLD")
    old = deserialize(response.get("Attributes") or {})
    projects = sorted(old.get("projects") or ())
    return delete_keys(_table(), [_subscription_key(project_id, connection_id) for project_id in projects])


def subscribers(project_id: str) -> list[str]:
    """The live connections subscribed to a project."""
    found: list[str] = []
    request: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sub)",
        "FilterExpression": "expires_at > :now",
        "ProjectionExpression": "sk",
        "ExpressionAttributeValues": {
            ":pk": {"S": f"LIVE#{project_id}"},
            ":sub": {"S": "SUB#"},
            ":now": {"N": str(int(time.time()))},
        },
    }
    while True:
        response = client().query(**request)
        found.extend(item["sk"]["S"].removeprefix("SUB#") for item in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return found
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


# the push slot of a project (see domain/live.py)


def _gate_key(project_id: str) -> dict[str, Any]:
    return _key(f"LIVE#{project_id}", "GATE")


def note_minutes(project_id: str, minutes: set[str]) -> int | None:
    """Record the minutes a batch touched; returns the slot claimed last, seen atomically with them."""
    response = client().update_item(
        TableName=_table(),
        Key=_gate_key(project_id),
        UpdateExpression="ADD minutes :minutes SET expires_at = :expires",
        ExpressionAttributeValues={
            ":minutes": {"SS": sorted(minutes)},
            ":expires": {"N": str(int(time.time()) + GATE_SECONDS)},
        },
        ReturnValues="ALL_NEW",
    )
    slot = response["Attributes"].get("slot")
    return int(slot["N"]) if slot else None


def claim_slot(project_id: str, seen: int | None, slot: int) -> bool:
    """Claim the next push if nobody has claimed one since ``seen`` was read."""
    condition = "attribute_not_exists(slot)" if seen is None else "slot = :seen"
    values: dict[str, Any] = {":slot": {"N": str(slot)}}
    if seen is not None:
        values[":seen"] = {"N": str(seen)}
    return update_if(
        TableName=_table(),
        Key=_gate_key(project_id),
        UpdateExpression="SET slot = :slot",
        ConditionExpression=condition,
        ExpressionAttributeValues=values,
    )


def take_minutes(project_id: str) -> set[str]:
    """The minutes touched since the last push, cleared in the same write."""
    response = client().update_item(
        TableName=_table(),
        Key=_gate_key(project_id),
        UpdateExpression="REMOVE minutes",
        ReturnValues="UPDATED_OLD",
    )
    old = (response.get("Attributes") or {}).get("minutes")
    return set(old["SS"]) if old else set()
