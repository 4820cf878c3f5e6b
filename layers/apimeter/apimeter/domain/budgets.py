"""Budgets: periods in the budget's time zone, thresholds on actual and forecast spend, and alerts.

A budget caps the cost or the request count of a project (or, with no project, of a whole tenant)
per day, ISO week (Monday first) or calendar month in an IANA time zone. A threshold is a
percentage of the amount judged on actual spend (on the stream, seconds after the events that
cross it) or on the forecast (hourly). An alert fires once per threshold and period: the store
writes it only if no alert with the same ``alert_id`` exists, so retries and concurrent
evaluators agree without talking to each other.

Periods and hours. A period runs between exact local midnights: a local day lasts 23 or 25 hours
when the clocks change, and a day whose midnight falls in a DST gap starts when the clock jumps.
Rollups are UTC hours, and where a zone is 30 or 45 minutes off UTC a period boundary cuts an
hour in two. Such an hour counts whole in the period that holds its start (``hour_range``), so
every hour belongs to exactly one period and the periods add up to the total. The stream charges
an event the same way (``charged_period``), so the figure seen within seconds and the one re-read
from rollups agree.

Forecast probability. A forecast step carries the median and the 80 % and 95 % central intervals,
that is its 2.5, 10, 50, 90 and 97.5 % quantiles. "Reaches X with probability p" means the
(1 - p) quantile of the period's total is at least X: the lower 95 % bound answers p = 0.975,
the lower 80 % bound p = 0.9 (not 0.8: it is the 10th percentile), the median p = 0.5. Between
these, the quantile is interpolated linearly in the normal z-score of its level, exact at the
known levels and close for roughly normal errors. p is accepted in [0.5, 0.975]: that range
needs no extrapolation, and below even odds "will exceed" would mostly be wrong. Quantiles of a
sum of steps are the sums of the steps' quantiles, the assumption ``forecast.total`` makes.

Escalation. Actions rank notify < throttle < suspend. Among actual thresholds a higher
percentage never carries a weaker action; suspend needs at least 100 %, so a key is cut off only
once the money is spent; forecast thresholds only notify, because a prediction may warn but
should not stop anyone's traffic. ``key_id`` names the key that throttle and suspend act on;
None means every key of the project, or of every project of the tenant for a tenant-wide budget.
An action holds until the end of the period whose spend triggered it.
"""

from __future__ import annotations

import bisect
import ipaddress
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate, pairwise
from statistics import NormalDist
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apimeter.domain.forecast import QUANTILES, Point, total
from apimeter.domain.windows import Range, bucket_key, bucket_start, iso
from apimeter.errors import ValidationFailed

Basis = Literal["actual", "forecast"]
Action = Literal["notify", "throttle", "suspend"]
PeriodKind = Literal["daily", "weekly", "monthly"]
Metric = Literal["cost", "requests"]

ACTIONS: tuple[Action, ...] = ("notify", "throttle", "suspend")  # weakest first
PERIODS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly")
METRICS: tuple[Metric, ...] = ("cost", "requests")
MAX_THRESHOLDS = 10
MAX_PERCENT = 1000.0
MIN_PROBABILITY = 0.5
MAX_PROBABILITY = QUANTILES[-1]
MAX_WEBHOOKS = 5
MIN_SECRET_LENGTH = 16
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_HOUR_MS = 3_600_000
# Cost totals are sums of floats and can land a hair below the figure a user sees as reached.
_TOLERANCE = 1e-9
_Z = tuple(NormalDist().inv_cdf(level) for level in QUANTILES)


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
class Period:
    """A half-open period ``[start_ms, end_ms)`` and its stable name (``2026-11``, ``2026-W47``, ``2026-11-22``)."""

    start_ms: int
    end_ms: int
    label: str


# validation


def _invalid(message: str, name: str) -> ValidationFailed:
    return ValidationFailed(message, details=[{"field": name}])


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise _invalid(f"timezone {tz!r} is not an IANA time zone (e.g. Europe/Paris)", "timezone") from exc


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
    return budget


