"""The entities table: tenants, users, projects, API keys and sessions, one partition per tenant.

Keys (pk / sk):
  TENANT#<tid>        / TENANT                 the tenant
  TENANT#<tid>        / USER#<uid>             a user of the tenant
  TENANT#<tid>        / PROJECT#<pid>          a project
  TENANT#<tid>        / KEY#<pid>#<kid>        an API key's metadata (listing)
  EMAIL#<email>       / LOGIN                  login lookup: user, tenant and password hash
  APIKEY#<digest>     / APIKEY                 authorizer lookup by keyed hash, one GetItem
  REFRESH#<hash>      / REFRESH                a refresh token (TTL ``expires_at``)
Every read of tenant data goes through a key that starts with the caller's tenant id, so a request
cannot reach another tenant's items by guessing ids.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from apimeter.dal.dynamo import client, deserialize, error_code, serialize
from apimeter.domain.accounts import ApiKey, Project, Tenant, User
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


def _query_prefix(pk: str, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
    }
    while True:
        response = client().query(**kwargs)
        items.extend(deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _put(row: dict[str, Any]) -> dict[str, Any]:
    return {"Put": {"TableName": _table(), "Item": serialize(row), "ConditionExpression": "attribute_not_exists(pk)"}}


# tenants and users


def create_registration(tenant: Tenant, user: User, password_hash: str) -> None:
    """Tenant, owner and login in one transaction; fails with CONFLICT if the email is taken."""
    rows = [
        {
            "pk": f"EMAIL#{user.email}",
            "sk": "LOGIN",
            "user_id": user.id,
            "tenant_id": tenant.id,
            "password_hash": password_hash,
        },
        {
            "pk": f"TENANT#{tenant.id}",
            "sk": "TENANT",
            "id": tenant.id,
            "name": tenant.name,
            "plan": tenant.plan,
            "status": tenant.status,
            "created_at": tenant.created_at,
        },
        {
            "pk": f"TENANT#{tenant.id}",
            "sk": f"USER#{user.id}",
            "id": user.id,
            "email": user.email,
            "role": user.role,
            "created_at": user.created_at,
        },
    ]
    try:
        client().transact_write_items(TransactItems=[_put(row) for row in rows])  # type: ignore[misc]
    except ClientError as exc:
        if error_code(exc) == "TransactionCanceledException":
            raise Conflict("an account with this email already exists") from exc
        raise


def get_login(email: str) -> dict[str, Any] | None:
    return _get(f"EMAIL#{email}", "LOGIN", consistent=True)


def set_password_hash(email: str, password_hash: str) -> None:
    client().update_item(
        TableName=_table(),
        Key=_key(f"EMAIL#{email}", "LOGIN"),
        UpdateExpression="SET password_hash = :h",
        ExpressionAttributeValues={":h": {"S": password_hash}},
    )


def get_tenant(tenant_id: str) -> Tenant:
    row = _get(f"TENANT#{tenant_id}", "TENANT")
    if row is None:
        raise NotFound("tenant not found")
    return Tenant(row["id"], row["name"], row["plan"], row["status"], row["created_at"])


def get_user(tenant_id: str, user_id: str) -> User:
    row = _get(f"TENANT#{tenant_id}", f"USER#{user_id}")
    if row is None:
        raise NotFound("user not found")
    return User(row["id"], tenant_id, row["email"], row["role"], row["created_at"])


def put_refresh_token(token_hash: str, *, user_id: str, tenant_id: str, family: str, expires_at: int) -> None:
    row = {
        "pk": f"REFRESH#{token_hash}",
        "sk": "REFRESH",
        "user_id": user_id,
        "tenant_id": tenant_id,
        "family": family,
        "expires_at": expires_at,
    }
    client().put_item(TableName=_table(), Item=serialize(row))


# projects


def _project(tenant_id: str, row: dict[str, Any]) -> Project:
    return Project(row["id"], tenant_id, row["name"], int(row["retention_days"]), row["created_at"])


def create_project(project: Project) -> None:
    row = {
        "pk": f"TENANT#{project.tenant_id}",
        "sk": f"PROJECT#{project.id}",
        "id": project.id,
        "name": project.name,
        "retention_days": project.retention_days,
        "created_at": project.created_at,
    }
    client().put_item(TableName=_table(), Item=serialize(row), ConditionExpression="attribute_not_exists(pk)")


def list_projects(tenant_id: str) -> list[Project]:
    return [_project(tenant_id, row) for row in _query_prefix(f"TENANT#{tenant_id}", "PROJECT#")]


def get_project(tenant_id: str, project_id: str) -> Project:
    row = _get(f"TENANT#{tenant_id}", f"PROJECT#{project_id}")
    if row is None:
        raise NotFound("project not found")
    return _project(tenant_id, row)


# API keys


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
    )


def create_key(key: ApiKey) -> None:
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
    }
    lookup = {
        "pk": f"APIKEY#{key.digest}",
        "sk": "APIKEY",
        "key_id": key.id,
        "tenant_id": key.tenant_id,
        "project_id": key.project_id,
        "scopes": set(key.scopes),
    }
    client().transact_write_items(TransactItems=[_put(metadata), _put(lookup)])  # type: ignore[list-item]


def list_keys(tenant_id: str, project_id: str) -> list[ApiKey]:
    return [_api_key(tenant_id, row) for row in _query_prefix(f"TENANT#{tenant_id}", f"KEY#{project_id}#")]


def get_key(tenant_id: str, project_id: str, key_id: str) -> ApiKey:
    row = _get(f"TENANT#{tenant_id}", f"KEY#{project_id}#{key_id}")
    if row is None:
        raise NotFound("API key not found")
    return _api_key(tenant_id, row)


def revoke_key(key: ApiKey, revoked_at: str) -> None:
    """Mark the key revoked and delete its lookup item, together: the authorizer stops finding it."""
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
            {"Delete": {"TableName": _table(), "Key": _key(f"APIKEY#{key.digest}", "APIKEY")}},
        ]
    )


def find_key(digest: str) -> dict[str, Any] | None:
    """The authorizer's one read: the active key with this keyed hash, or ``None``."""
    return _get(f"APIKEY#{digest}", "APIKEY")
