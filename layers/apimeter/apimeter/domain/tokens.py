"""Access tokens (JWT, HS256) and opaque refresh tokens.

Access tokens carry ``kid`` so that signing keys can rotate, ``jti`` so that one token can be
revoked, and are checked for audience and issuer. Refresh tokens are random and stored only hashed.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import jwt

from apimeter.domain.ids import new_id
from apimeter.errors import AuthenticationFailed

ISSUER = "apimeter"
AUDIENCE = "apimeter-api"
ALGORITHM = "HS256"


def key_id(signing_key: str) -> str:
    """A short public fingerprint of a signing key, sent as the JWT ``kid`` header."""
    return hashlib.sha256(signing_key.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What an access token says. A user's token names its session family (``family``); a token
    exchanged from an API key names the key's project and carries its scopes."""

    subject: str  # user id or API key id
    tenant_id: str
    jti: str
    expires_at: int
    kind: str = "user"
    family: str | None = None
    project_id: str | None = None
    scopes: tuple[str, ...] = ()


def issue_access_token(
    signing_key: str,
    *,
    subject: str,
    tenant_id: str,
    lifetime_seconds: int,
    kind: str = "user",
    family: str | None = None,
    project_id: str | None = None,
    scopes: tuple[str, ...] = (),
    now: float | None = None,
) -> tuple[str, AccessClaims]:
    issued = int(time.time() if now is None else now)
    claims = AccessClaims(
        subject, tenant_id, new_id("jti"), issued + lifetime_seconds, kind, family, project_id, scopes
    )
    payload: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": subject,
        "tid": tenant_id,
        "knd": kind,
        "jti": claims.jti,
        "iat": issued,
        "exp": claims.expires_at,
    }
    if family:
        payload["fam"] = family
    if project_id:
        payload["pid"] = project_id
        payload["scp"] = " ".join(scopes)
    token = jwt.encode(payload, signing_key, algorithm=ALGORITHM, headers={"kid": key_id(signing_key)})
    return token, claims


def verify_access_token(token: str, signing_keys: list[str], now: float | None = None) -> AccessClaims:
    """Verify against the key named by ``kid``; only HS256 is accepted (no ``none``, no confusion)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed("malformed access token") from exc
    by_kid = {key_id(k): k for k in signing_keys}
    key = by_kid.get(str(header.get("kid", "")))
    if key is None or header.get("alg") != ALGORITHM:
        raise AuthenticationFailed("access token was not signed by apimeter")
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "jti", "aud", "iss"]},
            leeway=0,
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthenticationFailed("access token expired") from exc
    except jwt.PyJWTError as exc:
        raise AuthenticationFailed("invalid access token") from exc
    if now is not None and payload["exp"] <= now:
        raise AuthenticationFailed("access token expired")
    kind = payload.get("knd", "user")
    if kind not in ("user", "api_key") or (kind == "user" and not payload.get("fam")):
        raise AuthenticationFailed("invalid access token")
    if kind == "api_key" and not payload.get("pid"):
        raise AuthenticationFailed("invalid access token")
    return AccessClaims(
        subject=payload["sub"],
        tenant_id=payload["tid"],
        jti=payload["jti"],
        expires_at=payload["exp"],
        kind=kind,
        family=payload.get("fam"),
        project_id=payload.get("pid"),
        scopes=tuple(str(payload.get("scp", "")).split()),
    )


def new_refresh_token() -> str:
    return "amr_" + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
