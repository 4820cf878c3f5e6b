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
  TENANT#<tid>        / BUDGET#<bid>           a budget (``project_id`` empty for a tenant-wide one)
  TENANT#<tid>        / ALERT#<alert id>       a fired alert, written once (alert id = budget#period#basis#percent)
  SPEND#<bid>         / <period label>         a budget's spend in a period as the stream counts it (TTL)
  OUTBOX              / <tid>#<alert id>       an alert with deliveries still to make
Every read of tenant data goes through a key that starts with the caller's tenant id, so a request
cannot reach another tenant's items by guessing ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apimeter.dal.dynamo import as_json, batch_get, client, delete_keys, deserialize, error_code, put_if, serialize
from apimeter.domain.accounts import ApiKey, Pricing, Project, Tenant, User
from apimeter.domain.budgets.holds import HOLD_PREFIX
from apimeter.domain.budgets.rules import Budget, Channels, Threshold, Webhook
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
    """Tenant, user, family and (for an access token) whether its jti is revoked: one strongly
    consistent BatchGetItem, so a logout or revocation acknowledged a moment ago is already seen."""
    keys = [
        _key(f"TENANT#{tenant_id}", "TENANT"),
        _key(f"TENANT#{tenant_id}", f"USER#{user_id}"),
        _key(f"FAMILY#{family}", "FAMILY"),
    ]
    if jti is not None:
        keys.append(_key(f"REVOKED#{jti}", "REVOKED"))
    rows = _batch_get(keys, consistent=True)
    by_key = {(row["pk"], row["sk"]): row for row in rows}
    family_row = by_key.get((f"FAMILY#{family}", "FAMILY"))
    return SessionState(
        tenant=by_key.get((f"TENANT#{tenant_id}", "TENANT")),
        user=by_key.get((f"TENANT#{tenant_id}", f"USER#{user_id}")),
        token_revoked=(f"REVOKED#{jti}", "REVOKED") in by_key,
        family_active=family_row is not None and family_row.get("status") == "active",
    )


def _batch_get(keys: list[dict[str, Any]], consistent: bool = False) -> list[dict[str, Any]]:
    return [deserialize(item) for item in batch_get(_table(), keys, consistent=consistent).items]


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


