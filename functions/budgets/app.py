"""Budgets of a project or of the whole tenant, and the alerts they fired."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from apimeter.api.models import AlertListOut, AlertOut, BudgetIn, BudgetListOut, BudgetOut, BudgetPatch
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.logic import budgets

app = build_resolver()
PROJECT = "/v1/projects/<project_id>/budgets"
TENANT = "/v1/budgets"
DELETED: dict[int, OpenAPIResponse] = {204: {"description": "Deleted, with its alert history."}}
Limit = Annotated[int, Query(ge=1, le=200, description="Newest period first")]


@app.post(PROJECT, security=USER, status_code=201, tags=["budgets"], summary="Create a budget for a project")
def create(project_id: str, body: BudgetIn) -> BudgetOut:
    return BudgetOut.of(budgets.create(principal(app), project_id, body.model_dump()), show_secrets=True)


@app.get(PROJECT, security=USER_OR_KEY, tags=["budgets"], summary="A project's budgets")
def list_all(project_id: str) -> BudgetListOut:
    return BudgetListOut(budgets=[BudgetOut.of(b) for b in budgets.list_all(principal(app), project_id)])


@app.get(f"{PROJECT}/<budget_id>", security=USER_OR_KEY, tags=["budgets"], summary="A project budget")
def get(project_id: str, budget_id: str) -> BudgetOut:
    return BudgetOut.of(budgets.get(principal(app), project_id, budget_id))


@app.patch(f"{PROJECT}/<budget_id>", security=USER, tags=["budgets"], summary="Change a project budget")
def update(project_id: str, budget_id: str, body: BudgetPatch) -> BudgetOut:
    changed = budgets.update(principal(app), project_id, budget_id, body.model_dump(exclude_unset=True))
    return BudgetOut.of(changed, show_secrets=body.channels is not None)


@app.delete(f"{PROJECT}/<budget_id>", security=USER, status_code=204, tags=["budgets"],
            summary="Delete a project budget", responses=DELETED)  # fmt: skip
def delete(project_id: str, budget_id: str) -> Response[None]:
    budgets.delete(principal(app), project_id, budget_id)
    return Response(status_code=204)


@app.get(f"{PROJECT}/<budget_id>/alerts", security=USER_OR_KEY, tags=["budgets"], summary="A project budget's alerts")
def alerts(project_id: str, budget_id: str, limit: Limit = 50) -> AlertListOut:
    found = budgets.history(principal(app), project_id, budget_id, limit)
    return AlertListOut(alerts=[AlertOut.model_validate(a) for a in found])


@app.post(TENANT, security=USER, status_code=201, tags=["budgets"], summary="Create a tenant-wide budget")
def create_tenant_wide(body: BudgetIn) -> BudgetOut:
    return BudgetOut.of(budgets.create(principal(app), None, body.model_dump()), show_secrets=True)


@app.get(TENANT, security=USER, tags=["budgets"], summary="The tenant-wide budgets")
def list_tenant_wide() -> BudgetListOut:
    return BudgetListOut(budgets=[BudgetOut.of(b) for b in budgets.list_all(principal(app), None)])


@app.get(f"{TENANT}/<budget_id>", security=USER, tags=["budgets"], summary="A tenant-wide budget")
def get_tenant_wide(budget_id: str) -> BudgetOut:
    return BudgetOut.of(budgets.get(principal(app), None, budget_id))


@app.patch(f"{TENANT}/<budget_id>", security=USER, tags=["budgets"], summary="Change a tenant-wide budget")
def update_tenant_wide(budget_id: str, body: BudgetPatch) -> BudgetOut:
    changed = budgets.update(principal(app), None, budget_id, body.model_dump(exclude_unset=True))
    return BudgetOut.of(changed, show_secrets=body.channels is not None)


@app.delete(f"{TENANT}/<budget_id>", security=USER, status_code=204, tags=["budgets"],
            summary="Delete a tenant-wide budget", responses=DELETED)  # fmt: skip
def delete_tenant_wide(budget_id: str) -> Response[None]:
    budgets.delete(principal(app), None, budget_id)
    return Response(status_code=204)


@app.get(f"{TENANT}/<budget_id>/alerts", security=USER, tags=["budgets"], summary="A tenant-wide budget's alerts")
def alerts_tenant_wide(budget_id: str, limit: Limit = 50) -> AlertListOut:
    return AlertListOut(
        alerts=[AlertOut.model_validate(a) for a in budgets.history(principal(app), None, budget_id, limit)]
    )


lambda_handler = handler(app)
