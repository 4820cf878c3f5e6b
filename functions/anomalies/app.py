"""Anomalies found in a project's finished hours, and users' verdicts on them."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models.anomalies import AnomalyListOut, AnomalyOut, FeedbackIn
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.windows import WindowName
from apimeter.logic import anomalies
from apimeter.settings import require

require("ENTITIES_TABLE", "ROLLUPS_TABLE")

app = build_resolver()


@app.get(
    "/v1/projects/<project_id>/anomalies",
    security=USER_OR_KEY,
    tags=["anomalies"],
    summary="Anomalies in request rate, error rate and p95 latency, newest first",
)
def recent(project_id: str, window: Annotated[WindowName, Query()] = "7d") -> AnomalyListOut:
    found = anomalies.recent(principal(app), project_id, window)
    return AnomalyListOut(anomalies=[AnomalyOut.model_validate(a) for a in found])


@app.patch(
    "/v1/projects/<project_id>/anomalies/<anomaly_id>",
    security=USER,
    tags=["anomalies"],
    summary="Mark an anomaly real, false or planned; the detector learns from it",
)
def feedback(project_id: str, anomaly_id: str, body: FeedbackIn) -> AnomalyOut:
    return AnomalyOut.model_validate(anomalies.give_feedback(principal(app), project_id, anomaly_id, body.feedback))


lambda_handler = handler(app)
