"""API keys of a project: created with their secret shown once, listed without it, revoked."""

from __future__ import annotations

import time

from apimeter.dal import entities
from apimeter.domain import apikeys
from apimeter.domain.accounts import ApiKey
from apimeter.domain.ids import new_id
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso
from apimeter.secrets import pepper


def create(principal: Principal, project_id: str, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    principal.require_user()
    entities.get_project(principal.tenant_id, project_id)
    generated = apikeys.generate_key(pepper())
    key = ApiKey(
        id=new_id("key"),
        tenant_id=principal.tenant_id,
        project_id=project_id,
        name=name.strip(),
        prefix=generated.prefix,
        scopes=tuple(sorted(set(scopes))),
        status="active",
        created_at=iso(int(time.time() * 1000)),
        digest=generated.digest,
    )
    entities.create_key(key)
    return key, generated.secret


def list_all(principal: Principal, project_id: str) -> list[ApiKey]:
    principal.require_user()
    entities.get_project(principal.tenant_id, project_id)
    return entities.list_keys(principal.tenant_id, project_id)


def revoke(principal: Principal, project_id: str, key_id: str) -> None:
    principal.require_user()
    key = entities.get_key(principal.tenant_id, project_id, key_id)
    if key.status != "revoked":
        entities.revoke_key(key, iso(int(time.time() * 1000)))
