"""Projects of a tenant."""

from __future__ import annotations

import time

from apimeter.dal import entities
from apimeter.domain.accounts import Project
from apimeter.domain.ids import new_id
from apimeter.domain.permissions import Action
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso
from apimeter.settings import settings


def create(principal: Principal, name: str) -> Project:
    principal.require("projects.manage")
    project = Project(
        id=new_id("prj"),
        tenant_id=principal.tenant_id,
        name=name.strip(),
        retention_days=settings().default_retention_days,
        created_at=iso(int(time.time() * 1000)),
    )
    entities.create_project(project)
    return project


def list_all(principal: Principal) -> list[Project]:
    principal.require("projects.read")
    return entities.list_projects(principal.tenant_id)


def get(principal: Principal, project_id: str, action: Action = "projects.read") -> Project:
    """A project of the caller's tenant; NOT_FOUND for any other, whoever owns it."""
    principal.require_project_read(project_id, action)
    return entities.get_project(principal.tenant_id, project_id)
