"""Forecasts of a project's requests and cost: made hourly by the pipeline, or now on request.

A forecast reads the project's hourly totals (four weeks, or back to the start of its month when
that is longer: at most 32 days of hour items) and keeps the outlook it computes as the project's
latest. It is a pure function of those figures and the hour, so making it twice in an hour gives
the same forecast.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import asdict, astuple
from typing import Any

import orjson

from apimeter.dal import entities, rollups
from apimeter.domain.budgets.periods import period_of
from apimeter.domain.outlook import HISTORY_HOURS, HOUR_MS, History, outlook
from apimeter.domain.principal import Principal
from apimeter.domain.windows import iso, now_iso
from apimeter.errors import NotFound
from apimeter.logic import projects


def refresh(tenant_id: str, project_id: str, now_ms: int | None = None) -> dict[str, Any]:
    """Forecast from the current hour and keep it as the project's latest; returns it."""
    project = entities.projects.get_project(tenant_id, project_id)
    now = int(time.time() * 1000) if now_ms is None else now_ms
    as_of = now - now % HOUR_MS
    month_start = period_of("monthly", project.timezone, as_of).start_ms
    first = min(as_of - HISTORY_HOURS * HOUR_MS, month_start - month_start % HOUR_MS)
    hours = rollups.hourly(project_id, first, as_of)
    requests = [float(item.get("requests", 0)) for item in hours]
    cost = [float(item.get("cost", 0)) for item in hours]
    made = outlook(History(first, requests, cost), as_of, project.timezone)
    document: dict[str, Any] = {
        "project_id": project_id,
        "as_of": iso(as_of),
        "timezone": project.timezone,
        "currency": project.pricing.currency,
        "status": "ready" if made else "insufficient_history",
    }
    path = None
    if made:
        document |= {k: v for k, v in asdict(made).items() if k not in ("as_of_ms", "paths")}
        rounded = {
            name: [[float(f"{x:.5g}") for x in astuple(p)] for p in points] for name, points in made.paths.items()
        }
        path = zlib.compress(orjson.dumps({"as_of_ms": as_of, **rounded}))  # a month of hours: ~70 KB of JSON
    computed_at = now_iso()  # the one stored is the one answered, to the second
    entities.forecasts.put_forecast(
        tenant_id, project_id, iso(as_of), computed_at, orjson.dumps(document).decode(), path
    )
    return document | {"computed_at": computed_at}


def latest(principal: Principal, project_id: str) -> dict[str, Any]:
    projects.get(principal, project_id, "analytics.read")
    found = entities.forecasts.get_forecast(principal.tenant_id, project_id)
    if found is None:
        raise NotFound("no forecast yet: the hourly pipeline makes one, or POST to make one now")
    document: dict[str, Any] = orjson.loads(found.body)
    return document | {"computed_at": found.computed_at}


def generate(principal: Principal, project_id: str) -> dict[str, Any]:
    projects.get(principal, project_id, "analytics.read")
    return refresh(principal.tenant_id, project_id)
