"""Budgets judged on the events stream: an actual threshold fires within seconds of the events
that cross it.

Each batch adds its events' cost or requests to a spend counter per budget and period (the period
that holds each event's hour, in the budget's time zone) and judges the new total. A budget's
failure is logged and skipped rather than failing the batch: a retried batch would count again,
and the hourly judgement (logic/budgets.evaluate) re-reads exact spend from the rollups and fires
whatever the stream missed. Counters are therefore at least once: a batch that Lambda retries
after a timeout can count twice, which can make an actual alert fire early, never late.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apimeter.dal import entities, streams
from apimeter.domain.budgets.alerts import actual_alerts
from apimeter.domain.budgets.periods import Period, charged_period
from apimeter.domain.budgets.rules import Budget
from apimeter.logic import alerts
from apimeter.observability import logger

CACHE_SECONDS = 30  # a new or changed budget is watched within this long
KEEP_DAYS = 40  # a counter outlives its period by this much (TTL)
_cache: dict[str, tuple[float, list[Budget]]] = {}


@dataclass(frozen=True, slots=True)
class Charge:
    tenant_id: str
    project_id: str
    ts_ms: int
    cost: float


@dataclass(frozen=True, slots=True)
class Watched:
    events: int
    counters: int
    fired: int


def charges(records: Sequence[dict[str, Any]]) -> list[Charge]:
    """The new events of a stream batch, as much of them as spend needs."""
    found = []
    for record in records:
        try:
            row = streams.new_image(record)
        except KeyError:
            continue  # an INSERT without its image has nothing to charge
        if not row or not row.get("tenant_id"):
            continue  # rewrites, expiries, and events stored before they carried their tenant
        cost = float(row["cost"]) if "cost" in row else 0.0
        found.append(Charge(row["tenant_id"], row["project_id"], int(row["ts"]), cost))
    return found


def _watched(tenant_id: str) -> list[Budget]:
    cached = _cache.get(tenant_id)
    now = time.monotonic()
    if cached and cached[0] > now:
        return cached[1]
    found = [b for b in entities.budgets.list_budgets(tenant_id) if any(t.on == "actual" for t in b.thresholds)]
    _cache[tenant_id] = (now + CACHE_SECONDS, found)
    return found


def watch(batch: Sequence[Charge]) -> Watched:
    by_tenant: dict[str, list[Charge]] = defaultdict(list)
    for charge in batch:
        by_tenant[charge.tenant_id].append(charge)
    counters = fired = 0
    for tenant_id, tenant_charges in by_tenant.items():
        for budget in _watched(tenant_id):
            try:
                for period, amount in _sums(budget, tenant_charges).items():
                    expires = period.end_ms // 1000 + KEEP_DAYS * 86_400
                    spent = entities.budgets.add_spend(budget.id, period.label, amount, expires)
                    counters += 1
                    due = actual_alerts(budget, period, spent, int(time.time() * 1000))
                    fired += len(alerts.fire(budget, due))
            except Exception:
                logger.exception("budget left to the hourly judgement", extra={"budget_id": budget.id})
    return Watched(len(batch), counters, fired)


def _sums(budget: Budget, batch: Sequence[Charge]) -> dict[Period, float]:
    sums: dict[Period, float] = defaultdict(float)
    for charge in batch:
        if budget.project_id in (None, charge.project_id):
            period = charged_period(budget.period, budget.timezone, charge.ts_ms)
            sums[period] += charge.cost if budget.metric == "cost" else 1
    return {period: amount for period, amount in sums.items() if amount}
