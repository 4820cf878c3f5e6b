"""The live WebSocket API's ``$connect`` authorizer (REQUEST, IAM policy response).

Browsers cannot set headers on a WebSocket upgrade, so the access token comes as the query
parameter ``token``: a user's access token, or a token exchanged for an API key (``/v1/auth/token``)
with the ``read`` scope. Anything else raises ``Unauthorized``, which API Gateway answers with 401.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.errors import AuthenticationFailed
from apimeter.logic import authorization, live
from apimeter.observability import MetricUnit, logger, metrics, tracer
from apimeter.settings import require

require("ENTITIES_TABLE", "JWT_SECRET_NAME")


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId")
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = str((event.get("queryStringParameters") or {}).get("token") or "")
    try:
        principal = authorization.authenticate({"authorization": f"Bearer {token}"})
        live.require_reader(principal)
    except AuthenticationFailed as exc:
        logger.info("live connection refused", extra={"reason": exc.message})
        metrics.add_metric(name="LiveConnectionsRefused", unit=MetricUnit.Count, value=1)
        raise PermissionError("Unauthorized") from None  # the message API Gateway turns into a 401
    return {
        "principalId": principal.principal_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        "context": principal.to_context(),
    }
