"""Tracking: POST /v1/events with an API key carrying the ``track`` scope."""

from __future__ import annotations

from typing import Any

from apimeter.api.resolver import API_KEY, build_resolver, handler, principal
from apimeter.logic import ingest, limits
from apimeter.observability import MetricUnit, metrics
from apimeter.settings import require

require("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE", "JWT_SECRET_NAME", "PEPPER_SECRET_NAME")

# These routes read their requests themselves and build their answers here, so the function runs
# without Powertools' validation and never imports pydantic: a cold start clients wait on is the
# shorter for it. The answers are documented by the models of api/models/ingest.py, named in each
# route's responses (tools/openapi.py adds them to the document); the tests hold them to those models.
app = build_resolver(validation=False)

INGEST_BODY_SCHEMA = "IngestRequest"


def _answer(status: int, description: str, model: str) -> dict[int, Any]:
    schema = {"$ref": f"#/components/schemas/{model}"}
    return {status: {"description": description, "content": {"application/json": {"schema": schema}}}}


@app.post(
    "/v1/events",
    security=API_KEY,
    status_code=202,
    tags=["tracking"],
    summary="Track one event or a batch of up to 1,000",
    description=(
        "Valid events are durably written before 202. Every event, a lone one or each of a batch, is kept, "
        "counted as a duplicate or rejected on its own: the answer lists rejections by index with their code "
        "(VALIDATION_ERROR, or CONFLICT for an event already kept, same event_id and timestamp, with a different "
        "payload), and the valid "
        "events beside them are kept. A body that is not a JSON object, or a batch of more than 1,000, is refused "
        "whole (400)."
    ),
    openapi_extensions={"x-apimeter-request-body": INGEST_BODY_SCHEMA},
    responses=_answer(202, "What the request's events came to", "IngestOut"),
)
def track() -> dict[str, Any]:
    # The body is validated item by item in the domain (one bad event must not fail the batch),
    # so it is read raw here rather than bound to a model by the resolver.
    result = ingest.track(principal(app), app.current_event.decoded_body or "")
    metrics.add_metric(name="EventsAccepted", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="EventsDuplicate", unit=MetricUnit.Count, value=result.duplicates)
    metrics.add_metric(name="EventsRejected", unit=MetricUnit.Count, value=len(result.rejected))
    rejected = [{"index": r.index, "code": r.code, "message": r.message} for r in result.rejected]
    return {"accepted": result.accepted, "duplicates": result.duplicates, "rejected": rejected}


@app.get(
    "/v1/quota",
    security=API_KEY,
    tags=["tracking"],
    summary="This key's project's monthly event quota",
    responses=_answer(200, "The quota, what the month has used and when it resets", "QuotaOut"),
)
def quota() -> dict[str, Any]:
    caller = principal(app)
    return dict(limits.quota(caller, caller.require_key_scope_any()))


def counted(accepted: bool) -> None:
    """A credential judged here (the tracking routes have no authorizer in front of them)."""
    if accepted:
        metrics.add_metric(name="CredentialsAccepted", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="CredentialsRejected", unit=MetricUnit.Count, value=1)


# Events are JSON text whatever type they are declared as: a browser's sendBeacon sends text/plain.
# These routes judge their own credentials (the gateway calls no authorizer for them): an event sent
# alone is then one Lambda invocation, not two; API keys stay cached per warm function as in the
# authorizer.
lambda_handler = handler(
    app,
    self_metered_routes={"POST /v1/events"},
    any_body_type_routes={"POST /v1/events"},
    self_authenticated_routes={"POST /v1/events", "GET /v1/quota"},
    judged=counted,
)
