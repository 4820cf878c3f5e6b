"""Sign-up, sign-in and session models."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apimeter.api.models.admin import TenantOut
from apimeter.api.models.common import Name, _Input
from apimeter.api.models.users import UserOut
from apimeter.domain.accounts import EMAIL_PATTERN, Tenant, User
from apimeter.domain.passwords import MIN_PASSWORD_LENGTH
from apimeter.logic.accounts import Session


class RegisterIn(_Input):
    email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256)
    organization: Name = Field(..., min_length=1, max_length=200)


class LoginIn(_Input):
    email: str = Field(..., min_length=1, max_length=320)
    password: str = Field(..., min_length=1, max_length=256)


class RefreshIn(_Input):
    refresh_token: str = Field(..., min_length=10, max_length=200)


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(..., description="Seconds until the access token expires.")
    user: UserOut
    tenant: TenantOut

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_in=session.expires_in,
            user=UserOut.of(session.user),
            tenant=TenantOut.of(session.tenant),
        )


class KeyTokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    project_id: str
    scopes: list[str]


class MeOut(BaseModel):
    user: UserOut
    tenant: TenantOut

    @classmethod
    def of(cls, user: User, tenant: Tenant) -> MeOut:
        return cls(user=UserOut.of(user), tenant=TenantOut.of(tenant))
