"""Ingest models: what a batch of events came to, and the monthly quota."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apimeter.domain.events import Rejection
from apimeter.logic.ingest import IngestResult


class RejectionOut(BaseModel):
    index: int
    code: Literal["VALIDATION_ERROR", "CONFLICT"]
    message: str

    @classmethod
    def of(cls, rejection: Rejection) -> RejectionOut:
        return cls.model_validate({"index": rejection.index, "code": rejection.code, "message": rejection.message})


class IngestOut(BaseModel):
    accepted: int = Field(..., description="Events written now.")
    duplicates: int = Field(..., description="Exact replays of events already accepted; nothing changed.")
    rejected: list[RejectionOut]

    @classmethod
    def of(cls, result: IngestResult) -> IngestOut:
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[RejectionOut.of(r) for r in result.rejected],
        )


class QuotaOut(BaseModel):
    period: str = Field(..., description="The UTC month, YYYY-MM.")
    limit: int
    used: int
    remaining: int
    resets_at: int = Field(..., description="Epoch seconds when the next period starts.")
