"""Sessions: a sign-in's family, its refresh tokens, and revoked access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import client, serialize
from apimeter.dal.entities import table
from apimeter.dal.entities.tenants import tenant_of
from apimeter.dal.entities.users import user_of
from apimeter.domain.accounts import Tenant, User


@dataclass(frozen=True, slots=True)
class RefreshToken:
    """A stored refresh token: whose session it continues, and until when (epoch seconds)."""

    user_id: str
    tenant_id: str
    family: str
    expires_at: int


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the authorizer needs to trust a user's access token, read in one BatchGetItem."""

    tenant: Tenant | None
    user: User | None
    platform_admin: bool
    token_revoked: bool
    family_active: bool


def start_family(family: str, *, user_id: str, tenant_id: str, expires_at: int) -> None:
    row: dict[str, Any] = {"pk": f"FAMILY#{family}", "sk": "FAMILY", "user_id": user_id, "tenant_id": tenant_id}
    row.update({"status": "active", "expires_at": expires_at})
    client().put_item(TableName=table.name(), Item=serialize(row))


def put_refresh_token(token_hash: str, *, user_id: str, tenant_id: str, family: str, expires_at: int) -> None:
    row: dict[str, Any] = {"pk": f"REFRESH#{token_hash}", "sk": "REFRESH", "user_id": user_id, "tenant_id": tenant_id}
    row.update({"family": family, "expires_at": expires_at})
    client().put_item(TableName=table.name(), Item=serialize(row))


def get_refresh_token(token_hash: str) -> RefreshToken | None:
    row = table.get(f"REFRESH#{token_hash}", "REFRESH", consistent=True)
    if row is None:
        return None
    return RefreshToken(row["user_id"], row["tenant_id"], row["family"], int(row["expires_at"]))


def spend_refresh_token(token_hash: str, at: int) -> bool:
    """Mark a refresh token used; ``False`` if it already was (a replay: the family must die)."""
    try:
        client().update_item(
            TableName=table.name(),
            Key=table.key(f"REFRESH#{token_hash}", "REFRESH"),
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
        TableName=table.name(),
        Key=table.key(f"FAMILY#{family}", "FAMILY"),
        UpdateExpression="SET #status = :revoked",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":revoked": {"S": "revoked"}},
    )


def revoke_access_token(jti: str, expires_at: int) -> None:
    row = {"pk": f"REVOKED#{jti}", "sk": "REVOKED", "expires_at": expires_at}
    client().put_item(TableName=table.name(), Item=serialize(row))


def session_state(tenant_id: str, user_id: str, family: str, jti: str | None = None) -> SessionState:
    """Tenant, user, family and (for an access token) whether its jti is revoked: one strongly
    consistent BatchGetItem, so a logout or revocation acknowledged a moment ago is already seen."""
    keys = [
        table.key(f"TENANT#{tenant_id}", "TENANT"),
        table.key(f"TENANT#{tenant_id}", f"USER#{user_id}"),
        table.key(f"FAMILY#{family}", "FAMILY"),
    ]
    if jti is not None:
        keys.append(table.key(f"REVOKED#{jti}", "REVOKED"))
    rows = table.batch_get(keys, consistent=True)
    by_key = {(row["pk"], row["sk"]): row for row in rows}
    tenant_row = by_key.get((f"TENANT#{tenant_id}", "TENANT"))
    user_row = by_key.get((f"TENANT#{tenant_id}", f"USER#{user_id}"))
    family_row = by_key.get((f"FAMILY#{family}", "FAMILY"))
    return SessionState(
        tenant=tenant_of(tenant_row) if tenant_row else None,
        user=user_of(tenant_id, user_row) if user_row else None,
        platform_admin=bool(user_row and user_row.get("platform_admin")),
        token_revoked=(f"REVOKED#{jti}", "REVOKED") in by_key,
        family_active=family_row is not None and family_row.get("status") == "active",
    )
