"""Platform administration of tenants: list, create, read, change plan/limits/status, delete.

A suspended or deleted tenant's users are refused at once (the authorizer checks a user's tenant on
every request) and its API keys within the authorizer's cache time. A platform admin may neither
suspend nor delete their own organization: that would lock them out of the platform.
"""

from __future__ import annotations

from typing import Any

from apimeter.dal import entities
from apimeter.domain import passwords
from apimeter.domain.accounts import Tenant, TenantStatus, User, normalize_email
from apimeter.domain.ids import new_id
from apimeter.domain.plans import LIMIT_NAMES, Plan
from apimeter.domain.principal import Principal
from apimeter.domain.windows import now_iso
from apimeter.errors import Conflict, ValidationFailed


def list_page(principal: Principal, limit: int, cursor: str | None) -> tuple[list[Tenant], str | None]:
    principal.require_platform_admin()
    ids, next_cursor = entities.tenants.list_tenants(limit, cursor)
    found = []
    for tenant_id in ids:
        tenant = entities.tenants.find_tenant(tenant_id)
        if tenant is not None and tenant.status != "deleted":
            found.append(tenant)
    return found, next_cursor


def create(principal: Principal, name: str, plan: Plan, owner_email: str, owner_password: str) -> tuple[Tenant, User]:
    principal.require_platform_admin()
    if len(owner_password) < passwords.MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"password must have at least {passwords.MIN_PASSWORD_LENGTH} characters")
    created = now_iso()
    tenant = Tenant(new_id("ten"), name.strip(), plan, "active", created)
    owner = User(new_id("usr"), tenant.id, normalize_email(owner_email), "owner", created)
    entities.tenants.create_registration(tenant, owner, passwords.hash_password(owner_password))
    return tenant, owner


def get(principal: Principal, tenant_id: str) -> Tenant:
    principal.require_platform_admin()
    return entities.tenants.get_tenant(tenant_id)


def update(
    principal: Principal,
    tenant_id: str,
    *,
    name: str | None = None,
    plan: Plan | None = None,
    status: TenantStatus | None = None,
    limits: dict[str, int] | None = None,
) -> Tenant:
    principal.require_platform_admin()
    entities.tenants.get_tenant(tenant_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name.strip()
    if plan is not None:
        changes["plan"] = plan
    if status is not None:
        if status == "deleted":
            raise ValidationFailed("use DELETE to delete a tenant")
        if status == "suspended" and tenant_id == principal.tenant_id:
            raise Conflict("a platform admin cannot suspend their own organization")
        changes["status"] = status
    if limits is not None:
        unknown = set(limits) - set(LIMIT_NAMES)
        if unknown:
            raise ValidationFailed(f"unknown limits: {', '.join(sorted(unknown))}", details={"allowed": LIMIT_NAMES})
        changes["limits"] = limits
    if changes:
        entities.tenants.update_tenant(tenant_id, changes)
    return entities.tenants.get_tenant(tenant_id)


def delete(principal: Principal, tenant_id: str) -> None:
    """Marks the tenant deleted: its keys and tokens stop working and it leaves the listings."""
    principal.require_platform_admin()
    entities.tenants.get_tenant(tenant_id)
    if tenant_id == principal.tenant_id:
        raise Conflict("a platform admin cannot delete their own organization")
    entities.tenants.update_tenant(tenant_id, {"status": "deleted", "deleted_at": now_iso()})
