"""Tenant models, for the platform's administrators."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apimeter.api.models.common import LimitsIn, Name, _Input
from apimeter.api.models.users import UserOut
from apimeter.domain.accounts import EMAIL_PATTERN, Tenant, User
from apimeter.domain.passwords import MIN_PASSWORD_LENGTH
from apimeter.domain.plans import Plan


class TenantIn(_Input):
    name: Name = Field(..., min_length=1, max_length=200)
    plan: Plan = "free"
    owner_email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    owner_password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256)


class TenantPatch(_Input):
    name: Name | None = Field(None, min_length=1, max_length=200)
    plan: Plan | None = None
    status: Literal["active", "suspended"] | None = None
    limits: LimitsIn | None = Field(None, description="Overrides of the plan's limits, by name.")


class TenantOut(BaseModel):
    id: str
    name: str
    plan: str
    status: str
    created_at: str
    limits: dict[str, int] = Field(default_factory=dict, description="Overrides of the plan's limits.")

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.plan,
            status=tenant.status,
            created_at=tenant.created_at,
            limits={k: int(v) for k, v in tenant.limits.items()},
        )


class TenantListOut(BaseModel):
    tenants: list[TenantOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class NewTenantOut(BaseModel):
    tenant: TenantOut
    owner: UserOut

    @classmethod
    def of(cls, tenant: Tenant, owner: User) -> NewTenantOut:
        return cls(tenant=TenantOut.of(tenant), owner=UserOut.of(owner))
