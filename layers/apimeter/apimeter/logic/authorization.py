"""The authorizer's decision: who presents this credential, cached per API key.

API Gateway HTTP APIs cache authorizer results only when every identity source is present, so one
authorizer cannot accept ``X-API-Key`` *or* ``Authorization`` with gateway caching; and a gateway
deny is a bare ``403 {"message": "Forbidden"}`` that cannot carry the error envelope. So the gateway
calls the authorizer on every request (``ReauthorizeEvery: 0``), the authorizer caches verified API
keys and the tokens exchanged for them itself (keyed by a hash of the credential, for
``AUTH_CACHE_SECONDS``), and a failed check travels as context that the routes' resolver turns into
a 401 in the envelope. A revoked key stops working within that cache time. The tracking routes
have no authorizer at the gateway: the ingest function makes this same decision itself
(``api/credentials.py``), so an event sent alone costs one invocation.

A user's session can end at any moment (logout, a replayed refresh token, removal, suspension), and
it must end at once; so a user's access token is never served from the cache: every request re-reads
its session in one strongly consistent BatchGetItem. User traffic (the dashboard, the CLI) is small;
the per-event traffic comes with API keys, which keep the cache.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from apimeter.dal import entities
from apimeter.domain import apikeys, tokens
from apimeter.domain.accounts import Project, Tenant
from apimeter.domain.budgets.holds import held_limits
from apimeter.domain.plans import limits as plan_limits
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso
from apimeter.errors import AuthenticationFailed
from apimeter.observability import logger
from apimeter.secrets import pepper, signing_keys
from apimeter.settings import settings

_CACHE_SIZE = 10_000


class CredentialCache:
    """A small TTL + LRU map from a credential's hash to what it proved (a principal or an error)."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[float, Principal | str]] = OrderedDict()

    def get(self, key: str, now: float) -> Principal | str | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] <= now:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: str, value: Principal | str, expires: float) -> None:
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()


cache = CredentialCache()


def _header(headers: Mapping[str, str], name: str) -> str:
    for key, value in headers.items():
        if key.lower() == name:
            return value.strip()
    return ""


def _limits(tenant: Tenant, project: Project | None = None) -> dict[str, int]:
    """Plan defaults, then the tenant's overrides, then the project's."""
    return plan_limits(tenant.plan, tenant.limits, project.limits if project else {})


def _require_active(tenant: Tenant | None) -> Tenant:
    if tenant is None:
        raise AuthenticationFailed("organization no longer exists")
    if tenant.status != "active":
        raise AuthenticationFailed("organization is suspended")
    return tenant


def _verify_api_key(secret: str) -> tuple[Principal, float | None]:
    if not apikeys.looks_like_key(secret):
        raise AuthenticationFailed("invalid API key")
    found = entities.keys.find_key(apikeys.key_digest(pepper(), secret))
    if found is None:
        raise AuthenticationFailed("invalid or revoked API key")
    valid_until = float(found.valid_until) if found.valid_until else None
    if valid_until is not None and valid_until <= time.time():
        raise AuthenticationFailed("API key expired")
    state = entities.keys.key_state(found.tenant_id, found.project_id)
    tenant, project = _require_active(state.tenant), state.project
    if project is None or project.status != "active":
        raise AuthenticationFailed("the API key's project no longer exists")
    principal = Principal(
        kind="api_key",
        principal_id=found.key_id,
        tenant_id=found.tenant_id,
        project_id=found.project_id,
        scopes=found.scopes,
        limits=held_limits(_limits(tenant, project), state.holds, found.key_id, time.time()),
    )
    try:
        entities.keys.key_in_use(principal.tenant_id, found.project_id, principal.principal_id, iso(_now_ms()))
    except Exception:  # last_used_at is a convenience: never refuse a valid key over it
        logger.exception("could not record last_used_at")
    return principal, valid_until


def _verify_user_token(claims: tokens.AccessClaims) -> Principal:
    state = entities.sessions.session_state(claims.tenant_id, claims.subject, claims.family or "", claims.jti)
    tenant = _require_active(state.tenant)
    if state.user is None:
        raise AuthenticationFailed("user no longer exists")
    if state.token_revoked or not state.family_active:
        raise AuthenticationFailed("session has ended; sign in again")
    return Principal(
        kind="user",
        principal_id=claims.subject,
        tenant_id=claims.tenant_id,
        role=state.user.role,  # the current role, not the one at sign-in
        platform_admin=state.platform_admin,
        token_id=claims.jti,
        session=claims.family,
        token_expires=claims.expires_at,
        limits=_limits(tenant),
    )


def _verify_key_token(claims: tokens.AccessClaims) -> Principal:
    project_id = claims.project_id or ""
    state = entities.keys.key_state(claims.tenant_id, project_id, claims.subject)
    tenant, key = _require_active(state.tenant), state.key
    if key is None or key.status != "active":
        raise AuthenticationFailed("the API key behind this token was revoked")
    return Principal(
        kind="api_key",
        principal_id=claims.subject,
        tenant_id=claims.tenant_id,
        project_id=project_id,
        scopes=tuple(sorted(set(claims.scopes) & set(key.scopes))),
        token_id=claims.jti,
        token_expires=claims.expires_at,
        limits=held_limits(_limits(tenant, state.project), state.holds, claims.subject, time.time()),
    )


def _verify_bearer(token: str) -> tuple[Principal, float | None]:
    """A token is trusted only until it expires, however long the cache would keep it."""
    claims = tokens.verify_access_token(token, signing_keys())
    principal = _verify_key_token(claims) if claims.kind == "api_key" else _verify_user_token(claims)
    return principal, float(claims.expires_at)


def _now_ms() -> int:
    return int(time.time() * 1000)


def authenticate(headers: Mapping[str, str]) -> Principal:
    """The principal behind a request's credential; ``AuthenticationFailed`` says why not."""
    api_key = _header(headers, "x-api-key")
    authorization = _header(headers, "authorization")
    verify: Callable[[str], tuple[Principal, float | None]]
    if api_key:
        credential, verify = api_key, _verify_api_key
    elif authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
        credential, verify = token.strip(), _verify_bearer
    else:
        raise AuthenticationFailed("missing credentials: send X-API-Key or Authorization: Bearer <token>")

    # The same text sent as an API key and as a bearer token proves different things (or nothing):
    # each has its own cache entry, so one's answer is never served for the other.
    key = hashlib.sha256(f"{verify.__name__}:{credential}".encode()).hexdigest()
    now = time.monotonic()
    known = cache.get(key, now)
    if isinstance(known, Principal):
        return known
    if isinstance(known, str):
        raise AuthenticationFailed(known)
    ttl = float(settings().auth_cache_seconds)
    try:
        principal, valid_until = verify(credential)
    except AuthenticationFailed as exc:
        cache.put(key, exc.message, now + ttl)
        raise
    if principal.kind == "user":
        return principal  # its session may end before the next request: checked every time
    if valid_until is not None:
        ttl = min(ttl, valid_until - time.time())
    cache.put(key, principal, now + ttl)
    return principal


def decide(headers: Mapping[str, str]) -> dict[str, object]:
    """The authorizer's simple response: always authorized at the gateway, with who or why not."""
    try:
        context = authenticate(headers).to_context()
    except AuthenticationFailed as exc:
        context = {"auth_error": exc.message}
    return {"isAuthorized": True, "context": context}
