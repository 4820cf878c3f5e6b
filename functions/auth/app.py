"""Accounts: register, login, and who am I."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from apimeter.api.models.auth import KeyTokenOut, LoginIn, MeOut, RefreshIn, RegisterIn, SessionOut
from apimeter.api.resolver import API_KEY, USER, build_resolver, handler, principal
from apimeter.logic import accounts
from apimeter.observability import MetricUnit, metrics
from apimeter.settings import require

require("ENTITIES_TABLE", "JWT_SECRET_NAME")

app = build_resolver()


@app.post("/v1/auth/register", status_code=201, tags=["auth"], summary="Create an organization and its owner")
def register(body: RegisterIn) -> SessionOut:
    session = accounts.register(body.email, body.password, body.organization)
    metrics.add_metric(name="Registrations", unit=MetricUnit.Count, value=1)
    return SessionOut.of(session)


@app.post("/v1/auth/login", tags=["auth"], summary="Sign in with email and password")
def login(body: LoginIn) -> SessionOut:
    source_ip = app.current_event.request_context.http.source_ip
    return SessionOut.of(accounts.login(body.email, body.password, source_ip))


@app.post("/v1/auth/refresh", tags=["auth"], summary="Trade a refresh token for new tokens (rotation)")
def refresh(body: RefreshIn) -> SessionOut:
    return SessionOut.of(accounts.refresh(body.refresh_token))


@app.post(
    "/v1/auth/logout",
    security=USER,
    status_code=204,
    tags=["auth"],
    summary="End this sign-in: its refresh tokens and this access token stop working",
    responses={204: {"description": "Signed out."}},
)
def logout() -> Response[None]:
    accounts.logout(principal(app))
    return Response(status_code=204)


@app.post("/v1/auth/token", security=API_KEY, tags=["auth"], summary="Exchange an API key for a short-lived token")
def key_token() -> KeyTokenOut:
    token, expires_in, key = accounts.exchange_key(principal(app))
    return KeyTokenOut(
        access_token=token, expires_in=expires_in, project_id=key.project_id or "", scopes=list(key.scopes)
    )


@app.get("/v1/auth/me", security=USER, tags=["auth"], summary="The signed-in user and their organization")
def me() -> MeOut:
    user, tenant = accounts.me(principal(app))
    return MeOut.of(user, tenant)


lambda_handler = handler(app, public_routes={"POST /v1/auth/register", "POST /v1/auth/login", "POST /v1/auth/refresh"})
