"""Project models: settings, pricing, limits, and recomputation of past hours."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from apimeter.api.models.common import (
    INSTANT,
    JSON_INTEGER,
    TWELVE_PLACES,
    Instant,
    LimitsIn,
    Name,
    Price,
    Zone,
    _Input,
)
from apimeter.domain.accounts import Pricing, Project


class EndpointPrice(_Input):
    pattern: str = Field(
        ..., min_length=1, max_length=520, description='"METHOD /route/{template}", with * and ? wildcards'
    )
    per_request: Price


class PricingIn(_Input):
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    per_request: Annotated[Price, Field(description="Price of a call no endpoint pattern matches.")] = 0.0
    per_gb_out: Annotated[
        float,
        Field(ge=0, le=10_000, description="Price per GB of response bytes, kept to 12 decimal places."),
        TWELVE_PLACES,
    ] = 0.0
    per_endpoint: list[EndpointPrice] = Field(
        default_factory=list, max_length=100, description="Per-request prices by route; the first match wins."
    )


class ProjectPatch(_Input):
    name: Name | None = Field(None, min_length=1, max_length=200)
    retention_days: Annotated[int, Field(ge=1, le=3650), JSON_INTEGER] | None = Field(
        None, description="How long raw events are kept."
    )
    ip_privacy: Literal["full", "hashed", "none"] | None = Field(
        None, description="Keep callers' IPs as sent, as a keyed hash (per project), or not at all."
    )
    timezone: Zone | None = None
    pricing: PricingIn | None = None
    limits: LimitsIn | None = Field(None, description="Lower the plan's limits for this project (not above them).")


class ProjectIn(_Input):
    name: Name = Field(..., min_length=1, max_length=200)


class RecomputeIn(_Input):
    start: Instant = Field(..., alias="from", description=f"{INSTANT} Moved up to retention's start.")
    end: Instant = Field(..., alias="to", description=f"Exclusive; moved back to now. {INSTANT}")


class RecomputeOut(BaseModel):
    hours: int = Field(..., description="Hours marked; the next rollup run (within 15 minutes) recomputes them.")
    start: str = Field(..., alias="from", description="The range marked: within retention, 31 days at most.")
    end: str = Field(..., alias="to", description="Up to now at most.")


class PricingOut(BaseModel):
    currency: str
    per_request: float
    per_gb_out: float
    per_endpoint: list[EndpointPrice]

    @classmethod
    def of(cls, pricing: Pricing) -> PricingOut:
        return cls(
            currency=pricing.currency,
            per_request=pricing.per_request,
            per_gb_out=pricing.per_gb_out,
            per_endpoint=[EndpointPrice(pattern=p, per_request=price) for p, price in pricing.per_endpoint],
        )


class ProjectOut(BaseModel):
    id: str
    name: str
    retention_days: int
    created_at: str
    ip_privacy: str
    timezone: str
    pricing: PricingOut
    limits: dict[str, int]

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.id,
            name=project.name,
            retention_days=project.retention_days,
            created_at=project.created_at,
            ip_privacy=project.ip_privacy,
            timezone=project.timezone,
            pricing=PricingOut.of(project.pricing),
            limits=project.limits,
        )


class ProjectListOut(BaseModel):
    projects: list[ProjectOut]
