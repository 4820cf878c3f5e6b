"""Registration, login and the signed-in user."""

from __future__ import annotations

import time
from dataclasses import dataclass

from apimeter.dal import entities
from apimeter.domain import passwords, tokens
from apimeter.domain.accounts import Tenant, User, normalize_email
from apimeter.domain.ids import new_id
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso
from apimeter.errors import AuthenticationFailed, ValidationFailed
from apimeter.secrets import signing_keys
from apimeter.settings import settings


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    tenant: Tenant


def _open_session(user: User, tenant: Tenant) -> Session:
    config = settings()
    access, _ = tokens.issue_access_token(
        signing_keys()[0],
        user_id=user.id,
        tenant_id=tenant.id,
        role=user.role,
        lifetime_seconds=config.access_token_seconds,
    )
    refresh = tokens.new_refresh_token()
    entities.put_refresh_token(
        tokens.hash_refresh_token(refresh),
        user_id=user.id,
        tenant_id=tenant.id,
        family=new_id("fam"),
        expires_at=int(time.time()) + config.refresh_token_seconds,
    )
    return Session(access, refresh, config.access_token_seconds, user, tenant)


def register(email: str, password: str, organization: str) -> Session:
    address = normalize_email(email)
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {passwords.MIN_PASSWORD_LENGTH} characters")
    created = iso(int(time.time() * 1000))
    tenant = Tenant(new_id("ten"), organization.strip(), plan="free", status="active", created_at=created)
    user = User(new_id("usr"), tenant.id, address, "owner", created)
    entities.create_registration(tenant, user, passwords.hash_password(password))
    return _open_session(user, tenant)


def login(email: str, password: str) -> Session:
    """One message for unknown email and wrong password, and the same Argon2 cost for both."""
    try:
        address = normalize_email(email)
    except ValidationFailed:
        address = ""
    record = entities.get_login(address) if address else None
    stored = record["password_hash"] if record else None
    if not passwords.verify_password(stored, password) or record is None:
        raise AuthenticationFailed("email or password is incorrect")
    if passwords.needs_rehash(record["password_hash"]):
        entities.set_password_hash(address, passwords.hash_password(password))
    tenant = entities.get_tenant(record["tenant_id"])
    user = entities.get_user(record["tenant_id"], record["user_id"])
    return _open_session(user, tenant)


def me(principal: Principal) -> tuple[User, Tenant]:
    principal.require_user()
    return entities.get_user(principal.tenant_id, principal.principal_id), entities.get_tenant(principal.tenant_id)
