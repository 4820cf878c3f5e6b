"""Projects of a tenant."""

from __future__ import annotations

import secrets
import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apimeter.dal import entities
from apimeter.domain.accounts import Project
from apimeter.domain.ids import new_id
from apimeter.domain.permissions import Action
from apimeter.domain.plans import LIMIT_NAMES
from apimeter.domain.principal import Principal
from apimeter.domain.windows import now_iso, parse_instant
from apimeter.errors import ValidationFailed
from apimeter.logic import rollup
from apimeter.settings import settings


def create(principal: Principal, name: str) -> Project:
    principal.require("projects.manage")
    project = Project(
        id=new_id("prj"),
        tenant_id=principal.tenant_id,
        name=name.strip(),
        retention_days=settings().default_retention_days,
        created_at=now_iso(),
        ip_salt=secrets.token_hex(16),
    )
    entities.projects.create_project(project)
    return project


def list_all(principal: Principal) -> list[Project]:
    principal.require("projects.read")
    return entities.projects.list_projects(principal.tenant_id)


def get(principal: Principal, project_id: str, action: Action = "projects.read") -> Project:
    """A project of the caller's tenant; NOT_FOUND for any other, whoever owns it."""
    principal.require_project_read(project_id, action)
    return entities.projects.get_project(principal.tenant_id, project_id)


MAX_RETENTION_DAYS = 3650


def update(principal: Principal, project_id: str, changes: dict[str, Any]) -> Project:
    """Change a project's settings. Limit overrides may only tighten what the plan and tenant allow."""
    principal.require("projects.manage")
    entities.projects.get_project(principal.tenant_id, project_id)
    stored: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name == "retention_days" and not 1 <= int(value) <= MAX_RETENTION_DAYS:
            raise ValidationFailed(f"retention_days must be between 1 and {MAX_RETENTION_DAYS}")
        if name == "timezone":
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValidationFailed(f"unknown time zone {value!r} (use an IANA name such as Europe/Paris)") from exc
        if name == "limits":
            allowed = principal.limits
            unknown = set(value) - set(LIMIT_NAMES)
            if unknown:
                raise ValidationFailed(
                    f"unknown limits: {', '.join(sorted(unknown))}", details={"allowed": LIMIT_NAMES}
                )
            over = {k: v for k, v in value.items() if allowed.get(k) is not None and v > allowed[k]}
            if over:
                raise ValidationFailed("a project may only lower its plan's limits", details={"above_plan": over})
        stored[name] = value.strip() if isinstance(value, str) else value
    if stored:
        entities.projects.update_project(principal.tenant_id, project_id, stored)
    return entities.projects.get_project(principal.tenant_id, project_id)


MAX_RECOMPUTE_HOURS = 31 * 24


def recompute(principal: Principal, project_id: str, start: str, end: str) -> int:
    """Backfill: mark a range's hours for recomputation from raw events; returns how many."""
    principal.require("rollups.manage")
    project = entities.projects.get_project(principal.tenant_id, project_id)
    start_ms, end_ms = parse_instant(start, "from"), parse_instant(end, "to")
    if start_ms is None or end_ms is None or end_ms <= start_ms:
        raise ValidationFailed("'from' and 'to' are required, 'to' after 'from'")
    if (end_ms - start_ms) / 3_600_000 > MAX_RECOMPUTE_HOURS:
        raise ValidationFailed(f"at most {MAX_RECOMPUTE_HOURS} hours per request")
    if start_ms < int(time.time() * 1000) - project.retention_days * 86_400_000:
        raise ValidationFailed("raw events before the retention window are gone; those hours cannot be recomputed")
    return rollup.request_recompute(project_id, start_ms, end_ms)
