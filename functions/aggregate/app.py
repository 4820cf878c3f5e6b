"""Events-table stream consumer: adds new events to the rollups, reporting partial batch failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.logic.aggregate import aggregate
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE", "ROLLUPS_TABLE", "LIVE_ENDPOINT")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    records = event.get("Records") or []
    outcome = aggregate(records)
    metrics.add_metric(name="EventsAggregated", unit=MetricUnit.Count, value=outcome.applied)
    metrics.add_metric(name="RollupUpdates", unit=MetricUnit.Count, value=outcome.updates)
    metrics.add_metric(name="LiveMinutesPushed", unit=MetricUnit.Count, value=outcome.pushed)
    if outcome.lag_ms is not None:
        metrics.add_metric(name="AggregationLag", unit=MetricUnit.Milliseconds, value=outcome.lag_ms)
    if outcome.failed_sequence is None:
        return {"batchItemFailures": []}
    logger.warning("batch failed from a record", extra={"sequence": outcome.failed_sequence, "size": len(records)})
    return {"batchItemFailures": [{"itemIdentifier": outcome.failed_sequence}]}
