"""API keys: their metadata (listings), the lookup items the authorizer finds them by, and what
the authorizer reads about a key's tenant and project."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import serialize, transact_write
from apimeter.dal.entities import table
from apimeter.dal.entities.holds import holds_of
from apimeter.dal.entities.projects import project_of
from apimeter.dal.entities.tenants import tenant_of
from apimeter.domain.accounts import ApiKey, Project, Tenant
from apimeter.errors import NotFound


@dataclass(frozen=True, slots=True)
class KeyLookup:
    """The authorizer's find by keyed hash: whose key it is, what it may do, and until when
    (epoch seconds; ``None`` for a key that does not expire)."""

    key_id: str
    tenant_id: str
    project_id: str
    scopes: tuple[str, ...]
    valid_until: int | None


@dataclass(frozen=True, slots=True)
class KeyState:
    """A key's tenant and project (whatever their status: the caller judges it), the key's metadata
    when asked for, and the budget holds on the tenant's and the project's rows."""

    tenant: Tenant | None
    project: Project | None
    key: ApiKey | None
    holds: tuple[dict[str, Any], dict[str, Any]]


def _api_key(tenant_id: str, row: dict[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        tenant_id=tenant_id,
        project_id=row["project_id"],
        name=row["name"],
        prefix=row["prefix"],
        scopes=tuple(sorted(row["scopes"])),
        status=row["status"],
        created_at=row["created_at"],
        digest=row["digest"],
        revoked_at=row.get("revoked_at"),
        expires_at=row.get("expires_at_iso"),
        last_used_at=row.get("last_used_at"),
    )


def _lookup_row(key: ApiKey, digest: str, valid_until: int | None) -> dict[str, Any]:
    """The item the authorizer finds a key by (its keyed hash); it expires with the key (TTL)."""
    return {
        "pk": f"APIKEY#{digest}",
        "sk": "APIKEY",
        "key_id": key.id,
        "tenant_id": key.tenant_id,
        "project_id": key.project_id,
        "scopes": set(key.scopes),
        "valid_until": valid_until,
        "expires_at": valid_until,
    }


def _metadata_key(key: ApiKey) -> dict[str, Any]:
    return table.key(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}")


def create_key(key: ApiKey, valid_until: int | None = None) -> None:
    """Metadata for listings, and the lookup item the authorizer reads; ``valid_until`` (epoch
    seconds) is the key's expiry."""
    metadata = {
        "pk": f"TENANT#{key.tenant_id}",
        "sk": f"KEY#{key.project_id}#{key.id}",
        "id": key.id,
        "project_id": key.project_id,
        "name": key.name,
        "prefix": key.prefix,
        "scopes": set(key.scopes),
        "status": key.status,
        "created_at": key.created_at,
        "digest": key.digest,
        "expires_at_iso": key.expires_at,
        "valid_until": valid_until,
    }
    lookup = _lookup_row(key, key.digest, valid_until)
    transact_write([table.put_new(metadata), table.put_new(lookup)])


def list_keys(tenant_id: str, project_id: str) -> list[ApiKey]:
    return [_api_key(tenant_id, row) for row in table.query_prefix(f"TENANT#{tenant_id}", f"KEY#{project_id}#")]


def get_key(tenant_id: str, project_id: str, key_id: str) -> ApiKey:
    row = table.get(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}")
    if row is None:
        raise NotFound("API key not found")
    return _api_key(tenant_id, row)


def revoke_key(key: ApiKey, revoked_at: str) -> None:
    """Mark the key revoked and delete its lookup items (current and, during a rotation's grace
    period, previous) together: the authorizer stops finding it."""
    row = table.get(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}", consistent=True) or {}
    deletes: list[Any] = [
        {"Delete": {"TableName": table.name(), "Key": table.key(f"APIKEY#{digest}", "APIKEY")}}
        for digest in {key.digest, row.get("previous_digest")}
        if digest
    ]
    transact_write(
        [
            {
                "Update": {
                    "TableName": table.name(),
                    "Key": _metadata_key(key),
                    "UpdateExpression": "SET #status = :revoked, revoked_at = :at",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": {":revoked": {"S": "revoked"}, ":at": {"S": revoked_at}},
                }
            },
            *deletes,
        ]
    )


def rotate_key(key: ApiKey, *, new_digest: str, new_prefix: str, grace_until: int, rotated_at: str) -> None:
    """A new secret for the same key; the old secret keeps working until ``grace_until``."""
    row = table.get(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}", consistent=True) or {}
    valid_until = row.get("valid_until")
    old_deadline = min(grace_until, int(valid_until)) if valid_until else grace_until
    lookup = _lookup_row(key, new_digest, valid_until)
    transact_write(
        [
            table.put_new(lookup),
            {
                "Update": {
                    "TableName": table.name(),
                    "Key": table.key(f"APIKEY#{key.digest}", "APIKEY"),
                    "UpdateExpression": "SET valid_until = :until, expires_at = :until",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":until": {"N": str(old_deadline)}},
                }
            },
            {
                "Update": {
                    "TableName": table.name(),
                    "Key": _metadata_key(key),
                    "UpdateExpression": "SET digest = :new, prefix = :prefix, previous_digest = :old, rotated_at = :at",
                    "ConditionExpression": "#status = :active",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": serialize(
                        {
                            ":new": new_digest,
                            ":prefix": new_prefix,
                            ":old": key.digest,
                            ":at": rotated_at,
                            ":active": "active",
                        }
                    ),
                }
            },
        ]
    )


def find_key(digest: str) -> KeyLookup | None:
    """The authorizer's read: the key with this keyed hash, or ``None``.

    The caller checks ``valid_until``: an expired key, or a rotated one past its grace period, is
    refused at once, and DynamoDB's TTL (``expires_at``) removes its lookup item later.
    """
    row = table.get(f"APIKEY#{digest}", "APIKEY")
    if row is None:
        return None
    valid_until = int(row["valid_until"]) if row.get("valid_until") else None
    return KeyLookup(row["key_id"], row["tenant_id"], row["project_id"], tuple(sorted(row["scopes"])), valid_until)


def key_in_use(tenant_id: str, project_id: str, key_id: str, at: str) -> None:
    """Record when a key was last seen. Called once per authorizer cache miss, not per request."""
    try:
        table.set_attributes(table.key(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}"), {"last_used_at": at})
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise


def key_state(tenant_id: str, project_id: str, key_id: str | None = None) -> KeyState:
    """The tenant, the project and (given ``key_id``) a key's metadata in one BatchGetItem: the
    authorizer's read for an API key, and for an access token exchanged from one. The tenant and
    project rows carry the budget holds, so they cost no read of their own."""
    pk = f"TENANT#{tenant_id}"
    wanted = ["TENANT", f"PROJECT#{project_id}"] + ([f"KEY#{project_id}#{key_id}"] if key_id is not None else [])
    rows = {row["sk"]: row for row in table.batch_get([table.key(pk, sk) for sk in wanted])}
    tenant, project = rows.get("TENANT"), rows.get(f"PROJECT#{project_id}")
    key = rows.get(f"KEY#{project_id}#{key_id}") if key_id is not None else None
    return KeyState(
        tenant=tenant_of(tenant) if tenant else None,
        project=project_of(tenant_id, project) if project else None,
        key=_api_key(tenant_id, key) if key else None,
        holds=(holds_of(tenant), holds_of(project)),
    )
