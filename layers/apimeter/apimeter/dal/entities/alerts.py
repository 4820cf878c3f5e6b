"""Fired budget alerts, with the deliveries each still owes, and the outbox that lists those."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from apimeter.dal.dynamo import as_json, client, deserialize, put_if, serialize
from apimeter.dal.entities import table
from apimeter.errors import Conflict


@dataclass(frozen=True, slots=True)
class StoredAlert:
    """An alert as fired (its payload, numbers as JSON numbers), the channels it still owes a
    delivery (sorted) and when each delivery was made (or ``"dropped"``)."""

    body: dict[str, Any]
    pending: tuple[str, ...]
    delivered: dict[str, str]


class OutboxEntry(NamedTuple):
    tenant_id: str
    alert_id: str


def _alert(row: dict[str, Any]) -> StoredAlert:
    return StoredAlert(as_json(row["body"]), tuple(sorted(row.get("pending") or ())), dict(row.get("delivered") or {}))


def record_alert(tenant_id: str, alert_id: str, body: dict[str, Any], channels: list[str]) -> bool:
    """Keep an alert the first time it fires, with the deliveries it still needs (an outbox entry);
    False when it fired before. The alert and its outbox entry are one conditional transaction:
    retries and concurrent evaluators agree, and an invocation ended between two writes cannot
    leave an alert that no delivery run would find."""
    row = {"pk": f"TENANT#{tenant_id}", "sk": f"ALERT#{alert_id}", "body": body, "pending": set(channels) or None,
           "delivered": {}}  # fmt: skip
    if not channels:
        return put_if(table.name(), serialize(row))
    try:
        table.create([row, {"pk": "OUTBOX", "sk": f"{tenant_id}#{alert_id}"}], "the alert fired before")
    except Conflict:
        return False
    return True


def list_alerts(tenant_id: str, budget_id: str, limit: int) -> list[StoredAlert]:
    """A budget's alerts, newest period first."""
    response = client().query(
        TableName=table.name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": f"ALERT#{budget_id}#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_alert(deserialize(item)) for item in response.get("Items", [])]


def outbox() -> list[OutboxEntry]:
    """Every alert with deliveries still to make."""
    return [OutboxEntry(*row["sk"].split("#", 1)) for row in table.query_prefix("OUTBOX")]


def drop_outbox(tenant_id: str, alert_id: str) -> None:
    client().delete_item(TableName=table.name(), Key=table.key("OUTBOX", f"{tenant_id}#{alert_id}"))


def pending_alert(tenant_id: str, alert_id: str) -> StoredAlert | None:
    row = table.get(f"TENANT#{tenant_id}", f"ALERT#{alert_id}", consistent=True)
    return _alert(row) if row else None


def delivered(tenant_id: str, alert_id: str, channel: str, at: str) -> None:
    """Mark one delivery made; the outbox entry goes with the last."""
    response = client().update_item(
        TableName=table.name(),
        Key=table.key(f"TENANT#{tenant_id}", f"ALERT#{alert_id}"),
        UpdateExpression="DELETE pending :channel SET delivered.#channel = :at",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#channel": channel},
        ExpressionAttributeValues=serialize({":channel": {channel}, ":at": at}),
        ReturnValues="ALL_NEW",
    )
    if not deserialize(response["Attributes"]).get("pending"):
        client().delete_item(TableName=table.name(), Key=table.key("OUTBOX", f"{tenant_id}#{alert_id}"))
