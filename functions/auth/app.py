"""Accounts: register, login, and who am I."""

from __future__ import annotations

from apimeter.api.models import LoginIn, MeOut, RegisterIn, SessionOut, TenantOut, UserOut
from apimeter.api.resolver import USER, build_resolver, handler, principal
from apimeter.logic import accounts
from apimeter.observability import MetricUnit, metrics

app = build_resolver()


@app.post("/v1/auth/register", status_code=201, tags=["auth"], summary="Create an organization and its owner")
def register(body: RegisterIn) -> SessionOut:
    session = accounts.register(body.email, body.password, body.organization)
    metrics.add_metric(name="Registrations", unit=MetricUnit.Count, value=1)
    return SessionOut.of(session)


@app.post("/v1/auth/login", tags=["auth"], summary="Sign in with email and password")
def login(body: LoginIn) -> SessionOut:
    return SessionOut.of(accounts.login(body.email, body.password))


@app.get("/v1/auth/me", security=USER, tags=["auth"], summary="The signed-in user and their organization")
def me() -> MeOut:
    user, tenant = accounts.me(principal(app))
    return MeOut(user=UserOut.of(user), tenant=TenantOut.of(tenant))


lambda_handler = handler(app, public_routes={"POST /v1/auth/register", "POST /v1/auth/login"})
