"""Registration, sign-in, sessions (refresh rotation, logout) and the signed-in user.

A sign-in opens a session family. Each refresh spends its refresh token and issues the next one in
the same family; presenting a spent refresh token again means it was stolen or replayed, so the
whole family is revoked and every access token that names it stops working. Logout revokes the
family and puts the current access token's ``jti`` on a denylist until it would have expired.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from apimeter.dal import entities
from apimeter.domain import passwords, tokens
from apimeter.domain.accounts import Tenant, User, normalize_email
from apimeter.domain.ids import new_id
from apimeter.domain.principal import Principal
from apimeter.domain.windows import now_iso
from apimeter.errors import AuthenticationFailed, ValidationFailed
from apimeter.logic import limits
from apimeter.secrets import signing_keys
from apimeter.settings import settings

KEY_TOKEN_SECONDS = 900


@dataclass(frozen=True, slots=True)
class Session:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User
    tenant: Tenant


def _tokens(user: User, tenant: Tenant, family: str) -> Session:
    config = settings()
    access, _ = tokens.issue_access_token(
        signing_keys()[0],
        subject=user.id,
        tenant_id=tenant.id,
        family=family,
        lifetime_seconds=config.access_token_seconds,
    )
    refresh = tokens.new_refresh_token()
    entities.sessions.put_refresh_token(
        tokens.hash_refresh_token(refresh),
        user_id=user.id,
        tenant_id=tenant.id,
        family=family,
        expires_at=int(time.time()) + config.refresh_token_seconds,
    )
    return Session(access, refresh, config.access_token_seconds, user, tenant)


def _open_session(user: User, tenant: Tenant) -> Session:
    if tenant.status != "active":
        raise AuthenticationFailed("organization is suspended")
    if user.email in settings().platform_admins:
        # Bootstrap by deploy-time parameter (PlatformAdminEmails), never by a default password.
        entities.users.set_platform_admin(tenant.id, user.id)
    family = new_id("fam")
    # A family outlives any one refresh token: each refresh restarts the refresh lifetime.
    lifetime = settings().refresh_token_seconds * 4
    entities.sessions.start_family(family, user_id=user.id, tenant_id=tenant.id, expires_at=int(time.time()) + lifetime)
    return _tokens(user, tenant, family)


def register(email: str, password: str, organization: str) -> Session:
    address = normalize_email(email)
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {passwords.MIN_PASSWORD_LENGTH} characters")
    created = now_iso()
    tenant = Tenant(new_id("ten"), organization.strip(), plan="free", status="active", created_at=created)
    user = User(new_id("usr"), tenant.id, address, "owner", created)
    entities.tenants.create_registration(tenant, user, passwords.hash_password(password))
    return _open_session(user, tenant)


def login(email: str, password: str, source_ip: str = "unknown") -> Session:
    """One message for unknown email and wrong password, and the same Argon2 cost for both;
    repeated failures lock the account and the source address out for a while."""
    limits.guard_sign_in(email, source_ip)
    try:
        address = normalize_email(email)
    except ValidationFailed:
        address = ""
    record = entities.users.get_login(address) if address else None
    stored = record.password_hash if record else None
    if not passwords.verify_password(stored, password) or record is None:
        limits.sign_in_failed(email, source_ip)
        raise AuthenticationFailed("email or password is incorrect")
    if passwords.needs_rehash(record.password_hash):
        entities.users.set_password_hash(address, passwords.hash_password(password))
    tenant = entities.tenants.get_tenant(record.tenant_id)
    user = entities.users.get_user(record.tenant_id, record.user_id)
    return _open_session(user, tenant)


def refresh(refresh_token: str) -> Session:
    token_hash = tokens.hash_refresh_token(refresh_token)
    stored = entities.sessions.get_refresh_token(token_hash)
    now = int(time.time())
    if stored is None or stored.expires_at <= now:
        raise AuthenticationFailed("refresh token is invalid or expired")
    family = stored.family
    if not entities.sessions.spend_refresh_token(token_hash, now):
        entities.sessions.revoke_family(family)
        raise AuthenticationFailed("refresh token was already used; every session of this sign-in is revoked")
    state = entities.sessions.session_state(stored.tenant_id, stored.user_id, family)
    if not state.family_active:
        raise AuthenticationFailed("session has ended; sign in again")
    if state.user is None or state.tenant is None:
        raise AuthenticationFailed("user no longer exists")
    if state.tenant.status != "active":
        raise AuthenticationFailed("organization is suspended")
    return _tokens(state.user, state.tenant, family)


def logout(principal: Principal) -> None:
    principal.require_user()
    if principal.session:
        entities.sessions.revoke_family(principal.session)
    if principal.token_id and principal.token_expires:
        entities.sessions.revoke_access_token(principal.token_id, principal.token_expires)


def exchange_key(principal: Principal) -> tuple[str, int, Principal]:
    """A short-lived access token for an API key, carrying the key's project and scopes."""
    project_id = principal.project_id
    if principal.kind != "api_key" or not project_id or principal.token_id:
        raise AuthenticationFailed("send the API key itself (X-API-Key) to exchange it for a token")
    token, _ = tokens.issue_access_token(
        signing_keys()[0],
        subject=principal.principal_id,
        tenant_id=principal.tenant_id,
        kind="api_key",
        project_id=project_id,
        scopes=principal.scopes,
        lifetime_seconds=KEY_TOKEN_SECONDS,
    )
    return token, KEY_TOKEN_SECONDS, principal


def me(principal: Principal) -> tuple[User, Tenant]:
    principal.require_user()
    user = entities.users.get_user(principal.tenant_id, principal.principal_id)
    return user, entities.tenants.get_tenant(principal.tenant_id)
