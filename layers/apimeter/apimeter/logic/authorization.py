"""The authorizer's decision: who presents this credential, cached per credential.

API Gateway HTTP APIs cache authorizer results only when every identity source is present, so one
authorizer cannot accept ``X-API-Key`` *or* ``Authorization`` with gateway caching; and a gateway
deny is a bare ``403 {"message": "Forbidden"}`` that cannot carry the error envelope. So the
authorizer caches verified credentials itself (keyed by a hash of the credential, for
``AUTH_CACHE_SECONDS``), and a failed check travels as context that the routes' resolver turns into
a 401 in the envelope. A revoked key stops working within that cache time.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from apimeter.dal import entities
from apimeter.domain import apikeys, tokens
from apimeter.domain.principal import Principal
from apimeter.errors import AuthenticationFailed
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


def _verify_api_key(secret: str) -> tuple[Principal, float | None]:
    if not apikeys.looks_like_key(secret):
        raise AuthenticationFailed("invalid API key")
    found = entities.find_key(apikeys.key_digest(pepper(), secret))
    if found is None:
        raise AuthenticationFailed("invalid or revoked API key")
    principal = Principal(
        kind="api_key",
        principal_id=found["key_id"],
        tenant_id=found["tenant_id"],
        project_id=found["project_id"],
        scopes=tuple(sorted(found["scopes"])),
    )
    return principal, None


def _verify_bearer(token: str) -> tuple[Principal, float | None]:
    """A token is trusted only until it expires, however long the cache would keep it."""
    claims = tokens.verify_access_token(token, signing_keys())
    principal = Principal(kind="user", principal_id=claims.user_id, tenant_id=claims.tenant_id, role=claims.role)
    return principal, float(claims.expires_at)


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

    key = hashlib.sha256(credential.encode()).hexdigest()
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
