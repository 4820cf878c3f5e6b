"""What a budget is and the rules a valid one keeps.

A threshold is a percentage of the amount judged on actual spend (on the stream, seconds after the
events that cross it) or on the forecast (hourly). Actions rank notify < throttle < suspend. Among
actual thresholds a higher percentage never carries a weaker action; suspend needs at least 100 %,
so a key is cut off only once the money is spent; forecast thresholds only notify, because a
prediction may warn but should not stop anyone's traffic. ``key_id`` names the key that throttle
and suspend act on; None means every key of the project, or of every project of the tenant for a
tenant-wide budget.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from apimeter.domain.budgets.periods import PERIODS, PeriodKind, zone
from apimeter.domain.forecast import QUANTILES
from apimeter.errors import ValidationFailed

Basis = Literal["actual", "forecast"]
Action = Literal["notify", "throttle", "suspend"]
Metric = Literal["cost", "requests"]

ACTIONS: tuple[Action, ...] = ("notify", "throttle", "suspend")  # weakest first
METRICS: tuple[Metric, ...] = ("cost", "requests")
MAX_THRESHOLDS = 10
MAX_PERCENT = 1000.0
MIN_PROBABILITY = 0.5
MAX_PROBABILITY = QUANTILES[-1]
MAX_WEBHOOKS = 5
MIN_SECRET_LENGTH = 16


@dataclass(frozen=True, slots=True)
class Threshold:
    percent: float
    on: Basis = "actual"
    probability: float = 0.8  # forecast thresholds only: how likely the forecast must make it
    action: Action = "notify"


@dataclass(frozen=True, slots=True)
class Webhook:
    url: str
    secret: str = field(repr=False)  # signs deliveries (apimeter.domain.webhooks); kept out of logs


@dataclass(frozen=True, slots=True)
class Channels:
    sns: bool = False
    eventbridge: bool = False
    webhooks: tuple[Webhook, ...] = ()


@dataclass(frozen=True, slots=True)
class Budget:
    id: str
    tenant_id: str
    project_id: str | None  # None: the whole tenant
    name: str
    amount: float
    period: PeriodKind
    metric: Metric
    timezone: str
    thresholds: tuple[Threshold, ...]
    channels: Channels
    created_at: str
    key_id: str | None = None  # the key throttle/suspend act on; None: all keys in the budget's scope
    currency: str = "USD"  # of a cost budget

    def limit(self, threshold: Threshold) -> float:
        return self.amount * threshold.percent / 100


@dataclass(frozen=True, slots=True)
class WebhookDraft:
    url: str
    secret: str | None = field(default=None, repr=False)  # None: the URL's current secret, or a new one


@dataclass(frozen=True, slots=True)
class ChannelsDraft:
    sns: bool = False
    eventbridge: bool = False
    webhooks: tuple[WebhookDraft, ...] = ()


@dataclass(frozen=True, slots=True)
class BudgetDraft:
    """A budget as a caller asks for it, before its id, defaults and webhook secrets are settled."""

    name: str
    amount: float
    period: PeriodKind
    metric: Metric
    thresholds: tuple[Threshold, ...]
    channels: ChannelsDraft = ChannelsDraft()
    timezone: str | None = None  # None: the project's, UTC for a tenant-wide budget
    currency: str | None = None  # None: the project's pricing currency, USD for a tenant-wide budget
    key_id: str | None = None


@dataclass(frozen=True, slots=True)
class BudgetChanges:
    """What a change to a budget sets. None leaves a field as it is, whether the request left it
    out or sent null: a change cannot clear a budget's key_id or timezone."""

    name: str | None = None
    amount: float | None = None
    period: PeriodKind | None = None
    metric: Metric | None = None
    timezone: str | None = None
    thresholds: tuple[Threshold, ...] | None = None
    channels: ChannelsDraft | None = None  # all of them; a webhook sent without a secret keeps its own
    key_id: str | None = None


