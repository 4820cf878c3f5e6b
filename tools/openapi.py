"""The OpenAPI document of the whole API, generated from the code: ``python -m tools.openapi``.

Each HTTP function's resolver describes its own routes (Powertools builds that from the route
signatures and models); this merges them in template order, adds the two credential schemes, marks
public routes, and describes the ingest body from the domain's event models (the route reads its
body raw, to validate item by item).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, HTTPBearer

from apimeter import __version__
from apimeter.api.models.common import ErrorEnvelope
from apimeter.api.models.ingest import IngestOut, QuotaOut
from apimeter.domain.event_schema import EventIn
from apimeter.domain.events import MAX_BATCH
from offline.lambdas import Lambda
from offline.template import read_stack

ROOT = Path(__file__).resolve().parent.parent
BODY_EXTENSION = "x-apimeter-request-body"
# Models of answers that routes build without Powertools' validation (the tracking function's) and
# name by $ref in their responses.
ANSWER_MODELS = (IngestOut, QuotaOut)
SECURITY_SCHEMES = {
    "apiKey": APIKey(name="X-API-Key", **{"in": APIKeyIn.header}, description="A project API key."),
    "bearer": HTTPBearer(bearerFormat="JWT", description="A user's access token."),
}


def _ingest_body(components: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/events`` reads any JSON object: one event, or a batch of up to 1,000 items. Each
    item is judged on its own (``EventIn`` says what is kept), and the 202 answer says which were
    rejected and why, so an item the schema of ``EventIn`` refuses is an answer, not a refused request."""
    schema = EventIn.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components["EventIn"] = schema
    event = {"$ref": "#/components/schemas/EventIn"}
    components["EventBatchIn"] = {
        "title": "EventBatchIn",
        "description": f"Up to {MAX_BATCH:,} events; each is kept or rejected on its own.",
        "type": "object",
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": {"anyOf": [event, {}]}}
        },
        "required": ["events"],
        "additionalProperties": False,
    }
    lone = {"title": "One event", "description": "One event; kept or rejected like an item of a batch.",
            "type": "object", "not": {"required": ["events"]}, "anyOf": [event, {"type": "object"}]}  # fmt: skip
    refs = [{"$ref": "#/components/schemas/EventBatchIn"}, lone]
    return {"required": True, "content": {"application/json": {"schema": {"oneOf": refs}}}}


def _with_errors(responses: dict[str, Any]) -> dict[str, Any]:
    """Document errors with the envelope every route answers with (not Powertools' default shape),
    and an answer without a body (a route returning a bare ``Response``: 202, 204) as having none."""
    kept = {code: spec for code, spec in responses.items() if not code.startswith(("4", "5"))}
    for spec in kept.values():
        if spec.get("content", {}).get("application/json", {}).get("schema", {}).get("type") == "null":
            del spec["content"]
    envelope = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}}
    kept["4XX"] = {"description": "Client error, in the error envelope", **envelope}
    kept["5XX"] = {"description": "Server error, in the error envelope", **envelope}
    return kept


def document(root: Path = ROOT) -> dict[str, Any]:
    stack = read_stack(root)
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for name, function in stack.functions.items():
        if not any(route.function == name for route in stack.routes):
            continue
        entry = Lambda(function).handler()
        app, public = entry.resolver, entry.public_routes
        schema = json.loads(
            app.get_openapi_json_schema(title="apimeter", version=__version__, security_schemes=SECURITY_SCHEMES)
        )
        schemas.update(schema.get("components", {}).get("schemas", {}))
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                if operation.pop(BODY_EXTENSION, None):
                    operation["requestBody"] = _ingest_body(schemas)
                if f"{method.upper()} {path}" in public:
                    operation["security"] = []
                elif "security" not in operation:
                    raise RuntimeError(f"{method.upper()} {path} declares no security")
                operation["responses"] = _with_errors(operation["responses"])
                paths.setdefault(path, {})[method] = operation
    for model in (ErrorEnvelope, *ANSWER_MODELS):
        schemas[model.__name__] = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schemas[model.__name__].pop("$defs", {}))
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(unused, None)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "apimeter",
            "version": __version__,
            "description": "API usage analytics and cost. Errors: {error: {code, message, details, request_id, "
            "timestamp}}.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                name: scheme.model_dump(mode="json", by_alias=True, exclude_none=True)
                for name, scheme in SECURITY_SCHEMES.items()
            },
        },
    }


def render(root: Path = ROOT) -> str:
    return json.dumps(document(root), indent=2, sort_keys=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render())
