"""Liveness and readiness answers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    stage: str


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(..., description='Each dependency checked (tables, secrets): "ok".')
