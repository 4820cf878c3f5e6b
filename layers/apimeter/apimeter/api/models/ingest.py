"""Ingest models: what a batch of events came to, and the monthly quota.

The tracking function builds these answers itself, without pydantic (functions/ingest/app.py); the
models document them, and the tests hold every answer to them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RejectionOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    code: Literal["VALIDATION_ERROR", "CONFLICT"]
    message: str


class IngestOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accepted: int = Field(..., description="Events written now.")
    duplicates: int = Field(..., description="Exact replays of events already accepted; nothing changed.")
    rejected: list[RejectionOut]


class QuotaOut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str = Field(..., description="The UTC month, YYYY-MM.")
    limit: int
    used: int
    remaining: int
    resets_at: int = Field(..., description="Epoch seconds when the next period starts.")
