"""Forecast answers: the next hours and days, and the month's end, with their ranges."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class RangeOut(BaseModel):
    value: float = Field(..., description="Point forecast (the model's median path).")
    lower80: float
    upper80: float
    lower95: float
    upper95: float


class ForecastStepOut(BaseModel):
    start: str = Field(..., description="UTC hour (hourly) or the project's local date (daily).")
    requests: RangeOut
    cost: RangeOut


class MonthEndOut(BaseModel):
    month: str = Field(..., description="The project's local month.")
    actual_requests: float = Field(..., description="So far this month, up to the forecast's hour.")
    actual_cost: float
    requests: RangeOut = Field(..., description="Projected total for the month: actual plus forecast of the rest.")
    cost: RangeOut


class ForecastOut(BaseModel):
    project_id: str
    status: Literal["ready", "insufficient_history"] = Field(
        ..., description="insufficient_history until the project has a day of traffic."
    )
    as_of: str = Field(..., description="Start of the first forecast hour.")
    computed_at: str
    timezone: str
    currency: str
    history_hours: int | None = Field(None, description="Hours of history the model learned from (at most 672).")
    season_hours: int | None = Field(None, description="168: weekly season; 24: daily; 1: none yet.")
    hourly: list[ForecastStepOut] = Field(default_factory=list, description="The next 48 hours.")
    daily: list[ForecastStepOut] = Field(default_factory=list, description="Today (actual + rest) and 6 more days.")
    month_end: MonthEndOut | None = None
