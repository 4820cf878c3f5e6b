"""Anomaly answers and the feedback that tunes the detectors."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apimeter.api.models.common import _Input


class FeedbackIn(_Input):
    feedback: Literal["real", "false", "planned"] = Field(
        ..., description="false: this series' detector gets less sensitive; real/planned: the hour leaves its baseline."
    )


class AnomalyOut(BaseModel):
    id: str
    hour: str = Field(..., description="Start of the finished hour it was found in.")
    dimension: Literal["project", "endpoint", "consumer"]
    value: str | None = Field(None, description="The endpoint or consumer; null for the project.")
    metric: Literal["requests", "error_rate", "latency_p95"]
    observed: float
    expected: float
    lower: float = Field(..., description="The expected band the observed value left.")
    upper: float
    direction: Literal["up", "down"] | None = None
    severity: Literal["low", "medium", "high"]
    score: float = Field(..., description="Anomaly likelihood in [0, 1].")
    detected_at: str
    feedback: Literal["real", "false", "planned"] | None = None


class AnomalyListOut(BaseModel):
    anomalies: list[AnomalyOut]
