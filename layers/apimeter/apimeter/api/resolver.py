"""The resolver factory: every HTTP function is built here, so every route gets the same envelope,
authentication check, body limit, correlation id, tracing and metrics."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from apimeter.api.credentials import judge, rejected
from apimeter.api.envelope import error_body, error_response
from apimeter.api.headers import secure
from apimeter.dal.dynamo import throttled
from apimeter.domain import json_text
from apimeter.domain.principal import Principal
from apimeter.errors import (
    ApimeterError,
    AuthenticationFailed,
    PayloadTooLarge,
    RateLimited,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from apimeter.logic import limits
from apimeter.observability import logger, metrics, tracer
from apimeter.settings import settings

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# Which credentials a route takes, declared on the route for the OpenAPI document.
USER: list[dict[str, list[str]]] = [{"bearer": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
USER_OR_KEY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]

# A throttled table answers 503 with this Retry-After: what was written stays written, and a retry
# of the same request is safe (ingest counts what it already has as duplicates).
RETRY_AFTER_SECONDS = 1
_BUSY = "the service is busy; retry the request after Retry-After seconds"


def _request_id(app: APIGatewayHttpResolver) -> str:
    return str(app.current_event.request_context.request_id or "")


def build_resolver(*, validation: bool = True) -> APIGatewayHttpResolver:
    """The resolver every HTTP function uses. With ``validation`` (Powertools' OpenAPI validation),
    routes take parameters and bodies as typed models and answer with models; without it, a route
    reads its request itself and answers with a dict, and the function never imports pydantic
    (the tracking function: its cold starts are the ones clients wait on)."""
    # Strict JSON (json_text): no NaN, Infinity, nesting past 1,024 levels or key given twice; its
    # errors are json's JSONDecodeError: a 400 below.
    app = APIGatewayHttpResolver(enable_validation=validation, json_body_deserializer=json_text.loads)

    def envelope(
        status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> Response[str]:
        body = error_body(code, message, _request_id(app), details)
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body, headers=headers)

    @app.exception_handler(ApimeterError)
    def _domain_error(exc: ApimeterError) -> Response[str]:
        return envelope(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:  # not JSON at all: a 400, where a body that breaks the schema is a 422
            reason = malformed[0].get("ctx", {}).get("error") or "not JSON"
            position = malformed[0].get("loc", ("",))[-1]
            return envelope(400, "VALIDATION_ERROR", f"the body is not valid JSON: {reason} (at {position})")
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg")}
            for e in exc.errors()
        ]
        return envelope(422, "VALIDATION_ERROR", "request is not valid", details)

    @app.exception_handler(RequestUnsupportedContentType)
    def _unsupported(exc: RequestUnsupportedContentType) -> Response[str]:
        return envelope(415, UnsupportedMediaType.code, _JSON_ONLY)

    @app.not_found
    def _no_route(_: NotFoundError) -> Response[str]:
        return envelope(404, "NOT_FOUND", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return envelope(500, "INTERNAL_ERROR", "internal error")

    @app.exception_handler(ClientError)
    def _aws_error(exc: ClientError) -> Response[str]:
        if not throttled(exc):
            logger.exception("unhandled error")
            return envelope(500, "INTERNAL_ERROR", "internal error")
        logger.warning("throttled after the SDK's retries", extra={"error": str(exc)})
        return envelope(503, ServiceUnavailable.code, _BUSY, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    return app


def principal(app: APIGatewayHttpResolver) -> Principal:
    """The caller, as the authorizer identified them (the handler entry already rejected anonymous calls)."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    return Principal.from_context(context)


_JSON_ONLY = "send the body as JSON, with Content-Type: application/json"


def _refuse_body(event: dict[str, Any], any_type: bool) -> ApimeterError | None:
    """Why the request's body cannot be read as JSON text, if it cannot: over ``MAX_BODY_BYTES``
    (413), declared as anything but JSON (415; routes reading ``any_type`` take any, as a browser's
    beacon sends text/plain), or bytes that are not UTF-8 (400). A base64 body is decoded once."""
    body = event.get("body") or ""
    encoded = bool(event.get("isBase64Encoded"))
    try:
        raw = base64.b64decode(body, validate=True) if encoded else body.encode()
    except binascii.Error:  # not what API Gateway sends
        return ValidationFailed("the body is not UTF-8 text")
    limit = settings().max_body_bytes
    if len(raw) > limit:
        return PayloadTooLarge(f"request body is over {limit} bytes")
    if not raw:
        return None
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media and not any_type and media != "application/json" and not media.endswith("+json"):
        return UnsupportedMediaType(f"{_JSON_ONLY} (not {media[:100]})")
    if encoded:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return ValidationFailed("the body is not UTF-8 text")
    return None


def handler(
    app: APIGatewayHttpResolver,
    public_routes: Iterable[str] = (),
    self_metered_routes: Iterable[str] = (),
    any_body_type_routes: Iterable[str] = (),
    self_authenticated_routes: Iterable[str] = (),
    judged: Callable[[bool], None] = lambda _: None,
) -> Handler:
    """The Lambda entry point of an HTTP function.

    Before routing: a body over ``MAX_BODY_BYTES`` gets 413, one declared as anything but JSON 415
    (except on ``any_body_type_routes``), one that is not UTF-8 400 (``_refuse_body``); a call to a
    route outside ``public_routes`` (route keys such as ``"POST /v1/auth/login"``) without a verified
    principal gets 401 (``self_authenticated_routes`` have no authorizer in front of them at the
    gateway: their credential is judged here, as the authorizer would judge it, and ``judged`` is
    told whether it was accepted, for the handler module's metrics); and the caller's
    rate limits are charged one request (routes in ``self_metered_routes`` charge themselves, per
    event), 429 with ``Retry-After`` when over.
    After routing, every response gets the X-RateLimit-* headers; every answer, refusals included,
    gets the security headers and ``Cache-Control: no-store`` (``api.headers``). This is the one
    place that enforces authentication and rate limits.
    """
    public = frozenset(public_routes)
    self_metered = frozenset(self_metered_routes)
    any_body_type = frozenset(any_body_type_routes)
    self_authenticated = frozenset(self_authenticated_routes)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        response = answer(event, context)
        secure(response.setdefault("headers", {}), event.get("routeKey") not in public)
        return response

    def answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = str(event.get("requestContext", {}).get("requestId", ""))
        route = event.get("routeKey")
        refused = _refuse_body(event, route in any_body_type)
        if refused is not None:
            return error_response(refused.status, refused.code, refused.message, request_id)
        limits.take_headers()
        if route in self_authenticated:
            verdict = judge(event.get("headers") or {}, route)
            judged(not rejected(verdict))
            event.setdefault("requestContext", {})["authorizer"] = {"lambda": verdict["context"]}
        if route not in public:
            turned_away = _admit(event, request_id, metered=route not in self_metered)
            if turned_away is not None:
                return turned_away
        response = app.resolve(event, context)
        response.setdefault("headers", {}).update(limits.take_headers())
        return response

    # Read by the template checks and the OpenAPI generator.
    lambda_handler.resolver = app  # type: ignore[attr-defined]
    lambda_handler.public_routes = public  # type: ignore[attr-defined]
    lambda_handler.self_authenticated_routes = self_authenticated  # type: ignore[attr-defined]
    return lambda_handler


def _admit(event: dict[str, Any], request_id: str, metered: bool) -> dict[str, Any] | None:
    """The answer turning a caller away (401 without a verified principal; 429 over a rate limit,
    503 when the counters are throttled, for a ``metered`` route), or None to go on."""
    context_values = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
    try:
        caller = Principal.from_context(context_values)
    except AuthenticationFailed as exc:
        return error_response(401, exc.code, exc.message, request_id)
    if not metered:
        return None
    try:
        limits.charge(caller, 1)
    except RateLimited as exc:
        return error_response(429, exc.code, exc.message, request_id, exc.details, limits.take_headers())
    except ClientError as exc:
        if not throttled(exc):
            raise
        retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        return error_response(503, ServiceUnavailable.code, _BUSY, request_id, headers=retry)
    return None


def route_keys(app: APIGatewayHttpResolver) -> set[str]:
    """``"METHOD /path"`` for every route the resolver serves (checked against template.yaml)."""
    routes = app._static_routes + app._dynamic_routes
    return {f"{route.method.upper()} {route.path}" for route in routes}
