"""Tenants, and the platform's directory of them."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import client
from apimeter.dal.entities import table, users
from apimeter.domain.accounts import Tenant, User
from apimeter.errors import NotFound


def _tenant_rows(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"pk": f"TENANT#{tenant.id}", "sk": "TENANT", "id": tenant.id, "name": tenant.name, "plan": tenant.plan,
         "status": tenant.status, "created_at": tenant.created_at},
        {"pk": "TENANTS", "sk": f"TENANT#{tenant.id}", "id": tenant.id, "created_at": tenant.created_at},
    ]  # fmt: skip


def create_registration(tenant: Tenant, user: User, password_hash: str) -> None:
    """Tenant, owner and login in one transaction; fails with CONFLICT if the email is taken."""
    rows = _tenant_rows(tenant) + users.user_rows(user, password_hash)
    table.create(rows, "an account with this email already exists")


def list_tenants(limit: int, after: str | None) -> tuple[list[str], str | None]:
    """Tenant ids from the directory, oldest first, a page at a time."""
    kwargs: dict[str, Any] = {
        "TableName": table.name(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "TENANTS"}},
        "Limit": limit,
    }
    if after:
        kwargs["ExclusiveStartKey"] = table.key("TENANTS", f"TENANT#{after}")
    response = client().query(**kwargs)
    ids = [item["id"]["S"] for item in response.get("Items", [])]
    more = response.get("LastEvaluatedKey")
    return ids, (more["sk"]["S"].removeprefix("TENANT#") if more else None)


def update_tenant(tenant_id: str, changes: dict[str, Any]) -> None:
    table.set_attributes(table.key(f"TENANT#{tenant_id}", "TENANT"), changes)


def tenant_of(row: dict[str, Any]) -> Tenant:
    return Tenant(row["id"], row["name"], row["plan"], row["status"], row["created_at"], row.get("limits") or {})


def find_tenant(tenant_id: str) -> Tenant | None:
    """The tenant whatever its status (deleted too), or ``None`` if there is none."""
    row = table.get(f"TENANT#{tenant_id}", "TENANT")
    return tenant_of(row) if row else None


def get_tenant(tenant_id: str) -> Tenant:
    tenant = find_tenant(tenant_id)
    if tenant is None or tenant.status == "deleted":
        raise NotFound("tenant not found")
    return tenant
