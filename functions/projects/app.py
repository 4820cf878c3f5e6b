"""Projects of the caller's organization."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from apimeter.api.models.projects import (
    PricingIn,
    ProjectIn,
    ProjectListOut,
    ProjectOut,
    ProjectPatch,
    RecomputeIn,
    RecomputeOut,
)
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.accounts import Pricing, ProjectChanges
from apimeter.domain.windows import iso
from apimeter.logic import projects, purge
from apimeter.settings import require

require("ENTITIES_TABLE", "ROLLUPS_TABLE", "PURGE_QUEUE_URL")

app = build_resolver()


@app.post("/v1/projects", security=USER, status_code=201, tags=["projects"], summary="Create a project")
def create(body: ProjectIn) -> ProjectOut:
    return ProjectOut.of(projects.create(principal(app), body.name))


@app.get("/v1/projects", security=USER, tags=["projects"], summary="List projects")
def list_all() -> ProjectListOut:
    return ProjectListOut(projects=[ProjectOut.of(p) for p in projects.list_all(principal(app))])


@app.get("/v1/projects/<project_id>", security=USER_OR_KEY, tags=["projects"], summary="Get a project")
def get(project_id: str) -> ProjectOut:
    return ProjectOut.of(projects.get(principal(app), project_id))


@app.patch("/v1/projects/<project_id>", security=USER, tags=["projects"], summary="Change a project's settings")
def update(project_id: str, body: ProjectPatch) -> ProjectOut:
    return ProjectOut.of(projects.update(principal(app), project_id, _changes(body)))


@app.delete(
    "/v1/projects/<project_id>",
    security=USER,
    status_code=202,
    tags=["projects"],
    summary="Delete a project and, asynchronously, all its data",
    responses={202: {"description": "Deleting: its keys stop working now; its data is removed shortly."}},
)
def delete(project_id: str) -> Response[None]:
    purge.request(principal(app), project_id)
    return Response(status_code=202)


@app.post(
    "/v1/projects/<project_id>/rollups/recompute",
    security=USER,
    status_code=202,
    tags=["projects"],
    summary="Recompute a range of rollups from raw events (backfill)",
)
def recompute(project_id: str, body: RecomputeIn) -> RecomputeOut:
    hours, span = projects.recompute(principal(app), project_id, body.start, body.end)
    return RecomputeOut.model_validate({"hours": hours, "from": iso(span.start_ms), "to": iso(span.end_ms)})


def _changes(body: ProjectPatch) -> ProjectChanges:
    return ProjectChanges(
        name=body.name,
        retention_days=body.retention_days,
        ip_privacy=body.ip_privacy,
        timezone=body.timezone,
        pricing=None if body.pricing is None else _pricing(body.pricing),
        limits=None if body.limits is None else body.limits.given(),
    )


def _pricing(given: PricingIn) -> Pricing:
    per_endpoint = tuple((price.pattern, price.per_request) for price in given.per_endpoint)
    return Pricing(given.currency, given.per_request, given.per_gb_out, per_endpoint)


lambda_handler = handler(app)
