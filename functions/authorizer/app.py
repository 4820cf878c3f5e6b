"""HTTP API Lambda authorizer (payload 2.0, simple responses): X-API-Key or Authorization: Bearer."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.api.credentials import judge, rejected
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE", "JWT_SECRET_NAME", "PEPPER_SECRET_NAME")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    decision = judge(event.get("headers") or {}, event.get("routeKey"))
    if rejected(decision):
        metrics.add_metric(name="CredentialsRejected", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CredentialsAccepted", unit=MetricUnit.Count, value=1)
    return decision
