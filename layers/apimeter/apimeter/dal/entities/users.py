"""Users of a tenant, and the login lookup by email that holds their password hash."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apimeter.dal.dynamo import transact_write
from apimeter.dal.entities import table
from apimeter.domain.accounts import User
from apimeter.errors import NotFound


@dataclass(frozen=True, slots=True)
class Login:
    """What signing in with an email finds: whose it is and the password hash to check."""

    user_id: str
    tenant_id: str
    password_hash: str


def user_rows(user: User, password_hash: str) -> list[dict[str, Any]]:
    return [
        {"pk": f"EMAIL#{user.email}", "sk": "LOGIN", "user_id": user.id, "tenant_id": user.tenant_id,
         "password_hash": password_hash},
        {"pk": f"TENANT#{user.tenant_id}", "sk": f"USER#{user.id}", "id": user.id, "email": user.email,
         "role": user.role, "created_at": user.created_at},
    ]  # fmt: skip


def create_user(user: User, password_hash: str) -> None:
    table.create(user_rows(user, password_hash), "an account with this email already exists")


def user_of(tenant_id: str, row: dict[str, Any]) -> User:
    return User(row["id"], tenant_id, row["email"], row["role"], row["created_at"])


def list_users(tenant_id: str) -> list[User]:
    return [user_of(tenant_id, row) for row in table.query_prefix(f"TENANT#{tenant_id}", "USER#")]


def get_user(tenant_id: str, user_id: str) -> User:
    row = table.get(f"TENANT#{tenant_id}", f"USER#{user_id}")
    if row is None:
        raise NotFound("user not found")
    return user_of(tenant_id, row)


def set_role(tenant_id: str, user_id: str, role: str) -> None:
    table.set_attributes(table.key(f"TENANT#{tenant_id}", f"USER#{user_id}"), {"role": role})


def set_platform_admin(tenant_id: str, user_id: str) -> None:
    table.set_attributes(table.key(f"TENANT#{tenant_id}", f"USER#{user_id}"), {"platform_admin": True})


def delete_user(user: User) -> None:
    transact_write(
        [
            {"Delete": {"TableName": table.name(), "Key": table.key(f"TENANT#{user.tenant_id}", f"USER#{user.id}")}},
            {"Delete": {"TableName": table.name(), "Key": table.key(f"EMAIL#{user.email}", "LOGIN")}},
        ]
    )


def get_login(email: str) -> Login | None:
    row = table.get(f"EMAIL#{email}", "LOGIN", consistent=True)
    return Login(row["user_id"], row["tenant_id"], row["password_hash"]) if row else None


def set_password_hash(email: str, password_hash: str) -> None:
    table.set_attributes(table.key(f"EMAIL#{email}", "LOGIN"), {"password_hash": password_hash})
