"""The resolver factory: every HTTP function is built here, so every route gets the same envelope,
authentication check, body limit, correlation id, tracing and metrics."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.api.envelope import error_body, error_response
from apimeter.domain.principal import Principal
from apimeter.errors import ApimeterError, AuthenticationFailed, RateLimited
from apimeter.logic import limits
from apimeter.observability import logger, metrics, tracer
from apimeter.settings import settings

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

# Which credentials a route takes, declared on the route for the OpenAPI document.
USER: list[dict[str, list[str]]] = [{"bearer": []}]
API_KEY: list[dict[str, list[str]]] = [{"apiKey": []}]
USER_OR_KEY: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]


def _request_id(app: APIGatewayHttpResolver) -> str:
    return str(app.current_event.request_context.request_id or "")


def build_resolver() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver(enable_validation=True)

    def envelope(status: int, code: str, message: str, details: Any = None) -> Response[str]:
        body = error_body(code, message, _request_id(app), details)
        return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)

    @app.exception_handler(ApimeterError)
    def _domain_error(exc: ApimeterError) -> Response[str]:
        return envelope(exc.status, exc.code, exc.message, exc.details)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg")}
            for e in exc.errors()
        ]
        return envelope(422, "VALIDATION_ERROR", "request is not valid", details)

    @app.not_found
    def _no_route(_: NotFoundError) -> Response[str]:
        return envelope(404, "NOT_FOUND", "no such route")

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return envelope(500, "INTERNAL_ERROR", "internal error")

    return app


def principal(app: APIGatewayHttpResolver) -> Principal:
    """The caller, as the authorizer identified them (the handler entry already rejected anonymous calls)."""
    context = app.current_event.request_context.authorizer.get_lambda or {}
    return Principal.from_context(context)


def _body_bytes(event: dict[str, Any]) -> int:
    body = event.get("body") or ""
    return len(base64.b64decode(body)) if event.get("isBase64Encoded") else len(body.encode())


def handler(
    app: APIGatewayHttpResolver, public_routes: Iterable[str] = (), self_metered_routes: Iterable[str] = ()
) -> Handler:
    """The Lambda entry point of an HTTP function.

    Before routing: a body over ``MAX_BODY_BYTES`` gets 413; a call to a route outside
    ``public_routes`` (route keys such as ``"POST /v1/auth/login"``) without a verified principal
    gets 401; and the caller's rate limits are charged one request (routes in
    ``self_metered_routes`` charge themselves, per event), 429 with ``Retry-After`` when over.
    After routing, every response gets the X-RateLimit-* headers. This is the one place that
    enforces authentication and rate limits.
    """
    public = frozenset(public_routes)
    self_metered = frozenset(self_metered_routes)

    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
    @tracer.capture_lambda_handler
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request_id = str(event.get("requestContext", {}).get("requestId", ""))
        limit = settings().max_body_bytes
        if _body_bytes(event) > limit:
            return error_response(413, "PAYLOAD_TOO_LARGE", f"request body is over {limit} bytes", request_id)
        route = event.get("routeKey")
        limits.take_headers()
        if route not in public:
            context_values = event.get("requestContext", {}).get("authorizer", {}).get("lambda") or {}
            try:
                caller = Principal.from_context(context_values)
            except AuthenticationFailed as exc:
                return error_response(401, exc.code, exc.message, request_id)
            if route not in self_metered:
                try:
                    limits.charge(caller, 1)
                except RateLimited as exc:
                    return error_response(429, exc.code, exc.message, request_id, exc.details, limits.take_headers())
        response = app.resolve(event, context)
        response.setdefault("headers", {}).update(limits.take_headers())
        return response

    # Read by the template checks and the OpenAPI generator.
    lambda_handler.resolver = app  # type: ignore[attr-defined]
    lambda_handler.public_routes = public  # type: ignore[attr-defined]
    return lambda_handler


def route_keys(app: APIGatewayHttpResolver) -> set[str]:
    """``"METHOD /path"`` for every route the resolver serves (checked against template.yaml)."""
    routes = app._static_routes + app._dynamic_routes
    return {f"{route.method.upper()} {route.path}" for route in routes}
