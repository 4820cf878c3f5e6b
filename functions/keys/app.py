"""API keys of a project."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from apimeter.api.models.keys import KeyIn, KeyListOut, KeyOut, NewKeyOut, RotatedKeyOut, RotateIn
from apimeter.api.resolver import USER, build_resolver, handler, principal
from apimeter.logic import keys
from apimeter.settings import require

require("ENTITIES_TABLE", "PEPPER_SECRET_NAME")

app = build_resolver()


@app.post("/v1/projects/<project_id>/keys", security=USER, status_code=201, tags=["keys"], summary="Create an API key")
def create(project_id: str, body: KeyIn) -> NewKeyOut:
    key, secret = keys.create(principal(app), project_id, body.name, list(body.scopes), body.expires_at)
    return NewKeyOut(**KeyOut.of(key).model_dump(), key=secret)


@app.get("/v1/projects/<project_id>/keys", security=USER, tags=["keys"], summary="List API keys (without secrets)")
def list_all(project_id: str) -> KeyListOut:
    return KeyListOut(keys=[KeyOut.of(k) for k in keys.list_all(principal(app), project_id)])


@app.post(
    "/v1/projects/<project_id>/keys/<key_id>/rotate",
    security=USER,
    tags=["keys"],
    summary="Issue a new secret; the old one works for a grace period",
)
def rotate(project_id: str, key_id: str, body: RotateIn) -> RotatedKeyOut:
    key, secret, until = keys.rotate(principal(app), project_id, key_id, body.grace_seconds)
    return RotatedKeyOut(**KeyOut.of(key).model_dump(), key=secret, previous_valid_until=until)


@app.delete(
    "/v1/projects/<project_id>/keys/<key_id>",
    security=USER,
    status_code=204,
    tags=["keys"],
    summary="Revoke an API key",
    responses={204: {"description": "Revoked (or already revoked)."}},
)
def revoke(project_id: str, key_id: str) -> Response[None]:
    keys.revoke(principal(app), project_id, key_id)
    return Response(status_code=204)


lambda_handler = handler(app)