def _invalid(message: str, name: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": name}])


def validate(budget: Budget) -> Budget:
    """The budget itself when every rule holds; otherwise ValidationFailed naming the first broken one."""
    if not budget.name.strip() or len(budget.name) > 100:
        raise _invalid("name must be 1 to 100 characters", "name")
    if not (math.isfinite(budget.amount) and budget.amount > 0):
        raise _invalid("amount must be a number greater than 0", "amount")
    if budget.period not in PERIODS:
        raise _invalid(f"period must be one of {', '.join(PERIODS)}", "period")
    if budget.metric not in METRICS:
        raise _invalid(f"metric must be one of {', '.join(METRICS)}", "metric")
    zone(budget.timezone)
    if budget.key_id is not None and budget.project_id is None:
        raise _invalid("key_id needs a project_id: a tenant-wide budget acts on all of its keys", "key_id")
    _validate_thresholds(budget.thresholds)
    _validate_webhooks(budget.channels.webhooks)
    return replace(budget, thresholds=merged(budget.thresholds))


def merged(thresholds: Sequence[Threshold]) -> tuple[Threshold, ...]:
    """Thresholds at the same percent and basis are one, with the strongest action (the first one's
    probability). Crossing several acts as the strongest of them, so actions need no order across
    percents: a notify above a throttle notifies, and the throttle holds."""
    kept: dict[tuple[float, Basis], Threshold] = {}
    for threshold in thresholds:
        key = (threshold.percent, threshold.on)
        first = kept.setdefault(key, threshold)
        if ACTIONS.index(threshold.action) > ACTIONS.index(first.action):
            kept[key] = replace(first, action=threshold.action)
    return tuple(kept.values())


def _validate_thresholds(thresholds: Sequence[Threshold]) -> None:
    if not 1 <= len(thresholds) <= MAX_THRESHOLDS:
        raise _invalid(f"a budget needs 1 to {MAX_THRESHOLDS} thresholds", "thresholds")
    for i, threshold in enumerate(thresholds):
        name = f"thresholds[{i}]"
        if not (math.isfinite(threshold.percent) and 0 < threshold.percent <= MAX_PERCENT):
            raise _invalid(f"{name}.percent must be greater than 0 and at most {MAX_PERCENT:g}", f"{name}.percent")
        if threshold.on not in ("actual", "forecast"):
            raise _invalid(f"{name}.on must be actual or forecast", f"{name}.on")
        if threshold.action not in ACTIONS:
            raise _invalid(f"{name}.action must be one of {', '.join(ACTIONS)}", f"{name}.action")
        if threshold.on == "forecast":
            if not MIN_PROBABILITY <= threshold.probability <= MAX_PROBABILITY:
                raise _invalid(
                    f"{name}.probability must be between {MIN_PROBABILITY:g} and {MAX_PROBABILITY:g}",
                    f"{name}.probability",
                )
            if threshold.action != "notify":
                raise _invalid(f"{name}: a forecast threshold can only notify", f"{name}.action")
        elif threshold.action == "suspend" and threshold.percent < 100:
            raise _invalid(f"{name}: suspend needs a threshold of at least 100 %", f"{name}.action")


def _validate_webhooks(webhooks: Sequence[Webhook]) -> None:
    if len(webhooks) > MAX_WEBHOOKS:
        raise _invalid(f"at most {MAX_WEBHOOKS} webhooks", "channels.webhooks")
    for i, webhook in enumerate(webhooks):
        name = f"channels.webhooks[{i}]"
        _validate_url(webhook.url, f"{name}.url")
        if len(webhook.secret) < MIN_SECRET_LENGTH:
            raise _invalid(f"{name}.secret must be at least {MIN_SECRET_LENGTH} characters", f"{name}.secret")


_PORT = r"(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
# A webhook names its host (a letter in it: no address literal, which could reach into the private
# networks deliveries leave from; addresses a name resolves to are checked at each delivery), over
# https, or http to this machine; no credentials (the signature authenticates). The API's document
# carries this pattern, so what it allows is what is kept.
WEBHOOK_URL_PATTERN = (
    r"^(?:https://(?=[0-9.-]*[A-Za-z])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?|http://(?:localhost|127\.0\.0\.1|\[::1\]))"
    + _PORT
    + r"(?:[/?#][\x21-\x7e]*)?$"
)
_WEBHOOK_URL = re.compile(WEBHOOK_URL_PATTERN)


def _validate_url(url: str, name: str) -> None:
    if len(url) > 2048 or not _WEBHOOK_URL.match(url):
        message = f"{name} must be an https URL naming its host (http only to localhost), no credentials"
        raise _invalid(message, name)


def number_text(value: float) -> str:
    """Shortest text that reads back as the same float, without a trailing ``.0``."""
    return repr(float(value)).removesuffix(".0")