def _validate_thresholds(thresholds: Sequence[Threshold]) -> None:
    if not 1 <= len(thresholds) <= MAX_THRESHOLDS:
        raise _invalid(f"a budget needs 1 to {MAX_THRESHOLDS} thresholds", "thresholds")
    seen: set[tuple[float, Basis]] = set()
    for i, threshold in enumerate(thresholds):
        name = f"thresholds[{i}]"
        if not (math.isfinite(threshold.percent) and 0 < threshold.percent <= MAX_PERCENT):
            raise _invalid(f"{name}.percent must be greater than 0 and at most {MAX_PERCENT:g}", f"{name}.percent")
        if threshold.on not in ("actual", "forecast"):
            raise _invalid(f"{name}.on must be actual or forecast", f"{name}.on")
        if threshold.action not in ACTIONS:
            raise _invalid(f"{name}.action must be one of {', '.join(ACTIONS)}", f"{name}.action")
        if (threshold.percent, threshold.on) in seen:
            raise _invalid(f"{name} repeats {_number(threshold.percent)} % on {threshold.on}", name)
        seen.add((threshold.percent, threshold.on))
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
    actual = sorted((t for t in thresholds if t.on == "actual"), key=lambda t: t.percent)
    for lower, higher in pairwise(actual):
        if ACTIONS.index(higher.action) < ACTIONS.index(lower.action):
            raise _invalid(
                f"actions cannot de-escalate: {lower.action} at {_number(lower.percent)} % "
                f"but {higher.action} at {_number(higher.percent)} %",
                "thresholds",
            )


def _validate_webhooks(webhooks: Sequence[Webhook]) -> None:
    if len(webhooks) > MAX_WEBHOOKS:
        raise _invalid(f"at most {MAX_WEBHOOKS} webhooks", "channels.webhooks")
    for i, webhook in enumerate(webhooks):
        name = f"channels.webhooks[{i}]"
        _validate_url(webhook.url, f"{name}.url")
        if len(webhook.secret) < MIN_SECRET_LENGTH:
            raise _invalid(f"{name}.secret must be at least {MIN_SECRET_LENGTH} characters", f"{name}.secret")


def _validate_url(url: str, name: str) -> None:
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError as exc:
        raise _invalid(f"{name} is not a valid URL", name) from exc
    local = host in _LOCAL_HOSTS
    if len(url) > 2048 or not host or not (parts.scheme == "https" or (parts.scheme == "http" and local)):
        raise _invalid(f"{name} must be an https URL (http only for localhost)", name)
    if parts.username is not None or parts.password is not None:
        raise _invalid(f"{name} must not carry credentials; the signature authenticates deliveries", name)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return
    # Deliveries leave from inside AWS; an address literal must not reach into private networks.
    if not local and not address.is_global:
        raise _invalid(f"{name} must not point at a private, link-local or reserved address", name)


# periods


def _start_of(day: date, tz: ZoneInfo) -> int:
    """The first instant of local ``day``. Where midnight is skipped (a DST gap, or Apia crossing the
    date line on 30 December 2011) the day starts when the clock jumps, which lies between the
    instants midnight would have under the offsets before and after the jump."""
    lo, hi = sorted(int(datetime(day.year, day.month, day.day, fold=fold, tzinfo=tz).timestamp()) for fold in (0, 1))
    if datetime.fromtimestamp(lo, tz).date() >= day:
        return lo * 1000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).date() < day:
            lo = mid
        else:
            hi = mid
    return hi * 1000


