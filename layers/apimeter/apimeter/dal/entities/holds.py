"""Budget holds: attributes of a project's row (or, tenant-wide, the tenant's) that throttle or
suspend its keys; the authorizer reads them with the rows it reads anyway."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import client
from apimeter.dal.entities import table
from apimeter.domain.budgets.holds import HOLD_PREFIX


def holds_of(row: dict[str, Any] | None) -> dict[str, Any]:
    """The hold attributes of a project or tenant row (``hold#<budget id>`` -> hold), if any."""
    return {name: value for name, value in (row or {}).items() if name.startswith(HOLD_PREFIX)}


def set_hold(tenant_id: str, project_id: str | None, budget_id: str, hold: dict[str, Any]) -> None:
    """Put a budget's hold on its project's keys (or, tenant-wide, on every key of the tenant)."""
    sk = f"PROJECT#{project_id}" if project_id else "TENANT"
    table.set_attributes(table.key(f"TENANT#{tenant_id}", sk), {f"{HOLD_PREFIX}{budget_id}": hold})


def clear_hold(tenant_id: str, project_id: str | None, budget_id: str) -> None:
    sk = f"PROJECT#{project_id}" if project_id else "TENANT"
    client().update_item(
        TableName=table.name(),
        Key=table.key(f"TENANT#{tenant_id}", sk),
        UpdateExpression="REMOVE #hold",
        ExpressionAttributeNames={"#hold": f"{HOLD_PREFIX}{budget_id}"},
    )
