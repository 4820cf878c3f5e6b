"""Scheduled rollup: recomputes finished hours (and days) from raw events; see apimeter.logic.rollup."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.logic import rollup
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("EVENTS_TABLE", "ROLLUPS_TABLE")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    report = rollup.run()
    metrics.add_metric(name="HoursFinalized", unit=MetricUnit.Count, value=report.hours)
    metrics.add_metric(name="DaysFinalized", unit=MetricUnit.Count, value=report.days)
    metrics.add_metric(name="EventsRecomputed", unit=MetricUnit.Count, value=report.events)
    summary = {"run": report.run, "hours": report.hours, "days": report.days, "events": report.events,
               "deferred": report.deferred}  # fmt: skip
    logger.info("rollup run", extra=summary)
    return summary
