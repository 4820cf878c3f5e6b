"""Projects of a tenant."""

from __future__ import annotations

import secrets
import time
from dataclasses import fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apimeter.dal import entities
from apimeter.domain.accounts import Project, ProjectChanges
from apimeter.domain.ids import new_id
from apimeter.domain.permissions import Action
from apimeter.domain.plans import LIMIT_NAMES
from apimeter.domain.principal import Principal
from apimeter.domain.windows import Range, fit, now_iso, parse_instant
from apimeter.errors import Conflict, ValidationFailed
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


def update(principal: Principal, project_id: str, changes: ProjectChanges) -> Project:
    """Change a project's settings. Limit overrides may only tighten what the plan and tenant allow."""
    principal.require("projects.manage")
    entities.projects.get_project(principal.tenant_id, project_id)
    stored: dict[str, Any] = {}
    for name, value in ((f.name, getattr(changes, f.name)) for f in fields(changes)):
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
                raise Conflict("a project may only lower its plan's limits", details={"above_plan": over})
        stored[name] = value.strip() if isinstance(value, str) else value
    if stored:
        entities.projects.update_project(principal.tenant_id, project_id, stored)
    return entities.projects.get_project(principal.tenant_id, project_id)


MAX_RECOMPUTE_HOURS = 31 * 24


def recompute(principal: Principal, project_id: str, start: str, end: str) -> tuple[int, Range]:
    """Backfill: mark a range's hours for recomputation from raw events; returns how many, and the
    range they cover: at most MAX_RECOMPUTE_HOURS, within retention (older raw events are gone), up to now."""
    principal.require("rollups.manage")
    project = entities.projects.get_project(principal.tenant_id, project_id)
    now = int(time.time() * 1000)
    end_ms = min(parse_instant(end, "to") or 0, now)
    asked = fit(parse_instant(start, "from"), end_ms, default_end=end_ms, default_ms=0,
                max_ms=MAX_RECOMPUTE_HOURS * 3_600_000, earliest=now - project.retention_days * 86_400_000)  # fmt: skip
    if asked.end_ms <= asked.start_ms:
        return 0, asked
    return rollup.request_recompute(project_id, asked.start_ms, asked.end_ms), asked
