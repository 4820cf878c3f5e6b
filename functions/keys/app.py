"""API keys of a project."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from apimeter.api.models import KeyIn, KeyListOut, KeyOut, NewKeyOut
from apimeter.api.resolver import USER, build_resolver, handler, principal
from apimeter.logic import keys

app = build_resolver()


@app.post("/v1/projects/<project_id>/keys", security=USER, status_code=201, tags=["keys"], summary="Create an API key")
def create(project_id: str, body: KeyIn) -> NewKeyOut:
    key, secret = keys.create(principal(app), project_id, body.name, list(body.scopes))
    return NewKeyOut(**KeyOut.of(key).model_dump(), key=secret)


@app.get("/v1/projects/<project_id>/keys", security=USER, tags=["keys"], summary="List API keys (without secrets)")
def list_all(project_id: str) -> KeyListOut:
    return KeyListOut(keys=[KeyOut.of(k) for k in keys.list_all(principal(app), project_id)])


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
