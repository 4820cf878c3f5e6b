"""Events-table stream consumer: counts new events against budgets and fires actual thresholds."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.logic import spend
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE", "ALERTS_TOPIC_ARN", "ALERTS_BUS_NAME", "LIVE_ENDPOINT")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    watched = spend.watch(spend.charges(event.get("Records") or []))
    metrics.add_metric(name="SpendCounted", unit=MetricUnit.Count, value=watched.counters)
    metrics.add_metric(name="BudgetAlertsFired", unit=MetricUnit.Count, value=watched.fired)
    return {"batchItemFailures": []}  # a budget that fails is left to the hourly judgement (logic/spend.py)
