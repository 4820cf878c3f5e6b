"""Alerts: which thresholds a period's actual or forecast spend reaches, and what is told.

An alert fires once per threshold and period: the store writes it only if no alert with the same
``alert_id`` exists, so retries and concurrent evaluators agree without talking to each other.

Forecast probability. A forecast step carries the median and the 80 % and 95 % central intervals,
that is its 2.5, 10, 50, 90 and 97.5 % quantiles. "Reaches X with probability p" means the
(1 - p) quantile of the period's total is at least X: the lower 95 % bound answers p = 0.975,
the lower 80 % bound p = 0.9 (not 0.8: it is the 10th percentile), the median p = 0.5. Between
these, the quantile is interpolated linearly in the normal z-score of its level, exact at the
known levels and close for roughly normal errors. p is accepted in [0.5, 0.975]: that range
needs no extrapolation, and below even odds "will exceed" would mostly be wrong. Quantiles of a
sum of steps are the sums of the steps' quantiles, the assumption ``forecast.total`` makes.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from statistics import NormalDist
from typing import Any

from apimeter.domain.budgets.periods import Period, PeriodKind, zone
from apimeter.domain.budgets.rules import Action, Budget, Metric, Threshold, number_text
from apimeter.domain.forecast import QUANTILES, Point, total
from apimeter.domain.windows import iso

# Cost totals are sums of floats and can land a hair below the figure a user sees as reached.
_TOLERANCE = 1e-9
_Z = tuple(NormalDist().inv_cdf(level) for level in QUANTILES)


def _reaches(value: float, limit: float) -> bool:
    return value >= limit - _TOLERANCE * abs(limit)


def crossed(budget: Budget, spent: float) -> list[Threshold]:
    """The actual thresholds ``spent`` has reached, lowest first."""
    return sorted(
        (t for t in budget.thresholds if t.on == "actual" and _reaches(spent, budget.limit(t))),
        key=lambda t: t.percent,
    )


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


def alert_id(budget_id: str, period_label: str, threshold: Threshold) -> str:
    """Key of the conditional put that makes an alert fire once per threshold and period."""
    return f"{budget_id}#{period_label}#{threshold.on}#{number_text(threshold.percent)}"


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
            f"{alert.budget_name}: {alert.metric} will exceed {number_text(threshold.percent)} % of {budget} "
            f"with {number_text(round(threshold.probability * 100, 1))} % probability "
            f"by {alert.by} ({alert.period.label})"
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
