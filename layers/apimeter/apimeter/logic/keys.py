"""API keys of a project: created with their secret shown once, listed without it, revoked."""

from __future__ import annotations

import time

from apimeter.dal import entities
from apimeter.domain import apikeys
from apimeter.domain.accounts import ApiKey
from apimeter.domain.ids import new_id
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso, now_iso, parse_date_time
from apimeter.errors import Conflict, ValidationFailed
from apimeter.secrets import pepper

MAX_GRACE_SECONDS = 7 * 86_400


def create(
    principal: Principal, project_id: str, name: str, scopes: list[str], expires_at: str | None = None
) -> tuple[ApiKey, str]:
    principal.require("keys.manage")
    entities.projects.get_project(principal.tenant_id, project_id)
    valid_until = None
    if expires_at is not None:
        # a time already past makes a key refused from the start
        valid_until = max(parse_date_time(expires_at, "expires_at") // 1000, 1)
    generated = apikeys.generate_key(pepper())
    key = ApiKey(
        id=new_id("key"),
        tenant_id=principal.tenant_id,
        project_id=project_id,
        name=name.strip(),
        prefix=generated.prefix,
        scopes=tuple(sorted(set(scopes))),
        status="active",
        created_at=now_iso(),
        digest=generated.digest,
        expires_at=iso(valid_until * 1000) if valid_until else None,
    )
    entities.keys.create_key(key, valid_until)
    return key, generated.secret


def list_all(principal: Principal, project_id: str) -> list[ApiKey]:
    principal.require("keys.read")
    entities.projects.get_project(principal.tenant_id, project_id)
    return entities.keys.list_keys(principal.tenant_id, project_id)


def rotate(principal: Principal, project_id: str, key_id: str, grace_seconds: int) -> tuple[ApiKey, str, str]:
    """A new secret for the key; the old one works for ``grace_seconds`` more. Returns the key, the
    new secret, and when the old secret stops working."""
    principal.require("keys.manage")
    if not 0 <= grace_seconds <= MAX_GRACE_SECONDS:
        raise ValidationFailed(f"grace_seconds must be between 0 and {MAX_GRACE_SECONDS}")
    key = entities.keys.get_key(principal.tenant_id, project_id, key_id)
    if key.status != "active":
        raise Conflict("a revoked key cannot be rotated")
    generated = apikeys.generate_key(pepper())
    now = time.time()
    grace_until = int(now) + grace_seconds
    entities.keys.rotate_key(
        key,
        new_digest=generated.digest,
        new_prefix=generated.prefix,
        grace_until=grace_until,
        rotated_at=iso(int(now * 1000)),
    )
    return entities.keys.get_key(principal.tenant_id, project_id, key_id), generated.secret, iso(grace_until * 1000)


def revoke(principal: Principal, project_id: str, key_id: str) -> None:
    principal.require("keys.manage")
    key = entities.keys.get_key(principal.tenant_id, project_id, key_id)
    if key.status != "revoked":
        entities.keys.revoke_key(key, now_iso())
