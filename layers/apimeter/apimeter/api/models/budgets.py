"""Budget models (thresholds, channels) and the alerts budgets fire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from apimeter.api.models.common import Name, Zone, _Input
from apimeter.domain.budgets.rules import WEBHOOK_URL_PATTERN, Budget


class _ActualThresholdIn(_Input):
    percent: float = Field(..., ge=0.001, le=1000, description="Of the budget's amount, e.g. 80.")
    on: Literal["actual"] = Field("actual", description="Actual spend so far (the default), or the forecast.")
    probability: float = Field(0.8, ge=0.5, le=0.975, description="Read for forecast thresholds only.")


class NotifyThresholdIn(_ActualThresholdIn):
    """Notify, or throttle the budget's keys, when actual spend reaches ``percent``."""

    action: Literal["notify", "throttle"] = "notify"


class SuspendThresholdIn(_ActualThresholdIn):
    """Suspend the budget's keys when actual spend reaches ``percent``: 100 % or more."""

    percent: float = Field(..., ge=100, le=1000, description="Of the budget's amount, at least 100.")
    action: Literal["suspend"]


class ForecastThresholdIn(_Input):
    """Notify when the forecast makes reaching ``percent`` by the period's end at least ``probability`` likely."""

    percent: float = Field(..., ge=0.001, le=1000, description="Of the budget's amount, e.g. 100.")
    on: Literal["forecast"]
    probability: float = Field(0.8, ge=0.5, le=0.975, description="How likely the forecast must make the crossing.")
    action: Literal["notify"] = "notify"


# Thresholds at the same percent and basis merge into the strongest action; crossing several acts as
# the strongest of them, so the order of actions across percents is free.
ThresholdIn = NotifyThresholdIn | SuspendThresholdIn | ForecastThresholdIn


class WebhookIn(_Input):
    url: str = Field(
        ...,
        max_length=2048,
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN},  # a look-ahead: checked by the budget's rules
        description="https, naming its host (http only to localhost); no credentials.",
    )
    secret: str | None = Field(
        None, min_length=16, max_length=256, description="Signs deliveries; generated when left out."
    )


class ChannelsIn(_Input):
    sns: bool = Field(False, description="Publish to the alerts SNS topic.")
    eventbridge: bool = Field(False, description="Put an event on the alerts EventBridge bus.")
    webhooks: list[WebhookIn] = Field(default_factory=list, max_length=5)


class TenantBudgetIn(_Input):
    """A budget over every project of the organization; it acts on all of their keys."""

    name: Name = Field(..., min_length=1, max_length=100)
    amount: float = Field(..., ge=1e-6, le=1e12, description="In the budget's currency, or requests.")
    period: Literal["daily", "weekly", "monthly"]
    metric: Literal["cost", "requests"] = "cost"
    timezone: Zone | None = Field(None, description="Default: the project's (UTC tenant-wide).")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="Default: the project's pricing currency.")
    thresholds: list[ThresholdIn] = Field(..., min_length=1, max_length=10)
    channels: ChannelsIn = Field(default_factory=ChannelsIn)


class BudgetIn(TenantBudgetIn):
    key_id: str | None = Field(None, max_length=64, description="The key throttle/suspend act on; default: all.")


class TenantBudgetPatch(_Input):
    name: Name | None = Field(None, min_length=1, max_length=100)
    amount: float | None = Field(None, ge=1e-6, le=1e12)
    period: Literal["daily", "weekly", "monthly"] | None = None
    metric: Literal["cost", "requests"] | None = None
    timezone: Zone | None = None
    thresholds: list[ThresholdIn] | None = Field(None, min_length=1, max_length=10)
    channels: ChannelsIn | None = None


class BudgetPatch(TenantBudgetPatch):
    key_id: str | None = Field(None, max_length=64)


class WebhookOut(BaseModel):
    url: str
    secret: str | None = Field(None, description="Shown when the budget is created or its webhooks change.")
    secret_hint: str = Field(..., description="The secret's last four characters.")


class ChannelsOut(BaseModel):
    sns: bool
    eventbridge: bool
    webhooks: list[WebhookOut]


class ThresholdOut(BaseModel):
    percent: float
    on: Literal["actual", "forecast"]
    probability: float | None
    action: Literal["notify", "throttle", "suspend"]


class BudgetOut(BaseModel):
    id: str
    project_id: str | None = Field(..., description="null for a tenant-wide budget.")
    name: str
    amount: float
    currency: str
    period: Literal["daily", "weekly", "monthly"]
    metric: Literal["cost", "requests"]
    timezone: str
    thresholds: list[ThresholdOut]
    channels: ChannelsOut
    key_id: str | None
    created_at: str

    @classmethod
    def of(cls, budget: Budget, show_secrets: bool = False) -> BudgetOut:
        return cls(
            id=budget.id,
            project_id=budget.project_id,
            name=budget.name,
            amount=budget.amount,
            currency=budget.currency,
            period=budget.period,
            metric=budget.metric,
            timezone=budget.timezone,
            thresholds=[
                ThresholdOut(
                    percent=t.percent,
                    on=t.on,
                    probability=t.probability if t.on == "forecast" else None,
                    action=t.action,
                )
                for t in budget.thresholds
            ],
            channels=ChannelsOut(
                sns=budget.channels.sns,
                eventbridge=budget.channels.eventbridge,
                webhooks=[
                    WebhookOut(url=w.url, secret=w.secret if show_secrets else None, secret_hint=w.secret[-4:])
                    for w in budget.channels.webhooks
                ],
            ),
            key_id=budget.key_id,
            created_at=budget.created_at,
        )


class BudgetListOut(BaseModel):
    budgets: list[BudgetOut]


class AlertOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["budget.threshold_reached", "budget.threshold_forecast"]
    budget_id: str
    period: dict[str, str]
    metric: str
    amount: float
    value: float = Field(..., description="Spend when it fired (actual), or the projected total (forecast).")
    percent_reached: float
    by: str | None = Field(None, description="Forecast alerts: the local date the threshold is reached by.")
    fired_at: str
    message: str
    deliveries: dict[str, Literal["delivered", "pending", "dropped", "refused"]] = Field(
        ...,
        description="Per channel: delivered, pending (being retried), dropped (failing for days), or refused "
        "(a webhook whose host resolves to a private, loopback, link-local or otherwise internal address).",
    )
    delivery_errors: dict[str, str] = Field(default_factory=dict, description="Why each refused channel was refused.")


class AlertListOut(BaseModel):
    alerts: list[AlertOut]
