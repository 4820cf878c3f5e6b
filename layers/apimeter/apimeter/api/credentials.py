"""Judging a request's credential, wherever it is judged: in the authorizer function in front of most
routes, or inside the function of a route that authenticates its own callers (the tracking routes,
so that one event is one Lambda invocation, not two). Either way the decision is the same, and so
is its log line; each handler module counts it (metrics are emitted from handler modules only)."""

from __future__ import annotations

from collections.abc import Mapping

from apimeter.logic.authorization import decide
from apimeter.observability import logger


def judge(headers: Mapping[str, str], route: object) -> dict[str, object]:
    """The authorizer's simple response for these headers (``isAuthorized`` and the context: who,
    or ``auth_error`` saying why not)."""
    decision = decide(headers)
    if rejected(decision):
        logger.info("credential rejected", extra={"route": route})
    return decision


def rejected(decision: Mapping[str, object]) -> bool:
    context = decision["context"]
    return isinstance(context, dict) and "auth_error" in context
