"""The entities table: tenants, users, projects, API keys and sessions, one partition per tenant.

Keys (pk / sk):
  TENANT#<tid>        / TENANT                 the tenant
  TENANT#<tid>        / USER#<uid>             a user of the tenant
  TENANT#<tid>        / PROJECT#<pid>          a project
  TENANT#<tid>        / KEY#<pid>#<kid>        an API key's metadata (listing)
  EMAIL#<email>       / LOGIN                  login lookup: user, tenant and password hash
  APIKEY#<digest>     / APIKEY                 authorizer lookup by keyed hash, one GetItem
  REFRESH#<hash>      / REFRESH                a refresh token (TTL ``expires_at``)
  FAMILY#<fid>        / FAMILY                 a login's session family: every refresh descends from it
  REVOKED#<jti>       / REVOKED                a revoked access token, until it would have expired (TTL)
  TENANTS             / TENANT#<tid>           the platform's tenant directory (admin listing, paginated)
  TENANT#<tid>        / EXPORT#<pid>#<eid>     an export job: status, progress checkpoint (TTL ``expires_at``)
  TENANT#<tid>        / FORECAST#<pid>         a project's latest forecast (its outlook, as JSON)
Every read of tenant data goes through a key that starts with the caller's tenant id, so a request
cannot reach another tenant's items by guessing ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apimeter.dal.dynamo import batch_get, client, delete_keys, deserialize, error_code, serialize
from apimeter.domain.accounts import ApiKey, Pricing, Project, Tenant, User
from apimeter.domain.exports import Export
from apimeter.errors import Conflict, NotFound
from apimeter.settings import settings


def _table() -> str:
    return settings().require("entities_table")


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _get(pk: str, sk: str, consistent: bool = False) -> dict[str, Any] | None:
    response = client().get_item(TableName=_table(), Key=_key(pk, sk), ConsistentRead=consistent)
    item = response.get("Item")
    return deserialize(item) if item else None


def _query_prefix(pk: str, prefix: str = "") -> list[dict[str, Any]]:
    """Every item of partition ``pk`` whose sort key starts with ``prefix`` (all of them if none)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": pk}},
    }
    if prefix:
        kwargs["KeyConditionExpression"] += " AND begins_with(sk, :prefix)"
        kwargs["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
    while True:
        response = client().query(**kwargs)
        items.extend(deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _put(row: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": _table(), "Item": serialize(row), "ConditionExpression": "attribute_not_exists(pk)"}}


# tenants and users


def _set(
    key: dict[str, Any],
    changes: dict[str, Any],
    condition: str = "attribute_exists(pk)",
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> None:
    """One UpdateItem that SETs ``changes`` when ``condition`` holds (by default: the item exists)."""
    placeholders = {f"#f{i}": name for i, name in enumerate(changes)}
    client().update_item(
        TableName=_table(),
        Key=key,
        UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(changes))),
        ConditionExpression=condition,
        ExpressionAttributeNames={**placeholders, **(names or {})},
        ExpressionAttributeValues=serialize({f":v{i}": v for i, v in enumerate(changes.values())} | (values or {})),
    )


def _tenant_rows(tenant: Tenant) -> list[dict[str, Any]]:
    return [
        {"pk": f"TENANT#{tenant.id}", "sk": "TENANT", "id": tenant.id, "name": tenant.name, "plan": tenant.plan,
         "status": tenant.status, "created_at": tenant.created_at},
        {"pk": "TENANTS", "sk": f"TENANT#{tenant.id}", "id": tenant.id, "created_at": tenant.created_at},
    ]  # fmt: skip


def _user_rows(user: User, password_hash: str) -> list[dict[str, Any]]:
    return [
        {"pk": f"EMAIL#{user.email}", "sk": "LOGIN", "user_id": user.id, "tenant_id": user.tenant_id,
         "password_hash": password_hash},
        {"pk": f"TENANT#{user.tenant_id}", "sk": f"USER#{user.id}", "id": user.id, "email": user.email,
         "role": user.role, "created_at": user.created_at},
    ]  # fmt: skip


def _create(rows: list[dict[str, Any]], conflict: str) -> None:
    try:
        client().transact_write_items(TransactItems=[_put(row) for row in rows])  # type: ignore[misc]
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            raise Conflict(conflict) from exc
        raise


def create_registration(tenant: Tenant, user: User, password_hash: str) -> None:
    """Tenant, owner and login in one transaction; fails with CONFLICT if the email is taken."""
    _create(_tenant_rows(tenant) + _user_rows(user, password_hash), "an account with this email already exists")


def create_user(user: User, password_hash: str) -> None:
    _create(_user_rows(user, password_hash), "an account with this email already exists")


def user_of(tenant_id: str, row: dict[str, Any]) -> User:
    return User(row["id"], tenant_id, row["email"], row["role"], row["created_at"])


def list_users(tenant_id: str) -> list[User]:
    return [user_of(tenant_id, row) for row in _query_prefix(f"TENANT#{tenant_id}", "USER#")]


def set_role(tenant_id: str, user_id: str, role: str) -> None:
    _set(_key(f"TENANT#{tenant_id}", f"USER#{user_id}"), {"role": role})


def set_platform_admin(tenant_id: str, user_id: str) -> None:
    _set(_key(f"TENANT#{tenant_id}", f"USER#{user_id}"), {"platform_admin": True})


def delete_user(user: User) -> None:
    client().transact_write_items(
        TransactItems=[
            {"Delete": {"TableName": _table(), "Key": _key(f"TENANT#{user.tenant_id}", f"USER#{user.id}")}},
            {"Delete": {"TableName": _table(), "Key": _key(f"EMAIL#{user.email}", "LOGIN")}},
        ]
    )


def list_tenants(limit: int, after: str | None) -> tuple[list[str], str | None]:
    """Tenant ids from the directory, oldest first, a page at a time."""
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": "TENANTS"}},
        "Limit": limit,
    }
    if after:
        kwargs["ExclusiveStartKey"] = _key("TENANTS", f"TENANT#{after}")
    response = client().query(**kwargs)
    ids = [item["id"]["S"] for item in response.get("Items", [])]
    more = response.get("LastEvaluatedKey")
    return ids, (more["sk"]["S"].removeprefix("TENANT#") if more else None)


def update_tenant(tenant_id: str, changes: dict[str, Any]) -> None:
    _set(_key(f"TENANT#{tenant_id}", "TENANT"), changes)


def get_login(email: str) -> dict[str, Any] | None:
    return _get(f"EMAIL#{email}", "LOGIN", consistent=True)


def set_password_hash(email: str, password_hash: str) -> None:
    _set(_key(f"EMAIL#{email}", "LOGIN"), {"password_hash": password_hash})


def tenant_and_project(tenant_id: str, project_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """A tenant and one of its projects in one BatchGetItem (the authorizer's read for API keys)."""
    rows = {
        row["sk"]: row
        for row in _batch_get(
            [_key(f"TENANT#{tenant_id}", "TENANT"), _key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")]
        )
    }
    return rows.get("TENANT"), rows.get(f"PROJECT#{project_id}")


def get_tenant_row(tenant_id: str) -> dict[str, Any] | None:
    return _get(f"TENANT#{tenant_id}", "TENANT")


def tenant_of(row: dict[str, Any]) -> Tenant:
    return Tenant(row["id"], row["name"], row["plan"], row["status"], row["created_at"], row.get("limits") or {})


def get_tenant(tenant_id: str) -> Tenant:
    row = get_tenant_row(tenant_id)
    if row is None or row.get("status") == "deleted":
        raise NotFound("tenant not found")
    return tenant_of(row)


def get_user(tenant_id: str, user_id: str) -> User:
    row = _get(f"TENANT#{tenant_id}", f"USER#{user_id}")
    if row is None:
        raise NotFound("user not found")
    return user_of(tenant_id, row)


def start_family(family: str, *, user_id: str, tenant_id: str, expires_at: int) -> None:
    row: dict[str, Any] = {"pk": f"FAMILY#{family}", "sk": "FAMILY", "user_id": user_id, "tenant_id": tenant_id}
    row.update({"status": "active", "expires_at": expires_at})
    client().put_item(TableName=_table(), Item=serialize(row))


def put_refresh_token(token_hash: str, *, user_id: str, tenant_id: str, family: str, expires_at: int) -> None:
    row: dict[str, Any] = {"pk": f"REFRESH#{token_hash}", "sk": "REFRESH", "user_id": user_id, "tenant_id": tenant_id}
    row.update({"family": family, "expires_at": expires_at})
    client().put_item(TableName=_table(), Item=serialize(row))


def get_refresh_token(token_hash: str) -> dict[str, Any] | None:
    return _get(f"REFRESH#{token_hash}", "REFRESH", consistent=True)


def spend_refresh_token(token_hash: str, at: int) -> bool:
    """Mark a refresh token used; ``False`` if it already was (a replay: the family must die)."""
    try:
        client().update_item(
            TableName=_table(),
            Key=_key(f"REFRESH#{token_hash}", "REFRESH"),
            UpdateExpression="SET used_at = :at",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(used_at)",
            ExpressionAttributeValues={":at": {"N": str(at)}},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def revoke_family(family: str) -> None:
    client().update_item(
        TableName=_table(),
        Key=_key(f"FAMILY#{family}", "FAMILY"),
        UpdateExpression="SET #status = :revoked",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
    )


def revoke_access_token(jti: str, expires_at: int) -> None:
    row = {"pk": f"REVOKED#{jti}", "sk": "REVOKED", "expires_at": expires_at}
    client().put_item(TableName=_table(), Item=serialize(row))


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the authorizer needs to trust a user's access token, read in one BatchGetItem."""

    tenant: dict[str, Any] | None
    user: dict[str, Any] | None
    token_revoked: bool
    family_active: bool


def session_state(tenant_id: str, user_id: str, family: str, jti: str | None = None) -> SessionState:
    """Tenant, user, family and (for an access token) whether its jti is revoked: one BatchGetItem."""
    keys = [
        _key(f"TENANT#{tenant_id}", "TENANT"),
        _key(f"TENANT#{tenant_id}", f"USER#{user_id}"),
        _key(f"FAMILY#{family}", "FAMILY"),
    ]
    if jti is not None:
        keys.append(_key(f"REVOKED#{jti}", "REVOKED"))
    rows = _batch_get(keys)
    by_key = {(row["pk"], row["sk"]): row for row in rows}
    family_row = by_key.get((f"FAMILY#{family}", "FAMILY"))
    return SessionState(
        tenant=by_key.get((f"TENANT#{tenant_id}", "TENANT")),
        user=by_key.get((f"TENANT#{tenant_id}", f"USER#{user_id}")),
        token_revoked=(f"REVOKED#{jti}", "REVOKED") in by_key,
        family_active=family_row is not None and family_row.get("status") == "active",
    )


def _batch_get(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [deserialize(item) for item in batch_get(_table(), keys).items]


# projects


def _project(tenant_id: str, row: dict[str, Any]) -> Project:
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
    client().put_item(TableName=_table(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")


def list_projects(tenant_id: str) -> list[Project]:
    rows = _query_prefix(f"TENANT#{tenant_id}", "PROJECT#")
    return [_project(tenant_id, row) for row in rows if row.get("status", "active") == "active"]


def get_project(tenant_id: str, project_id: str) -> Project:
    row = _get(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")
    if row is None or row.get("status", "active") != "active":
        raise NotFound("project not found")
    return _project(tenant_id, row)


def project_row(tenant_id: str, project_id: str) -> dict[str, Any] | None:
    return _get(f"TENANT#{tenant_id}", f"PROJECT#{project_id}", consistent=True)


def mark_project_deleting(tenant_id: str, project_id: str, at: str) -> None:
    update_project(tenant_id, project_id, {"status": "deleting", "deleted_at": at})


def purge_project_entities(tenant_id: str, project_id: str) -> int:
    """Delete a project's keys (metadata and lookups), its counters and, last, the project."""
    keys: list[dict[str, Any]] = []
    for row in _query_prefix(f"TENANT#{tenant_id}", f"KEY#{project_id}#"):
        keys.append(_key(row["pk"], row["sk"]))
        keys.extend(_key(f"APIKEY#{d}", "APIKEY") for d in {row.get("digest"), row.get("previous_digest")} if d)
    keys.extend(_key(row["pk"], row["sk"]) for row in _query_prefix(f"TENANT#{tenant_id}", f"EXPORT#{project_id}#"))
    keys.append(_key(f"TENANT#{tenant_id}", f"FORECAST#{project_id}"))
    for counters in (f"QUOTA#{project_id}", f"RATE#project#{project_id}"):
        keys.extend(_key(row["pk"], row["sk"]) for row in _query_prefix(counters))
    deleted = delete_keys(_table(), keys)
    return deleted + delete_keys(_table(), [_key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")])


def update_project(tenant_id: str, project_id: str, changes: dict[str, Any]) -> None:
    """Change an active project; NOT_FOUND once it is being deleted."""
    try:
        _set(
            _key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}"),
            changes,
            "attribute_exists(pk) AND (attribute_not_exists(#status) OR #status = :active)",
            names={"#status": "status"},
            values={":active": "active"},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            raise NotFound("project not found") from exc
        raise


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
    client().transact_write_items(TransactItems=[_put(metadata), _put(lookup)])  # type: ignore[list-item]


def list_keys(tenant_id: str, project_id: str) -> list[ApiKey]:
    return [_api_key(tenant_id, row) for row in _query_prefix(f"TENANT#{tenant_id}", f"KEY#{project_id}#")]


def get_key(tenant_id: str, project_id: str, key_id: str) -> ApiKey:
    row = _get(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}")
    if row is None:
        raise NotFound("API key not found")
    return _api_key(tenant_id, row)


def revoke_key(key: ApiKey, revoked_at: str) -> None:
    """Mark the key revoked and delete its lookup items (current and, during a rotation's grace
    period, previous) together: the authorizer stops finding it."""
    row = _get(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}", consistent=True) or {}
    deletes: list[Any] = [
        {"Delete": {"TableName": _table(), "Key": _key(f"APIKEY#{digest}", "APIKEY")}}
        for digest in {key.digest, row.get("previous_digest")}
        if digest
    ]
    client().transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": _table(),
                    "Key": _key(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}"),
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
    row = _get(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}", consistent=True) or {}
    valid_until = row.get("valid_until")
    old_deadline = min(grace_until, int(valid_until)) if valid_until else grace_until
    lookup = _lookup_row(key, new_digest, valid_until)
    client().transact_write_items(
        TransactItems=[
            _put(lookup),  # type: ignore[list-item]
            {
                "Update": {
                    "TableName": _table(),
                    "Key": _key(f"APIKEY#{key.digest}", "APIKEY"),
                    "UpdateExpression": "SET valid_until = :until, expires_at = :until",
                    "ConditionExpression": "attribute_exists(pk)",
                    "ExpressionAttributeValues": {":until": {"N": str(old_deadline)}},
                }
            },
            {
                "Update": {
                    "TableName": _table(),
                    "Key": _key(f"TENANT#{key.tenant_id}", f"KEY#{key.project_id}#{key.id}"),
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


def find_key(digest: str) -> dict[str, Any] | None:
    """The authorizer's read: the key with this keyed hash, or ``None``.

    The caller checks ``valid_until``: an expired key, or a rotated one past its grace period, is
    refused at once, and DynamoDB's TTL (``expires_at``) removes its lookup item later.
    """
    return _get(f"APIKEY#{digest}", "APIKEY")


def key_in_use(tenant_id: str, project_id: str, key_id: str, at: str) -> None:
    """Record when a key was last seen. Called once per authorizer cache miss, not per request."""
    try:
        _set(_key(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}"), {"last_used_at": at})
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise


def key_state(tenant_id: str, project_id: str, key_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The tenant and a key's metadata in one BatchGetItem (for access tokens exchanged from a key)."""
    rows = {
        row["sk"]: row
        for row in _batch_get(
            [_key(f"TENANT#{tenant_id}", "TENANT"), _key(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}")]
        )
    }
    return rows.get("TENANT"), rows.get(f"KEY#{project_id}#{key_id}")


# exports

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
    client().put_item(TableName=_table(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")


def get_export(tenant_id: str, project_id: str, export_id: str) -> Export:
    row = _get(f"TENANT#{tenant_id}", f"EXPORT#{project_id}#{export_id}", consistent=True)
    if row is None:
        raise NotFound("export not found")
    return _export(row)


def list_exports(tenant_id: str, project_id: str, limit: int) -> list[Export]:
    """A project's exports, newest first (their ids sort by creation time)."""
    response = client().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": f"EXPORT#{project_id}#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [_export(deserialize(item)) for item in response.get("Items", [])]


def update_export(export: Export, changes: dict[str, Any]) -> None:
    """Record an export's progress or outcome."""
    _set(_key(f"TENANT#{export.tenant_id}", f"EXPORT#{export.project_id}#{export.id}"), changes)


# forecasts


def put_forecast(tenant_id: str, project_id: str, as_of: str, computed_at: str, body: str) -> None:
    """Keep a project's latest forecast. An older one (a delayed run) never replaces a newer one."""
    row = {"pk": f"TENANT#{tenant_id}", "sk": f"FORECAST#{project_id}", "as_of": as_of, "computed_at": computed_at,
           "body": body}  # fmt: skip
    try:
        client().put_item(
            TableName=_table(),
            Item=serialize(row),
            ConditionExpression="attribute_not_exists(pk) OR as_of <= :as_of",
            ExpressionAttributeValues={":as_of": {"S": as_of}},
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise


def get_forecast(tenant_id: str, project_id: str) -> tuple[str, str] | None:
    """(computed_at, body) of a project's latest forecast, if any."""
    row = _get(f"TENANT#{tenant_id}", f"FORECAST#{project_id}")
    return (row["computed_at"], row["body"]) if row else None
