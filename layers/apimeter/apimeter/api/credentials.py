"""Judging a request's credential, wherever it is judged: in the authorizer function in front of most
routes, or inside the function of a route that authenticates its own callers (the tracking routes,
so that one event is one Lambda invocation, not two). Either way the decision is the same, and so
are its log line and metrics."""

from __future__ import annotations

from collections.abc import Mapping

from apimeter.logic.authorization import decide
from apimeter.observability import MetricUnit, logger, metrics


def judge(headers: Mapping[str, str], route: object) -> dict[str, object]:
    """The authorizer's simple response for these headers (``isAuthorized`` and the context: who,
    or ``auth_error`` saying why not), counted as a credential accepted or rejected."""
    decision = decide(headers)
    context = decision["context"]
    assert isinstance(context, dict)
    if "auth_error" in context:
        logger.info("credential rejected", extra={"route": route})
        metrics.add_metric(name="CredentialsRejected", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CredentialsAccepted", unit=MetricUnit.Count, value=1)
    return decision
