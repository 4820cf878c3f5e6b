"""Export jobs: their request, status and progress checkpoint."""

from __future__ import annotations

from typing import Any

from apimeter.dal.dynamo import client, deserialize, serialize
from apimeter.dal.entities import table
from apimeter.domain.exports import Export
from apimeter.errors import NotFound

_EXPORT_FIELDS = ("rows", "bytes", "parts", "upload_id", "cursor", "finished_at", "error")


def _export(row: dict[str, Any]) -> Export:
    optional = {name: row[name] for name in _EXPORT_FIELDS if name in row}
    for name in ("rows", "bytes", "parts"):
        if name in optional:
            optional[name] = int(optional[name])
    return Export(
        id=row["id"],
        tenant_id=row["pk"].removeprefix("TENANT#"),
        project_id=row["project_id"],
        start_ms=int(row["start_ms"]),
        end_ms=int(row["end_ms"]),
        format=row["format"],
        filters={k: int(v) if k == "status" else str(v) for k, v in (row.get("filters") or {}).items()},
        status=row["status"],
        created_at=row["created_at"],
        **optional,
    )


def create_export(export: Export, expires_at: int) -> None:
    row = {
        "pk": f"TENANT#{export.tenant_id}",
        "sk": f"EXPORT#{export.project_id}#{export.id}",
        "id": export.id,
        "project_id": export.project_id,
        "start_ms": export.start_ms,
        "end_ms": export.end_ms,
        "format": export.format,
        "filters": export.filters,
        "status": export.status,
        "created_at": export.created_at,
        "expires_at": expires_at,
    }
    client().put_item(TableName=table.name(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")


def get_export(tenant_id: str, project_id: str, export_id: str) -> Export:
    row = table.get(f"TENANT#{tenant_id}", f"EXPORT#{project_id}#{export_id}", consistent=True)
    if row is None:
        raise NotFound("export not found")
    return _export(row)


def list_exports(tenant_id: str, project_id: str, limit: int) -> list[Export]:
    """A project's exports, newest first (their ids sort by creation time)."""
    response = client().query(
        TableName=table.name(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": f"EXPORT#{project_id}#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_export(deserialize(item)) for item in response.get("Items", [])]


def update_export(export: Export, changes: dict[str, Any]) -> None:
    """Record an export's progress or outcome."""
    table.set_attributes(table.key(f"TENANT#{export.tenant_id}", f"EXPORT#{export.project_id}#{export.id}"), changes)
