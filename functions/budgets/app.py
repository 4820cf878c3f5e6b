"""Budgets of a project or of the whole tenant, and the alerts they fired."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from apimeter.api.models.budgets import (
    AlertListOut,
    AlertOut,
    BudgetIn,
    BudgetListOut,
    BudgetOut,
    BudgetPatch,
    ChannelsIn,
    TenantBudgetIn,
    TenantBudgetPatch,
    ThresholdIn,
)
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.budgets.rules import BudgetChanges, BudgetDraft, ChannelsDraft, Threshold, WebhookDraft
from apimeter.logic import budgets
from apimeter.settings import require

require("ENTITIES_TABLE")

app = build_resolver()
PROJECT = "/v1/projects/<project_id>/budgets"
TENANT = "/v1/budgets"
DELETED: dict[int, OpenAPIResponse] = {204: {"description": "Deleted, with its alert history."}}
Limit = Annotated[int, Query(ge=1, le=200, description="Newest period first")]


@app.post(PROJECT, security=USER, status_code=201, tags=["budgets"], summary="Create a budget for a project")
def create(project_id: str, body: BudgetIn) -> BudgetOut:
    return BudgetOut.of(budgets.create(principal(app), project_id, _draft(body)), show_secrets=True)


@app.get(PROJECT, security=USER_OR_KEY, tags=["budgets"], summary="A project's budgets")
def list_all(project_id: str) -> BudgetListOut:
    return BudgetListOut(budgets=[BudgetOut.of(b) for b in budgets.list_all(principal(app), project_id)])


@app.get(f"{PROJECT}/<budget_id>", security=USER_OR_KEY, tags=["budgets"], summary="A project budget")
def get(project_id: str, budget_id: str) -> BudgetOut:
    return BudgetOut.of(budgets.get(principal(app), project_id, budget_id))


@app.patch(f"{PROJECT}/<budget_id>", security=USER, tags=["budgets"], summary="Change a project budget")
def update(project_id: str, budget_id: str, body: BudgetPatch) -> BudgetOut:
    changed = budgets.update(principal(app), project_id, budget_id, _changes(body))
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
def create_tenant_wide(body: TenantBudgetIn) -> BudgetOut:
    return BudgetOut.of(budgets.create(principal(app), None, _draft(body)), show_secrets=True)


@app.get(TENANT, security=USER, tags=["budgets"], summary="The tenant-wide budgets")
def list_tenant_wide() -> BudgetListOut:
    return BudgetListOut(budgets=[BudgetOut.of(b) for b in budgets.list_all(principal(app), None)])


@app.get(f"{TENANT}/<budget_id>", security=USER, tags=["budgets"], summary="A tenant-wide budget")
def get_tenant_wide(budget_id: str) -> BudgetOut:
    return BudgetOut.of(budgets.get(principal(app), None, budget_id))


@app.patch(f"{TENANT}/<budget_id>", security=USER, tags=["budgets"], summary="Change a tenant-wide budget")
def update_tenant_wide(budget_id: str, body: TenantBudgetPatch) -> BudgetOut:
    changed = budgets.update(principal(app), None, budget_id, _changes(body))
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


def _draft(body: TenantBudgetIn) -> BudgetDraft:
    return BudgetDraft(
        name=body.name,
        amount=body.amount,
        period=body.period,
        metric=body.metric,
        thresholds=_thresholds(body.thresholds),
        channels=_channels(body.channels),
        timezone=body.timezone,
        currency=body.currency,
        key_id=body.key_id if isinstance(body, BudgetIn) else None,
    )


def _changes(body: TenantBudgetPatch) -> BudgetChanges:
    return BudgetChanges(
        name=body.name,
        amount=body.amount,
        period=body.period,
        metric=body.metric,
        timezone=body.timezone,
        thresholds=None if body.thresholds is None else _thresholds(body.thresholds),
        channels=None if body.channels is None else _channels(body.channels),
        key_id=body.key_id if isinstance(body, BudgetPatch) else None,
    )


def _thresholds(given: list[ThresholdIn]) -> tuple[Threshold, ...]:
    return tuple(Threshold(t.percent, t.on, t.probability, t.action) for t in given)


def _channels(given: ChannelsIn) -> ChannelsDraft:
    hooks = tuple(WebhookDraft(w.url, w.secret) for w in given.webhooks)
    return ChannelsDraft(given.sns, given.eventbridge, hooks)


lambda_handler = handler(app)
