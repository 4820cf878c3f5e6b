"""Budgets, and each one's spend in a period as the stream counts it."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import client, delete_keys, deserialize, put_if, serialize
from apimeter.dal.entities import table
from apimeter.domain.budgets.rules import Budget, Channels, Threshold, Webhook
from apimeter.errors import Conflict, NotFound


def _budget_row(budget: Budget) -> dict[str, Any]:
    return {
        "pk": f"TENANT#{budget.tenant_id}",
        "sk": f"BUDGET#{budget.id}",
        "id": budget.id,
        "project_id": budget.project_id or "",
        "name": budget.name,
        "amount": budget.amount,
        "period": budget.period,
        "metric": budget.metric,
        "timezone": budget.timezone,
        "currency": budget.currency,
        "key_id": budget.key_id,
        "created_at": budget.created_at,
        "thresholds": [
            {"percent": t.percent, "on": t.on, "probability": t.probability, "action": t.action}
            for t in budget.thresholds
        ],
        "channels": {
            "sns": budget.channels.sns,
            "eventbridge": budget.channels.eventbridge,
            "webhooks": [{"url": w.url, "secret": w.secret} for w in budget.channels.webhooks],
        },
    }


def _budget(tenant_id: str, row: dict[str, Any]) -> Budget:
    channels = row["channels"]
    return Budget(
        id=row["id"],
        tenant_id=tenant_id,
        project_id=row["project_id"] or None,
        name=row["name"],
        amount=float(row["amount"]),
        period=row["period"],
        metric=row["metric"],
        timezone=row["timezone"],
        thresholds=tuple(
            Threshold(float(t["percent"]), t["on"], float(t["probability"]), t["action"]) for t in row["thresholds"]
        ),
        channels=Channels(
            bool(channels["sns"]),
            bool(channels["eventbridge"]),
            tuple(Webhook(w["url"], w["secret"]) for w in channels["webhooks"]),
        ),
        created_at=row["created_at"],
        key_id=row.get("key_id"),
        currency=row.get("currency", "USD"),
    )


def put_budget(budget: Budget, *, new: bool) -> None:
    """Create a budget, or replace an existing one whole (NOT_FOUND if it is gone)."""
    condition = "attribute_not_exists(pk)" if new else "attribute_exists(pk)"
    if not put_if(table.name(), serialize(_budget_row(budget)), condition):
        raise Conflict("budget exists") if new else NotFound("budget not found")


def get_budget(tenant_id: str, budget_id: str) -> Budget:
    row = table.get(f"TENANT#{tenant_id}", f"BUDGET#{budget_id}", consistent=True)
    if row is None:
        raise NotFound("budget not found")
    return _budget(tenant_id, row)


def list_budgets(tenant_id: str, project_id: str | None = None) -> list[Budget]:
    """A tenant's budgets, oldest first: all of them, or those of one project (``project_id``)."""
    budgets = [_budget(tenant_id, row) for row in table.query_prefix(f"TENANT#{tenant_id}", "BUDGET#")]
    return budgets if project_id is None else [b for b in budgets if b.project_id == project_id]


def alert_keys(tenant_id: str, budget_id: str) -> list[dict[str, Any]]:
    """The keys of a budget's alert history."""
    rows = table.query_prefix(f"TENANT#{tenant_id}", f"ALERT#{budget_id}#")
    return [table.key(row["pk"], row["sk"]) for row in rows]


def delete_budget(tenant_id: str, budget_id: str) -> None:
    """Delete a budget and its alert history (its hold on keys is cleared by the caller)."""
    keys = alert_keys(tenant_id, budget_id)
    delete_keys(table.name(), [*keys, table.key(f"TENANT#{tenant_id}", f"BUDGET#{budget_id}")])


def add_spend(budget_id: str, period_label: str, amount: float, expires_at: int) -> float:
    """Add to a budget's spend in a period; returns the new total."""
    response = client().update_item(
        TableName=table.name(),
        Key=table.key(f"SPEND#{budget_id}", period_label),
        UpdateExpression="ADD spent :amount SET expires_at = :expires",
        ExpressionAttributeValues=serialize({":amount": amount, ":expires": expires_at}),
        ReturnValues="UPDATED_NEW",
    )
    return float(deserialize(response["Attributes"])["spent"])
