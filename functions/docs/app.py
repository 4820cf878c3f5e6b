"""The API's documentation, without credentials: GET /openapi.json, the OpenAPI document of the whole
API (``docs/openapi.json``, shipped in this function's package), GET /docs, Swagger UI over it, whose
files GET /docs/{asset} serves, and GET /asyncapi.json, the AsyncAPI document of the live WebSocket
API (``docs/asyncapi.json``, shipped the same way)."""

from __future__ import annotations

from pathlib import Path

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from apimeter.api import docs
from apimeter.api.resolver import build_resolver, handler

# Beside this file in the package: `sam build` copies the links' targets (see template.yaml).
OPENAPI = Path(__file__).with_name("openapi.json")
ASYNCAPI = Path(__file__).with_name("asyncapi.json")
UNCHANGED: dict[int, OpenAPIResponse] = {
    304: {"description": "Not modified: the client's copy (If-None-Match) is current.", "content": {}}
}
JSON_DOCUMENT: dict[int, OpenAPIResponse] = {
    200: {"description": "The OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}},
    **UNCHANGED,
}
ASYNC_DOCUMENT: dict[int, OpenAPIResponse] = {
    200: {"description": "The AsyncAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}},
    **UNCHANGED,
}
HTML_PAGE: dict[int, OpenAPIResponse] = {
    200: {"description": "Swagger UI's page", "content": {"text/html": {}}},
    **UNCHANGED,
}
ASSET: dict[int, OpenAPIResponse] = {
    200: {
        "description": "A stylesheet, script or icon of the page, cached for a year (its address carries a version)",
        "content": {"text/css": {}, "text/javascript": {}, "image/png": {}},
    },
    **UNCHANGED,
}

app = build_resolver()


@app.get("/openapi.json", tags=["operations"], summary="The OpenAPI document of the whole API", responses=JSON_DOCUMENT)
def openapi() -> Response[str]:
    return docs.respond(docs.document(OPENAPI), app.current_event.headers)


@app.get(
    "/asyncapi.json",
    tags=["operations"],
    summary="The AsyncAPI document of the live WebSocket API",
    responses=ASYNC_DOCUMENT,
)
def asyncapi() -> Response[str]:
    return docs.respond(docs.document(ASYNCAPI), app.current_event.headers)


@app.get("/docs", tags=["operations"], summary="Interactive documentation (Swagger UI)", responses=HTML_PAGE)
def page() -> Response[str]:
    return docs.respond(docs.page(), app.current_event.headers)


@app.get("/docs/<asset>", tags=["operations"], summary="A file of the documentation page", responses=ASSET)
def asset(asset: str) -> Response[str]:
    return docs.respond(docs.asset(asset), app.current_event.headers)


lambda_handler = handler(
    app, public_routes={"GET /openapi.json", "GET /asyncapi.json", "GET /docs", "GET /docs/{asset}"}
)
