"""Liveness (GET /health, no credentials), and the API's ``$default`` route: any request that matches
no other route lands here and gets a 404 in the error envelope rather than API Gateway's own."""

from __future__ import annotations

from apimeter import __version__
from apimeter.api.models import HealthOut
from apimeter.api.resolver import build_resolver, handler
from apimeter.observability import MetricUnit, metrics
from apimeter.settings import settings

app = build_resolver()


@app.get("/health", tags=["operations"], summary="Service health and version")
def health() -> HealthOut:
    metrics.add_metric(name="HealthChecks", unit=MetricUnit.Count, value=1)
    return HealthOut(version=__version__, stage=settings().stage)


lambda_handler = handler(app, public_routes={"GET /health", "$default"})
