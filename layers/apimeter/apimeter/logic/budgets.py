"""Budgets: kept per project or per tenant, judged on actual spend and on the forecast.

Actual thresholds are judged twice: on the stream within seconds (logic/spend.py, counting as
events arrive) and every hour from the rollups here, which also catches what the stream could not
count. Forecast thresholds are judged hourly against the latest forecasts. Either way an alert
fires once per threshold and period (logic/alerts.py).
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

import orjson

from apimeter.dal import entities, rollups
from apimeter.dal.entities.alerts import StoredAlert
from apimeter.domain import webhooks
from apimeter.domain.budgets.alerts import Alert, actual_alerts, forecast_alerts
from apimeter.domain.budgets.periods import hour_range, period_of
from apimeter.domain.budgets.rules import Budget, BudgetChanges, BudgetDraft, Channels, ChannelsDraft, Webhook, validate
from apimeter.domain.forecast import Point
from apimeter.domain.ids import new_id
from apimeter.domain.outlook import HOUR_MS
from apimeter.domain.permissions import Action
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import PROJECT_TOTAL
from apimeter.domain.windows import Range, cover, now_iso
from apimeter.errors import Conflict, NotFound
from apimeter.logic import alerts, projects
from apimeter.observability import logger


def _scope(principal: Principal, project_id: str | None, action: Action) -> None:
    """Users whose role allows ``action``; API keys read their own project's budgets, and change none
    (a key must not lift the hold that throttles it, nor point alerts elsewhere)."""
    if project_id is None or action != "budgets.read":
        principal.require(action)
    if project_id is not None:
        projects.get(principal, project_id, action)


def create(principal: Principal, project_id: str | None, draft: BudgetDraft) -> Budget:
    """A new budget; webhooks without a secret get one (shown in this answer)."""
    _scope(principal, project_id, "budgets.manage")
    project = entities.projects.get_project(principal.tenant_id, project_id) if project_id else None
    budget = Budget(
        id=new_id("bud"),
        tenant_id=principal.tenant_id,
        project_id=project_id,
        name=draft.name,
        amount=float(draft.amount),
        period=draft.period,
        metric=draft.metric,
        timezone=draft.timezone or (project.timezone if project else "UTC"),
        thresholds=draft.thresholds,
        channels=_channels(draft.channels, None),
        created_at=now_iso(),
        key_id=draft.key_id,
        currency=draft.currency or (project.pricing.currency if project else "USD"),
    )
    budget = validate(budget)
    _check_key(budget)
    entities.budgets.put_budget(budget, new=True)
    return budget


def update(principal: Principal, project_id: str | None, budget_id: str, changes: BudgetChanges) -> Budget:
    """Change a budget; alerts already fired stay fired for their periods."""
    current = get(principal, project_id, budget_id, "budgets.manage")
    given = {f.name: getattr(changes, f.name) for f in fields(changes)}
    updates: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    if changes.amount is not None:
        updates["amount"] = float(changes.amount)
    if changes.channels is not None:
        updates["channels"] = _channels(changes.channels, current.channels)
    budget = validate(replace(current, **updates))
    _check_key(budget)
    entities.budgets.put_budget(budget, new=False)
    # the next judgement sets what still holds
    entities.holds.clear_hold(budget.tenant_id, budget.project_id, budget.id)
    return budget


def get(principal: Principal, project_id: str | None, budget_id: str, action: Action = "budgets.read") -> Budget:
    _scope(principal, project_id, action)
    budget = entities.budgets.get_budget(principal.tenant_id, budget_id)
    if budget.project_id != project_id:
        raise NotFound("budget not found")
    return budget


def list_all(principal: Principal, project_id: str | None) -> list[Budget]:
    _scope(principal, project_id, "budgets.read")
    return [b for b in entities.budgets.list_budgets(principal.tenant_id) if b.project_id == project_id]


def delete(principal: Principal, project_id: str | None, budget_id: str) -> None:
    budget = get(principal, project_id, budget_id, "budgets.manage")
    entities.holds.clear_hold(budget.tenant_id, budget.project_id, budget.id)
    entities.budgets.delete_budget(budget.tenant_id, budget.id)


def history(principal: Principal, project_id: str | None, budget_id: str, limit: int) -> list[dict[str, Any]]:
    budget = get(principal, project_id, budget_id)
    return [_alert_out(alert) for alert in entities.alerts.list_alerts(budget.tenant_id, budget.id, limit)]


def _alert_out(alert: StoredAlert) -> dict[str, Any]:
    deliveries = {c: _delivery_state(at) for c, at in alert.delivered.items()}
    deliveries |= dict.fromkeys(alert.pending, "pending")
    errors = {c: at.removeprefix(alerts.REFUSED) for c, at in alert.delivered.items() if at.startswith(alerts.REFUSED)}
    return {**alert.body, "deliveries": deliveries, "delivery_errors": errors}


def _delivery_state(at: str) -> str:
    """What ``entities.delivered`` recorded: a time, "dropped", or a refusal with its reason."""
    if at == "dropped":
        return "dropped"
    return "refused" if at.startswith(alerts.REFUSED) else "delivered"


def _channels(draft: ChannelsDraft, current: Channels | None) -> Channels:
    """Channels as asked for. A webhook sent without a secret keeps the one it had (same URL) or
    gets a new one."""
    known = {w.url: w.secret for w in current.webhooks} if current else {}
    hooks = tuple(Webhook(w.url, w.secret or known.get(w.url) or webhooks.new_secret()) for w in draft.webhooks)
    return Channels(draft.sns, draft.eventbridge, hooks)


def _check_key(budget: Budget) -> None:
    """The key a project budget names is one of its project's (``validate`` has refused a key_id on a
    tenant-wide budget)."""
    if budget.key_id is None or budget.project_id is None:
        return
    try:
        entities.keys.get_key(budget.tenant_id, budget.project_id, budget.key_id)
    except NotFound as exc:  # the path's resources exist (404 would say otherwise); the project lacks that key
        raise Conflict(f"key_id {budget.key_id!r} is not a key of this project") from exc


# the hourly judgement


@dataclass(frozen=True, slots=True)
class Judged:
    budgets: int
    fired: int


def evaluate(tenant_id: str, hour_ms: int | None = None, now_ms: int | None = None) -> Judged:
    """Judge every budget of a tenant on its actual spend up to the current hour (from rollups)
    and on the latest forecasts for the rest of its period. When the judged hour (``hour_ms``, the
    pipeline's) closed a period, that period is judged whole too: its last hour counts."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    found = entities.budgets.list_budgets(tenant_id)
    if not found:
        return Judged(0, 0)
    project_ids = [p.id for p in entities.projects.list_projects(tenant_id)]
    paths = {pid: _forecast_path(tenant_id, pid) for pid in project_ids}
    as_of = now - now % HOUR_MS
    fired = 0
    for budget in found:
        try:
            fired += _judge(budget, project_ids, paths, as_of, hour_ms, now)
        except Exception:  # one budget's failure leaves the tenant's others judged; the next run retries
            logger.exception("budget not judged", extra={"budget_id": budget.id})
    return Judged(len(found), fired)


def _judge(
    budget: Budget,
    project_ids: list[str],
    paths: dict[str, dict[str, Any] | None],
    as_of: int,
    hour_ms: int | None,
    now: int,
) -> int:
    scope = [budget.project_id] if budget.project_id else project_ids
    period = period_of(budget.period, budget.timezone, now)
    fired = 0
    if hour_ms is not None:
        closed = period_of(budget.period, budget.timezone, hour_ms)
        if closed != period:
            spent = _spent(scope, budget.metric, hour_range(closed))
            fired += len(alerts.fire(budget, actual_alerts(budget, closed, spent, now)))
    spent = _spent(scope, budget.metric, Range(hour_range(period).start_ms, as_of))
    due: list[Alert] = actual_alerts(budget, period, spent, now)
    forecast = _sum_paths([paths.get(p) for p in scope], budget.metric, as_of)
    if forecast and any(t.on == "forecast" for t in budget.thresholds):
        due += forecast_alerts(budget, period, spent, forecast, as_of, HOUR_MS, now)
    return fired + len(alerts.fire(budget, due))


def _spent(project_ids: Sequence[str], metric: str, span: Range) -> float:
    if span.end_ms <= span.start_ms:
        return 0.0
    runs = cover(span)
    total = 0.0
    for project_id in project_ids:
        for item in rollups.read_runs(project_id, runs, PROJECT_TOTAL).items:
            total += float(item.get(metric, 0))
    return total


def _forecast_path(tenant_id: str, project_id: str) -> dict[str, Any] | None:
    found = entities.forecasts.get_forecast_path(tenant_id, project_id)
    return orjson.loads(zlib.decompress(found)) if found else None


def _sum_paths(paths: Sequence[dict[str, Any] | None], metric: str, as_of: int) -> list[Point]:
    """The hourly forecast of a scope from ``as_of`` on: its projects' current paths summed step by
    step (their quantiles too, as domain/forecast.total does). A project without one (too little
    traffic, or its forecast failed this hour) adds nothing; empty when none has one."""
    current = [p for p in paths if p is not None and p["as_of_ms"] == as_of]
    if len(current) < len(paths):
        logger.info("forecast thresholds judged without some projects", extra={"missing": len(paths) - len(current)})
    if not current:
        return []
    steps = min(len(p[metric]) for p in current)
    return [Point(*(sum(p[metric][h][i] for p in current) for i in range(5))) for h in range(steps)]
