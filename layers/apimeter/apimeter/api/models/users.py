"""User and role models of an organization."""

from __future__ import annotations

from pydantic import BaseModel, Field

from apimeter.api.models.common import _Input
from apimeter.domain.accounts import EMAIL_PATTERN, User
from apimeter.domain.passwords import MIN_PASSWORD_LENGTH
from apimeter.domain.permissions import Role


class UserIn(_Input):
    email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    role: Role
    password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256, description="Initial password.")


class RoleIn(_Input):
    role: Role


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    tenant_id: str
    created_at: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, role=user.role, tenant_id=user.tenant_id, created_at=user.created_at)


class UserListOut(BaseModel):
    users: list[UserOut]


class RoleRuleOut(BaseModel):
    action: str
    roles: list[str]


class RolesOut(BaseModel):
    roles: list[str]
    permissions: list[RoleRuleOut]
