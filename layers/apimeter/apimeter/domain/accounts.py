"""Tenants, users, projects and API keys as domain values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Literal

from apimeter.domain.permissions import Role
from apimeter.errors import ValidationFailed

KeyStatus = Literal["active", "revoked"]

# No control characters (NUL, DEL...): they are in no address, and would be stored and shown as sent.
# The API's document states the pattern too.
# Whitespace and control characters spelled out, not ``\s``: regex engines (Python's, JSON Schema's,
# pydantic's) disagree on which characters ``\s`` is, and the document must say what the server does.
_NOT_IN_EMAIL = r"@\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
EMAIL_PATTERN = rf"^[^{_NOT_IN_EMAIL}]{{1,64}}@[^{_NOT_IN_EMAIL}]{{1,255}}\.[^{_NOT_IN_EMAIL}]{{2,63}}$"
_EMAIL = re.compile(EMAIL_PATTERN)


def normalize_email(email: str) -> str:
    candidate = email.strip().lower()
    if not _EMAIL.match(candidate):
        raise ValidationFailed("email is not a valid address", details=[{"field": "email"}])
    return candidate


TenantStatus = Literal["active", "suspended", "deleted"]


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str
    plan: str
    status: str
    created_at: str
    limits: dict[str, int] = field(default_factory=dict)  # overrides of the plan's limits


@dataclass(frozen=True, slots=True)
class User:
    id: str
    tenant_id: str
    email: str
    role: Role
    created_at: str


IpPrivacy = Literal["full", "hashed", "none"]


@dataclass(frozen=True, slots=True)
class Pricing:
    """How a project's calls cost money when an event carries no ``cost`` of its own: a price per
    request (the first matching endpoint pattern's, else ``per_request``) plus a price per GB sent.
    A call is priced when it is tracked, as a bill would be: a later price change is not retroactive."""

    currency: str = "USD"
    per_request: float = 0.0
    per_gb_out: float = 0.0
    per_endpoint: tuple[tuple[str, float], ...] = ()  # ("POST /v1/generate*", price): shell-style patterns

    def cost_of(self, method: str, endpoint: str, response_bytes: int | None) -> float | None:
        if not (self.per_request or self.per_gb_out or self.per_endpoint):  # no pricing: every event
            return None
        per_request = self.per_request
        route = f"{method} {endpoint}"
        for pattern, price in self.per_endpoint:
            if fnmatchcase(route, pattern):
                per_request = price
                break
        cost = per_request + (response_bytes or 0) / 1e9 * self.per_gb_out
        return round(cost, 12) or None


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    tenant_id: str
    name: str
    retention_days: int
    created_at: str
    ip_privacy: IpPrivacy = "full"
    timezone: str = "UTC"
    pricing: Pricing = field(default_factory=Pricing)
    limits: dict[str, int] = field(default_factory=dict)
    status: str = "active"
    ip_salt: str = ""  # per-project key for hashed IPs; never leaves the service


@dataclass(frozen=True, slots=True)
class ProjectChanges:
    """What a change to a project's settings sets. None leaves a setting as it is, whether the
    request left it out or sent null; pricing and limits are replaced whole."""

    name: str | None = None
    retention_days: int | None = None
    ip_privacy: IpPrivacy | None = None
    timezone: str | None = None
    pricing: Pricing | None = None
    limits: dict[str, int] | None = None


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    tenant_id: str
    project_id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    status: KeyStatus
    created_at: str
    digest: str
    revoked_at: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = None
