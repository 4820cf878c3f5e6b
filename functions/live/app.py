"""The live WebSocket API's routes: ``$connect``, ``$disconnect``, ``subscribe``, ``unsubscribe``,
and ``$default`` for any other frame. The answer to a frame goes back on the socket as the route's
response (the template gives those routes a route response)."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from apimeter.api.live import SubscriptionIn
from apimeter.domain import json_text
from apimeter.domain.live import encode, error_message
from apimeter.domain.principal import Principal
from apimeter.errors import AuthenticationFailed
from apimeter.logic import live
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE")

USAGE = 'send {"action": "subscribe" or "unsubscribe", "project_id": "prj_..."}'


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event.get("requestContext") or {}
    route, connection_id = request.get("routeKey"), str(request.get("connectionId"))
    if route == "$connect":
        try:
            live.connect(Principal.from_context(request.get("authorizer") or {}), connection_id)
        except AuthenticationFailed:
            return {"statusCode": 401}
        metrics.add_metric(name="LiveConnections", unit=MetricUnit.Count, value=1)
        return {"statusCode": 200}
    if route == "$disconnect":
        live.disconnect(connection_id)
        metrics.add_metric(name="LiveDisconnections", unit=MetricUnit.Count, value=1)
        return {"statusCode": 200}
    return {"statusCode": 200, "body": encode(_answer(str(route), connection_id, event.get("body"))).decode()}


def _answer(route: str, connection_id: str, body: str | None) -> dict[str, Any]:
    if route not in ("subscribe", "unsubscribe"):
        return error_message("VALIDATION_ERROR", f"unknown action: {USAGE}")
    try:
        wanted = SubscriptionIn.model_validate(json_text.loads(body or ""))
    except json.JSONDecodeError as exc:
        return error_message("VALIDATION_ERROR", f"not JSON: {exc.msg} ({USAGE})")
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())
        return error_message("VALIDATION_ERROR", f"{problems} ({USAGE})")
    if wanted.action == "subscribe":
        return live.subscribe(connection_id, wanted.project_id)
    return live.unsubscribe(connection_id, wanted.project_id)
