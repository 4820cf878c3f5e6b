"""Platform administration: tenants, their plans, limits and suspension."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models.admin import NewTenantOut, TenantIn, TenantListOut, TenantOut, TenantPatch
from apimeter.api.resolver import USER, build_resolver, handler, principal
from apimeter.logic import tenants
from apimeter.settings import require

require("ENTITIES_TABLE")

app = build_resolver()


@app.get("/v1/admin/tenants", security=USER, tags=["admin"], summary="List tenants, a page at a time")
def list_page(
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
) -> TenantListOut:
    found, next_cursor = tenants.list_page(principal(app), limit, cursor)
    return TenantListOut(tenants=[TenantOut.of(t) for t in found], next_cursor=next_cursor)


@app.post("/v1/admin/tenants", security=USER, status_code=201, tags=["admin"], summary="Create a tenant and owner")
def create(body: TenantIn) -> NewTenantOut:
    tenant, owner = tenants.create(principal(app), body.name, body.plan, body.owner_email, body.owner_password)
    return NewTenantOut.of(tenant, owner)


@app.get("/v1/admin/tenants/<tenant_id>", security=USER, tags=["admin"], summary="Get a tenant")
def get(tenant_id: str) -> TenantOut:
    return TenantOut.of(tenants.get(principal(app), tenant_id))


@app.patch(
    "/v1/admin/tenants/<tenant_id>", security=USER, tags=["admin"], summary="Change plan, limits, name or suspension"
)
def update(tenant_id: str, body: TenantPatch) -> TenantOut:
    tenant = tenants.update(
        principal(app),
        tenant_id,
        name=body.name,
        plan=body.plan,
        status=body.status,
        limits=body.limits.given() if body.limits else None,
    )
    return TenantOut.of(tenant)


@app.delete(
    "/v1/admin/tenants/<tenant_id>",
    security=USER,
    status_code=204,
    tags=["admin"],
    summary="Delete a tenant",
    responses={204: {"description": "Deleted: its keys and tokens stop working."}},
)
def delete(tenant_id: str) -> Response[None]:
    tenants.delete(principal(app), tenant_id)
    return Response(status_code=204)


lambda_handler = handler(app)