def _pricing_row(pricing: Pricing) -> dict[str, Any]:
    return {
        "currency": pricing.currency,
        "per_request": pricing.per_request,
        "per_gb_out": pricing.per_gb_out,
        "per_endpoint": [{"pattern": pattern, "per_request": price} for pattern, price in pricing.per_endpoint],
    }


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
    for budget in list_budgets(tenant_id, project_id):
        keys.append(_key(f"TENANT#{tenant_id}", f"BUDGET#{budget.id}"))
        keys.extend(_key(row["pk"], row["sk"]) for row in _query_prefix(f"TENANT#{tenant_id}", f"ALERT#{budget.id}#"))
    for counters in (f"QUOTA#{project_id}", f"RATE#project#{project_id}"):
        keys.extend(_key(row["pk"], row["sk"]) for row in _query_prefix(counters))
    deleted = delete_keys(_table(), keys)
    return deleted + delete_keys(_table(), [_key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")])


def update_project(tenant_id: str, project_id: str, changes: dict[str, Any]) -> None:
    """Change an active project; NOT_FOUND once it is being deleted."""
    row = {name: _pricing_row(value) if isinstance(value, Pricing) else value for name, value in changes.items()}
    try:
        _set(
            _key(f"TENANT#{tenant_id}", f"PROJECT#{project_id}"),
            row,
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


@dataclass(frozen=True, slots=True)
class KeyState:
    tenant: dict[str, Any] | None
    project: dict[str, Any] | None
    key: dict[str, Any] | None


def key_state(tenant_id: str, project_id: str, key_id: str) -> KeyState:
    """The tenant, the project and a key's metadata in one BatchGetItem (for access tokens exchanged
    from a key: the project row carries budget holds)."""
    pk = f"TENANT#{tenant_id}"
    wanted = ["TENANT", f"PROJECT#{project_id}", f"KEY#{project_id}#{key_id}"]
    rows = {row["sk"]: row for row in _batch_get([_key(pk, sk) for sk in wanted])}
    return KeyState(*(rows.get(sk) for sk in wanted))


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


def put_forecast(tenant_id: str, project_id: str, as_of: str, computed_at: str, body: str, path: bytes | None) -> None:
    """Keep a project's latest forecast: the document the API serves, and the hourly path to past
    the month end that budgets are judged on. An older one (a delayed run) never replaces a newer."""
    row = {"pk": f"TENANT#{tenant_id}", "sk": f"FORECAST#{project_id}", "as_of": as_of, "computed_at": computed_at,
           "body": body, "path": path}  # fmt: skip
    put_if(_table(), serialize(row), "attribute_not_exists(pk) OR as_of <= :as_of", {":as_of": {"S": as_of}})


def get_forecast(tenant_id: str, project_id: str) -> tuple[str, str] | None:
    """(computed_at, body) of a project's latest forecast, if any."""
    row = _get(f"TENANT#{tenant_id}", f"FORECAST#{project_id}")
    return (row["computed_at"], row["body"]) if row else None


def get_forecast_path(tenant_id: str, project_id: str) -> bytes | None:
    row = _get(f"TENANT#{tenant_id}", f"FORECAST#{project_id}")
    return bytes(row["path"]) if row and row.get("path") else None


# budgets and their alerts


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
    if not put_if(_table(), serialize(_budget_row(budget)), condition):
        raise Conflict("budget exists") if new else NotFound("budget not found")


def get_budget(tenant_id: str, budget_id: str) -> Budget:
    row = _get(f"TENANT#{tenant_id}", f"BUDGET#{budget_id}", consistent=True)
    if row is None:
        raise NotFound("budget not found")
    return _budget(tenant_id, row)


def list_budgets(tenant_id: str, project_id: str | None = None) -> list[Budget]:
    """A tenant's budgets, oldest first: all of them, or those of one project (``project_id``)."""
    budgets = [_budget(tenant_id, row) for row in _query_prefix(f"TENANT#{tenant_id}", "BUDGET#")]
    return budgets if project_id is None else [b for b in budgets if b.project_id == project_id]


def delete_budget(tenant_id: str, budget_id: str) -> None:
    """Delete a budget and its alert history (its hold on keys is cleared by the caller)."""
    keys = [_key(row["pk"], row["sk"]) for row in _query_prefix(f"TENANT#{tenant_id}", f"ALERT#{budget_id}#")]
    delete_keys(_table(), [*keys, _key(f"TENANT#{tenant_id}", f"BUDGET#{budget_id}")])


def add_spend(budget_id: str, period_label: str, amount: float, expires_at: int) -> float:
    """Add to a budget's spend in a period; returns the new total."""
    response = client().update_item(
        TableName=_table(),
        Key=_key(f"SPEND#{budget_id}", period_label),
        UpdateExpression="ADD spent :amount SET expires_at = :expires",
        ExpressionAttributeValues=serialize({":amount": amount, ":expires": expires_at}),
        ReturnValues="UPDATED_NEW",
    )
    return float(deserialize(response["Attributes"])["spent"])


def record_alert(tenant_id: str, alert_id: str, body: dict[str, Any], channels: list[str]) -> bool:
    """Keep an alert the first time it fires, with the deliveries it still needs (an outbox entry);
    False when it fired before. One conditional put: retries and concurrent evaluators agree."""
    row = {"pk": f"TENANT#{tenant_id}", "sk": f"ALERT#{alert_id}", "body": body, "pending": set(channels) or None,
           "delivered": {}}  # fmt: skip
    if not put_if(_table(), serialize(row)):
        return False
    if channels:
        client().put_item(TableName=_table(), Item=serialize({"pk": "OUTBOX", "sk": f"{tenant_id}#{alert_id}"}))
    return True


def list_alerts(tenant_id: str, budget_id: str, limit: int) -> list[dict[str, Any]]:
    """A budget's alerts, newest period first."""
    response = client().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant_id}"}, ":prefix": {"S": f"ALERT#{budget_id}#"}},
        ScanIndexForward=False,
        Limit=limit,
    )
    return [as_json(deserialize(item)) for item in response.get("Items", [])]


def outbox() -> list[tuple[str, str]]:
    """(tenant id, alert id) of every alert with deliveries still to make."""
    return [(row["sk"].split("#", 1)[0], row["sk"].split("#", 1)[1]) for row in _query_prefix("OUTBOX")]


def drop_outbox(tenant_id: str, alert_id: str) -> None:
    client().delete_item(TableName=_table(), Key=_key("OUTBOX", f"{tenant_id}#{alert_id}"))


def pending_alert(tenant_id: str, alert_id: str) -> tuple[dict[str, Any], list[str]] | None:
    row = _get(f"TENANT#{tenant_id}", f"ALERT#{alert_id}", consistent=True)
    return (as_json(row["body"]), sorted(row.get("pending") or ())) if row else None


def delivered(tenant_id: str, alert_id: str, channel: str, at: str) -> None:
    """Mark one delivery made; the outbox entry goes with the last."""
    response = client().update_item(
        TableName=_table(),
        Key=_key(f"TENANT#{tenant_id}", f"ALERT#{alert_id}"),
        UpdateExpression="DELETE pending :channel SET delivered.#channel = :at",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#channel": channel},
        ExpressionAttributeValues=serialize({":channel": {channel}, ":at": at}),
        ReturnValues="ALL_NEW",
    )
    if not deserialize(response["Attributes"]).get("pending"):
        client().delete_item(TableName=_table(), Key=_key("OUTBOX", f"{tenant_id}#{alert_id}"))


def set_hold(tenant_id: str, project_id: str | None, budget_id: str, hold: dict[str, Any]) -> None:
    """Put a budget's hold on its project's keys (or, tenant-wide, on every key of the tenant);
    the authorizer reads it with the rows it reads anyway."""
    sk = f"PROJECT#{project_id}" if project_id else "TENANT"
    _set(_key(f"TENANT#{tenant_id}", sk), {f"{HOLD_PREFIX}{budget_id}": hold})


def clear_hold(tenant_id: str, project_id: str | None, budget_id: str) -> None:
    sk = f"PROJECT#{project_id}" if project_id else "TENANT"
    client().update_item(
        TableName=_table(),
        Key=_key(f"TENANT#{tenant_id}", sk),
        UpdateExpression="REMOVE #hold",
        ExpressionAttributeNames={"#hold": f"{HOLD_PREFIX}{budget_id}"},
    )
