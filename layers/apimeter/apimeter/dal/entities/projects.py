"""Projects of a tenant, and the purge of what a deleted project leaves in the table."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import client, delete_keys, serialize
from apimeter.dal.entities import budgets, table
from apimeter.domain.accounts import Pricing, Project
from apimeter.errors import NotFound


def project_of(tenant_id: str, row: dict[str, Any]) -> Project:
    pricing = row.get("pricing") or {}
    return Project(
        id=row["id"],
        tenant_id=tenant_id,
        name=row["name"],
        retention_days=int(row["retention_days"]),
        created_at=row["created_at"],
        ip_privacy=row.get("ip_privacy", "full"),
        timezone=row.get("timezone", "UTC"),
        pricing=Pricing(
            currency=pricing.get("currency", "USD"),
            per_request=float(pricing.get("per_request", 0)),
            per_gb_out=float(pricing.get("per_gb_out", 0)),
            per_endpoint=tuple((p["pattern"], float(p["per_request"])) for p in pricing.get("per_endpoint") or ()),
        ),
        limits={k: int(v) for k, v in (row.get("limits") or {}).items()},
        status=row.get("status", "active"),
        ip_salt=row.get("ip_salt", ""),
    )


def create_project(project: Project) -> None:
    row = {
        "pk": f"TENANT#{project.tenant_id}",
        "sk": f"PROJECT#{project.id}",
        "id": project.id,
        "name": project.name,
        "retention_days": project.retention_days,
        "created_at": project.created_at,
        "ip_privacy": project.ip_privacy,
        "timezone": project.timezone,
        "status": project.status,
        "ip_salt": project.ip_salt,
    }
    client().put_item(TableName=table.name(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")


def list_projects(tenant_id: str) -> list[Project]:
    rows = table.query_prefix(f"TENANT#{tenant_id}", "PROJECT#")
    return [project_of(tenant_id, row) for row in rows if row.get("status", "active") == "active"]


def get_project(tenant_id: str, project_id: str) -> Project:
    row = table.get(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")
    if row is None or row.get("status", "active") != "active":
        raise NotFound("project not found")
    return project_of(tenant_id, row)


def find_project(tenant_id: str, project_id: str) -> Project | None:
    """The project whatever its status (being deleted too), read strongly consistently; ``None``
    once it is purged."""
    row = table.get(f"TENANT#{tenant_id}", f"PROJECT#{project_id}", consistent=True)
    return project_of(tenant_id, row) if row else None


def _pricing_row(pricing: Pricing) -> dict[str, Any]:
    return {
        "currency": pricing.currency,
        "per_request": pricing.per_request,
        "per_gb_out": pricing.per_gb_out,
        "per_endpoint": [{"pattern": pattern, "per_request": price} for pattern, price in pricing.per_endpoint],
    }


def update_project(tenant_id: str, project_id: str, changes: dict[str, Any]) -> None:
    """Change an active project; NOT_FOUND once it is being deleted."""
    row = {name: _pricing_row(value) if isinstance(value, Pricing) else value for name, value in changes.items()}
    try:
        table.set_attributes(
            table.key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}"),
            row,
            "attribute_exists(pk) AND (attribute_not_exists(#status) OR #status = :active)",
            names={"#status": "status"},
            values={":active": "active"},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise NotFound("project not found") from exc
        raise


def mark_project_deleting(tenant_id: str, project_id: str, at: str) -> None:
    update_project(tenant_id, project_id, {"status": "deleting", "deleted_at": at})


def purge_project_entities(tenant_id: str, project_id: str) -> int:
    """Delete a project's keys (metadata and lookups), its counters and, last, the project."""
    pk = f"TENANT#{tenant_id}"
    keys: list[dict[str, Any]] = []
    for row in table.query_prefix(pk, f"KEY#{project_id}#"):
        keys.append(table.key(row["pk"], row["sk"]))
        keys.extend(table.key(f"APIKEY#{d}", "APIKEY") for d in {row.get("digest"), row.get("previous_digest")} if d)
    keys.extend(table.key(row["pk"], row["sk"]) for row in table.query_prefix(pk, f"EXPORT#{project_id}#"))
    keys.append(table.key(pk, f"FORECAST#{project_id}"))
    for budget in budgets.list_budgets(tenant_id, project_id):
        keys.append(table.key(pk, f"BUDGET#{budget.id}"))
        keys.extend(budgets.alert_keys(tenant_id, budget.id))
    for counters in (f"QUOTA#{project_id}", f"RATE#project#{project_id}"):
        keys.extend(table.key(row["pk"], row["sk"]) for row in table.query_prefix(counters))
    deleted = delete_keys(table.name(), keys)
    return deleted + delete_keys(table.name(), [table.key(pk, f"PROJECT#{project_id}")])
