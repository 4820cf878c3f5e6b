"""The hourly pipeline's own steps: what to work on, and the steps that act per project or tenant.

The state machine (statemachines/hourly.asl.json) finalizes rollups, then asks ``plan`` for the
hour to judge and the work lists, which go to S3 so that its distributed Map can fan out over any
number of projects (a Step Functions state carries at most 256 KB). Every step is idempotent: the
forecast of an hour is a pure function of its figures, a detector skips an hour it has judged,
alerts and anomalies are written once, and deliveries are retried until made.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from apimeter.dal import entities, files
from apimeter.domain.windows import bucket_key, bucket_ms
from apimeter.logic import anomalies, budgets, forecasts
from apimeter.logic.rollup import GRACE_MS

HOUR_MS = 3_600_000
PAGE = 100


@dataclass(frozen=True, slots=True)
class Plan:
    hour: str  # the finished hour to judge
    hour_ms: int
    bucket: str
    projects_key: str
    tenants_key: str
    projects: int
    tenants: int


def plan(hour: str | None = None, now_ms: int | None = None) -> Plan:
    """The hour to judge (the last finalized one unless given) and the active projects and tenants,
    written to the files bucket as JSON arrays for the Map states to read."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    settled = now - GRACE_MS  # an hour is finalized this long after it ends
    hour_ms = bucket_ms(hour, "hour") if hour else settled - settled % HOUR_MS - HOUR_MS
    name = bucket_key(hour_ms, "hour")
    tenants, projects = [], []
    after: str | None = None
    while True:
        page, after = entities.tenants.list_tenants(PAGE, after)
        for tenant_id in page:
            tenant = entities.tenants.find_tenant(tenant_id)
            if tenant is None or tenant.status != "active":
                continue
            tenants.append({"tenant_id": tenant_id, "hour_ms": hour_ms})
            projects += [
                {"tenant_id": tenant_id, "project_id": p.id, "hour_ms": hour_ms}
                for p in entities.projects.list_projects(tenant_id)
            ]
        if after is None:
            break
    keys = (f"pipeline/{name}/projects.json", f"pipeline/{name}/tenants.json")
    for key, items in zip(keys, (projects, tenants), strict=True):
        files.put(key, json.dumps(items).encode(), "application/json")
    return Plan(name, hour_ms, files.bucket(), keys[0], keys[1], len(projects), len(tenants))


def forecast(item: dict[str, Any]) -> dict[str, Any]:
    made = forecasts.refresh(item["tenant_id"], item["project_id"])
    return {"project_id": item["project_id"], "forecast": made["status"]}


def detect(item: dict[str, Any]) -> dict[str, Any]:
    found = anomalies.detect(item["project_id"], int(item["hour_ms"]))
    return {"project_id": item["project_id"], "series": found.series, "anomalies": found.anomalies}


def judge_budgets(item: dict[str, Any]) -> dict[str, Any]:
    judged = budgets.evaluate(item["tenant_id"], int(item["hour_ms"]))
    return {"tenant_id": item["tenant_id"], "budgets": judged.budgets, "fired": judged.fired}
