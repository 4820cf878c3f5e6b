"""Users of a tenant: list, create, change role, remove.

Nobody grants a role above their own or acts on someone above them, and a tenant always keeps at
least one owner.
"""

from __future__ import annotations

from apimeter.dal import entities
from apimeter.domain import passwords
from apimeter.domain.accounts import User, normalize_email
from apimeter.domain.ids import new_id
from apimeter.domain.permissions import Role, rank
from apimeter.domain.principal import Principal
from apimeter.domain.windows import now_iso
from apimeter.errors import Conflict, Forbidden, ValidationFailed


def list_all(principal: Principal) -> list[User]:
    principal.require("users.read")
    return sorted(entities.users.list_users(principal.tenant_id), key=lambda u: u.created_at)


def get(principal: Principal, user_id: str) -> User:
    principal.require("users.read")
    return entities.users.get_user(principal.tenant_id, user_id)


def _outranks(principal: Principal, role: str) -> None:
    if rank(role) < rank(principal.role or "viewer"):
        raise Forbidden(f"a {principal.role} cannot act on the {role} role")


def create(principal: Principal, email: str, role: Role, password: str) -> User:
    principal.require("users.manage")
    _outranks(principal, role)
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {passwords.MIN_PASSWORD_LENGTH} characters")
    user = User(new_id("usr"), principal.tenant_id, normalize_email(email), role, now_iso())
    entities.users.create_user(user, passwords.hash_password(password))
    return user


def _last_owner(user: User) -> bool:
    owners = [u for u in entities.users.list_users(user.tenant_id) if u.role == "owner"]
    return user.role == "owner" and len(owners) == 1


def change_role(principal: Principal, user_id: str, role: Role) -> User:
    principal.require("users.manage")
    user = entities.users.get_user(principal.tenant_id, user_id)
    _outranks(principal, user.role)
    _outranks(principal, role)
    if role != "owner" and _last_owner(user):
        raise Conflict("an organization needs at least one owner")
    entities.users.set_role(principal.tenant_id, user_id, role)
    return entities.users.get_user(principal.tenant_id, user_id)


def remove(principal: Principal, user_id: str) -> None:
    principal.require("users.manage")
    user = entities.users.get_user(principal.tenant_id, user_id)
    _outranks(principal, user.role)
    if _last_owner(user):
        raise Conflict("an organization needs at least one owner")
    entities.users.delete_user(user)
