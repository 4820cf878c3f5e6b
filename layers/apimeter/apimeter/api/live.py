"""The live WebSocket API's messages, both ways. docs/asyncapi.json is generated from these models
(tools/asyncapi.py), and tests hold every message the code builds to them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from apimeter.api.models.anomalies import AnomalyOut
from apimeter.domain.rollups import StatusClass

PROJECT_ID = r"^prj_[0-9a-z]{1,64}$"

# client to server


class SubscriptionIn(BaseModel):
    """Start or stop receiving a project's live messages."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    action: Literal["subscribe", "unsubscribe"]
    project_id: str = Field(..., pattern=PROJECT_ID, max_length=80)


# server to client


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LatencyMs(_Out):
    p50: float | None
    p95: float | None
    p99: float | None


class MinuteMessage(_Out):
    """A subscribed project's figures for one minute so far (totals, not increments), pushed at most
    once a second while events arrive."""

    type: Literal["minute"]
    project_id: str
    minute: str = Field(..., description="Start of the minute, ISO 8601 UTC.")
    requests: int
    errors: int = Field(..., description="Calls answered with a status of 400 or more.")
    status_classes: dict[StatusClass, int]
    latency_ms: LatencyMs
    bytes_in: int
    bytes_out: int
    cost: float


class AlertPeriod(_Out):
    kind: Literal["daily", "weekly", "monthly"]
    label: str
    start: str
    end: str


class AlertThreshold(_Out):
    percent: float
    on: Literal["actual", "forecast"]
    probability: float | None
    action: str | None


class BudgetAlert(_Out):
    """A budget alert: the same payload SNS, EventBridge and webhooks receive."""

    type: Literal["budget.threshold_reached", "budget.threshold_forecast"]
    id: str
    budget_id: str
    budget_name: str
    tenant_id: str
    project_id: str | None
    key_id: str | None
    period: AlertPeriod
    metric: str
    amount: float
    currency: str | None
    threshold: AlertThreshold
    value: float
    percent_reached: float
    by: str | None
    fired_at: str
    message: str


class AlertMessage(_Out):
    """A budget alert of a subscribed project (or of a tenant-wide budget: project_id null) as it fires."""

    type: Literal["alert"]
    project_id: str | None
    alert: BudgetAlert


class AnomalyMessage(_Out):
    """An anomaly the hourly pipeline found in a subscribed project's finished hour."""

    type: Literal["anomaly"]
    project_id: str
    anomaly: AnomalyOut


class SubscribedMessage(_Out):
    """The answer to a subscription: the project's messages follow until it is unsubscribed."""

    type: Literal["subscribed"]
    project_id: str


class UnsubscribedMessage(_Out):
    """The answer to an unsubscription: nothing more of the project is sent."""

    type: Literal["unsubscribed"]
    project_id: str


class ErrorMessage(_Out):
    """A message the server could not act on; nothing is delivered for it."""

    type: Literal["error"]
    code: Literal["VALIDATION_ERROR", "AUTHENTICATION_FAILED", "FORBIDDEN", "NOT_FOUND", "INTERNAL_ERROR"]
    message: str
    project_id: str | None = None


class TruncatedMessage(_Out):
    """Sent instead of a message that would not fit a 32 KB frame; read the record over HTTP."""

    type: Literal["alert", "anomaly"]
    project_id: str | None
    id: str | None = None
    truncated: Literal[True]


SERVER_MESSAGES: tuple[type[BaseModel], ...] = (
    MinuteMessage,
    AlertMessage,
    AnomalyMessage,
    SubscribedMessage,
    UnsubscribedMessage,
    ErrorMessage,
    TruncatedMessage,
)
