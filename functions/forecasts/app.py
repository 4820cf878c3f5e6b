"""Forecasts of a project's requests and cost: the latest, or a new one now."""

from __future__ import annotations

from apimeter.api.models.forecasts import ForecastOut
from apimeter.api.resolver import USER_OR_KEY, build_resolver, handler, principal
from apimeter.logic import forecasts
from apimeter.settings import require

require("ENTITIES_TABLE", "ROLLUPS_TABLE")

app = build_resolver()


@app.get(
    "/v1/projects/<project_id>/forecast",
    security=USER_OR_KEY,
    tags=["forecasts"],
    summary="The latest forecast: next 48 hours, next 7 days and the month end, with 80/95 % intervals",
)
def latest(project_id: str) -> ForecastOut:
    return ForecastOut.model_validate(forecasts.latest(principal(app), project_id))


@app.post(
    "/v1/projects/<project_id>/forecast",
    security=USER_OR_KEY,
    tags=["forecasts"],
    summary="Make a forecast now from the figures so far",
)
def generate(project_id: str) -> ForecastOut:
    return ForecastOut.model_validate(forecasts.generate(principal(app), project_id))


lambda_handler = handler(app)
