"""The hourly pipeline's Lambda tasks (statemachines/hourly.asl.json): one handler per step.

Each is its own function in template.yaml (its own permissions and time limit); they share this
module because each is a line or two around apimeter.logic.pipeline.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.logic import alerts, pipeline
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE", "ROLLUPS_TABLE", "EXPORTS_BUCKET", "ALERTS_TOPIC_ARN", "ALERTS_BUS_NAME")


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def plan(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    planned = pipeline.plan(event.get("hour"))
    metrics.add_metric(name="PipelineProjects", unit=MetricUnit.Count, value=planned.projects)
    logger.info("pipeline planned", extra=asdict(planned))
    return asdict(planned)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def forecast(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return pipeline.forecast(event)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def anomalies(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    found = pipeline.detect(event)
    metrics.add_metric(name="AnomaliesFound", unit=MetricUnit.Count, value=found["anomalies"])
    return found


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def budgets(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    judged = pipeline.judge_budgets(event)
    metrics.add_metric(name="BudgetAlertsFired", unit=MetricUnit.Count, value=judged["fired"])
    return judged


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def notifications(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    flushed = alerts.flush()
    metrics.add_metric(name="AlertDeliveriesOwed", unit=MetricUnit.Count, value=flushed.undelivered)
    return asdict(flushed)