def period_of(kind: PeriodKind, tz: str, instant_ms: int) -> Period:
    """The daily, weekly (ISO, from Monday) or monthly period of ``tz`` holding ``instant_ms``."""
    where = zone(tz)
    local = datetime.fromtimestamp(instant_ms // 1000, where).date()
    if kind == "daily":
        first, after, label = local, local + timedelta(days=1), local.isoformat()
    elif kind == "weekly":
        year, week, weekday = local.isocalendar()
        first = local - timedelta(days=weekday - 1)
        after, label = first + timedelta(days=7), f"{year}-W{week:02d}"
    elif kind == "monthly":
        first = local.replace(day=1)
        after, label = (first + timedelta(days=32)).replace(day=1), f"{local.year}-{local.month:02d}"
    else:
        raise _invalid(f"period must be one of {', '.join(PERIODS)}", "period")
    return Period(_start_of(first, where), _start_of(after, where), label)


def _ceil_hour(ts_ms: int) -> int:
    return -(-ts_ms // _HOUR_MS) * _HOUR_MS


def hour_range(period: Period) -> Range:
    """The UTC hours counted in ``period``: those that start in it. ``windows.cover`` of this range
    gives the fewest rollup buckets to read."""
    return Range(_ceil_hour(period.start_ms), _ceil_hour(period.end_ms))


def hour_buckets(period: Period) -> list[str]:
    """The hour rollup buckets (``2026-11-22T11``) counted in ``period``, in order."""
    span = hour_range(period)
    return [bucket_key(start, "hour") for start in range(span.start_ms, span.end_ms, _HOUR_MS)]


def charged_period(kind: PeriodKind, tz: str, ts_ms: int) -> Period:
    """The period an event at ``ts_ms`` counts in: the one holding the start of its UTC hour."""
    return period_of(kind, tz, bucket_start(ts_ms, "hour"))


# thresholds


def _reaches(value: float, limit: float) -> bool:
    return value >= limit - _TOLERANCE * abs(limit)


def crossed(budget: Budget, spent: float) -> list[Threshold]:
    """The actual thresholds ``spent`` has reached, lowest first."""
    return sorted(
        (t for t in budget.thresholds if t.on == "actual" and _reaches(spent, budget.limit(t))),
        key=lambda t: t.percent,
    )


def actions_for(fired: Iterable[Threshold]) -> Action | None:
    """The strongest action among ``fired``; None when nothing fired. Given every threshold reached
    so far in the period, it is the state the key should be in, so applying it again is harmless."""
    ranks = [ACTIONS.index(t.action) for t in fired]
    return ACTIONS[max(ranks)] if ranks else None


def quantile(point: Point, level: float) -> float:
    """The ``level`` quantile of a forecast point (level in [0.025, 0.975]), linear in the z-score
    between the known quantiles."""
    if not QUANTILES[0] <= level <= QUANTILES[-1]:
        raise ValueError(f"quantile level {level} is outside the forecast's intervals")
    known = (point.lower95, point.lower80, point.value, point.upper80, point.upper95)
    hi = bisect.bisect_left(QUANTILES, level)
    if QUANTILES[hi] == level:
        return known[hi]
    lo = hi - 1
    weight = (NormalDist().inv_cdf(level) - _Z[lo]) / (_Z[hi] - _Z[lo])
    return known[lo] + weight * (known[hi] - known[lo])


@dataclass(frozen=True, slots=True)
class ForecastCrossing:
    threshold: Threshold
    projected: float  # the period's total at the threshold's probability
    by_ms: int  # end of the step in which the running total gets there
    by: str  # local date of the last instant before by_ms, e.g. 2026-11-19


def forecast_crossings(
    budget: Budget, period: Period, actual: float, points: Sequence[Point], first_step_ms: int, step_ms: int
) -> list[ForecastCrossing]:
    """The forecast thresholds the period's total reaches with their probability, and by when.

    ``actual`` is the period's spend before ``first_step_ms``; ``points[i]`` forecasts the step
    starting at ``first_step_ms + i * step_ms``. Steps starting at or after the period's end are
    ignored, and a step straddling it counts whole, as hours do.
    """
    in_period = max(0, min(len(points), -(-(period.end_ms - first_step_ms) // step_ms)))
    running = list(accumulate(points[:in_period], lambda a, b: total((a, b))))
    tz = zone(budget.timezone)
    found = []
    for threshold in sorted((t for t in budget.thresholds if t.on == "forecast"), key=lambda t: t.percent):
        level, limit = 1 - threshold.probability, budget.limit(threshold)
        steps = (i for i, point in enumerate(running) if _reaches(actual + quantile(point, level), limit))
        by_ms: int | None = first_step_ms if _reaches(actual, limit) else None
        if by_ms is None and (step := next(steps, None)) is not None:
            by_ms = min(first_step_ms + (step + 1) * step_ms, period.end_ms)
        if by_ms is None:
            continue
        projected = actual + (quantile(running[-1], level) if running else 0.0)
        by = datetime.fromtimestamp((by_ms - 1) // 1000, tz).date().isoformat()
        found.append(ForecastCrossing(threshold, projected, by_ms, by))
    return found


# alerts


def _number(value: float) -> str:
    """Shortest text that reads back as the same float, without a trailing ``.0``."""
    return repr(float(value)).removesuffix(".0")


def alert_id(budget_id: str, period_label: str, threshold: Threshold) -> str:
    """Key of the conditional put that makes an alert fire once per threshold and period."""
    return f"{budget_id}#{period_label}#{threshold.on}#{_number(threshold.percent)}"


@dataclass(frozen=True, slots=True)
class Alert:
    id: str
    budget_id: str
    budget_name: str
    tenant_id: str
    project_id: str | None
    key_id: str | None
    period_kind: PeriodKind
    period: Period
    threshold: Threshold
    metric: Metric
    amount: float
    currency: str
    value: float  # spend so far (actual) or the projected total at the threshold's probability (forecast)
    fired_at_ms: int
    by: str | None = None  # forecast alerts: local date by which the threshold is reached

    @property
    def action(self) -> Action:
        return self.threshold.action

    @property
    def percent_reached(self) -> float:
        return self.value / self.amount * 100


def _alert(budget: Budget, period: Period, threshold: Threshold, value: float, now_ms: int, by: str | None) -> Alert:
    return Alert(
        alert_id(budget.id, period.label, threshold),
        budget.id,
        budget.name,
        budget.tenant_id,
        budget.project_id,
        budget.key_id,
        budget.period,
        period,
        threshold,
        budget.metric,
        budget.amount,
        budget.currency,
        value,
        now_ms,
        by,
    )


def actual_alerts(budget: Budget, period: Period, spent: float, now_ms: int) -> list[Alert]:
    """An alert per actual threshold ``spent`` has reached; the store keeps only the first of each."""
    return [_alert(budget, period, t, spent, now_ms, None) for t in crossed(budget, spent)]


def forecast_alerts(
    budget: Budget,
    period: Period,
    actual: float,
    points: Sequence[Point],
    first_step_ms: int,
    step_ms: int,
    now_ms: int,
) -> list[Alert]:
    crossings = forecast_crossings(budget, period, actual, points, first_step_ms, step_ms)
    return [_alert(budget, period, c.threshold, c.projected, now_ms, c.by) for c in crossings]


def _amount_text(alert: Alert) -> str:
    if alert.metric == "cost":
        return f"{alert.amount:,.2f} {alert.currency}"
    return f"{alert.amount:,.0f} requests"


def message(alert: Alert) -> str:
    """One line for a person: what was reached, of which budget, in which period, and what happens."""
    threshold = alert.threshold
    budget = f"the {_amount_text(alert)} {alert.period_kind} budget"
    if threshold.on == "actual":
        reached = math.floor(alert.percent_reached * (1 + _TOLERANCE))
        text = f"{alert.budget_name}: {alert.metric} reached {reached} % of {budget} ({alert.period.label})"
    else:
        text = (
            f"{alert.budget_name}: {alert.metric} will exceed {_number(threshold.percent)} % of {budget} "
            f"with {_number(round(threshold.probability * 100, 1))} % probability by {alert.by} ({alert.period.label})"
        )
    if alert.action == "notify":
        return text
    keys = f"key {alert.key_id}" if alert.key_id else "all keys"
    return f"{text}. Action: {alert.action} {keys}."


def payload(alert: Alert) -> dict[str, Any]:
    """The notification sent to SNS, EventBridge and webhooks; field names are a public contract."""
    threshold = alert.threshold
    return {
        "type": "budget.threshold_reached" if threshold.on == "actual" else "budget.threshold_forecast",
        "id": alert.id,
        "budget_id": alert.budget_id,
        "budget_name": alert.budget_name,
        "tenant_id": alert.tenant_id,
        "project_id": alert.project_id,
        "key_id": alert.key_id,
        "period": {
            "kind": alert.period_kind,
            "label": alert.period.label,
            "start": iso(alert.period.start_ms),
            "end": iso(alert.period.end_ms),
        },
        "metric": alert.metric,
        "amount": alert.amount,
        "currency": alert.currency if alert.metric == "cost" else None,
        "threshold": {
            "percent": threshold.percent,
            "on": threshold.on,
            "probability": threshold.probability if threshold.on == "forecast" else None,
            "action": threshold.action,
        },
        "value": alert.value,
        "percent_reached": round(alert.percent_reached, 2),
        "by": alert.by,
        "fired_at": iso(alert.fired_at_ms),
        "message": message(alert),
    }


# escalating actions: holds on API keys

THROTTLE_SHARE = 10  # a throttled key keeps a tenth of its per-key rate limits
HOLD_PREFIX = "hold#"  # attributes of a project or tenant row: hold#<budget id> -> {key, action, until}


def hold_of(budget: Budget, due: Sequence[Alert]) -> dict[str, Any] | None:
    """The hold a budget puts on its keys when the thresholds of the ``due`` alerts are crossed: the
    strongest of their actions, until the end of the period. None when they only notify."""
    action = actions_for(a.threshold for a in due)
    if action is None or action == "notify":
        return None
    until = max(a.period.end_ms for a in due) // 1000
    return {"key": budget.key_id or "*", "action": action, "until": until}


def held_limits(limits: dict[str, int], rows: Iterable[dict[str, Any]], key_id: str, now_s: float) -> dict[str, int]:
    """An API key's rate limits under the budget holds on its project and tenant rows: a throttled
    key keeps a tenth of its per-key limits, a suspended one none (every request answers 429 with
    Retry-After) until the hold ends with its period."""
    actions = [
        hold["action"]
        for row in rows
        for name, hold in row.items()
        if name.startswith(HOLD_PREFIX) and hold["key"] in ("*", key_id) and float(hold["until"]) > now_s
    ]
    if not actions:
        return limits
    suspended = "suspend" in actions
    return {
        name: (0 if suspended else max(1, value // THROTTLE_SHARE)) if name.startswith("key_per_") else value
        for name, value in limits.items()
    }
