"""Liveness (GET /health) and readiness (GET /ready), both without credentials, and the API's
``$default`` route: any request that matches no other route lands here and gets a 404 in the error
envelope rather than API Gateway's own."""

from __future__ import annotations

from apimeter import __version__
from apimeter.api.models.health import HealthOut, ReadyOut
from apimeter.api.resolver import build_resolver, handler
from apimeter.logic import readiness
from apimeter.observability import MetricUnit, metrics
from apimeter.settings import require, settings

require("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE", "JWT_SECRET_NAME", "PEPPER_SECRET_NAME")

app = build_resolver()


@app.get("/health", tags=["operations"], summary="Service health and version")
def health() -> HealthOut:
    metrics.add_metric(name="HealthChecks", unit=MetricUnit.Count, value=1)
    return HealthOut(version=__version__, stage=settings().stage)


@app.get(
    "/ready",
    tags=["operations"],
    summary="Readiness: the tables and secrets answer",
    description="503 `SERVICE_UNAVAILABLE` when any does not; its details name the failed checks.",
)
def ready() -> ReadyOut:
    return ReadyOut(checks=readiness.check())


lambda_handler = handler(app, public_routes={"GET /health", "GET /ready", "$default"})
