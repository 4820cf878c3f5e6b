"""Exports of a project's raw events: start one, follow it, download it."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models.exports import ExportFiltersIn, ExportIn, ExportListOut, ExportOut
from apimeter.api.resolver import USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.exports import ExportRequest
from apimeter.logic import exports
from apimeter.settings import require

require("ENTITIES_TABLE", "EXPORTS_BUCKET", "EXPORT_QUEUE_URL")

app = build_resolver()


@app.post(
    "/v1/projects/<project_id>/exports",
    security=USER_OR_KEY,
    status_code=202,
    tags=["exports"],
    summary="Export raw events of a range to a CSV or JSON-lines file (asynchronous)",
)
def create(project_id: str, body: ExportIn) -> ExportOut:
    return ExportOut.of(exports.create(principal(app), project_id, _request(body)))


@app.get("/v1/projects/<project_id>/exports", security=USER_OR_KEY, tags=["exports"], summary="Recent exports")
def list_recent(
    project_id: str, limit: Annotated[int, Query(ge=1, le=100, description="Newest first")] = 20
) -> ExportListOut:
    recent = exports.list_recent(principal(app), project_id, limit)
    return ExportListOut(exports=[ExportOut.of(export, link) for export, link in recent])


@app.get(
    "/v1/projects/<project_id>/exports/<export_id>",
    security=USER_OR_KEY,
    tags=["exports"],
    summary="An export's status and, once ready, its download link",
)
def get(project_id: str, export_id: str) -> ExportOut:
    export, link = exports.get(principal(app), project_id, export_id)
    return ExportOut.of(export, link)


def _request(body: ExportIn) -> ExportRequest:
    return ExportRequest(body.start, body.end, body.format, _filters(body.filters) if body.filters else {})


def _filters(given: ExportFiltersIn) -> dict[str, str | int]:
    found = {"endpoint": given.endpoint, "method": given.method, "status": given.status, "consumer": given.consumer}
    return {name: value for name, value in found.items() if value is not None}


lambda_handler = handler(app)
