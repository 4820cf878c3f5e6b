"""AWS Lambda: a decorator for handlers behind API Gateway (REST API, HTTP API) or an ALB.

    client = Client(os.environ["APIMETER_API_KEY"], "https://api.apimeter.example")

    @instrument(client)
    def handler(event, context):
        ...

The template comes from the event (``resource`` for REST APIs and HTTP API payload 1.0, ``routeKey``
for payload 2.0); a greedy ``{proxy+}`` route, ``$default`` or an ALB sends the raw path, which the
server templates. Lambda freezes the process between invocations, so the decorator flushes before the
handler returns: up to ``flush_timeout`` seconds, and only briefly while apimeter is unreachable, so
an outage does not slow every invocation (what is not sent stays queued for the next one).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from apimeter_client._calls import Send, call_event, client_ip, consumer_of, log, sender
from apimeter_client._client import Client

Handler = TypeVar("Handler", bound=Callable[..., Any])
_DEGRADED_FLUSH_SECONDS = 0.05


def instrument(
    client: Client,
    *,
    consumer: Callable[[dict[str, Any]], Any] | None = None,
    trusted_proxies: int = 0,
    flush_timeout: float = 2.0,
) -> Callable[[Handler], Handler]:
    """``consumer`` receives the event (e.g. ``apimeter_client.from_header("X-Customer")``, or the
    authorizer's context); ``trusted_proxies`` counts proxies in front of an ALB or of API Gateway."""
    degraded = False
    send = sender(client)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def instrumented(event: Any, context: Any) -> Any:
            nonlocal degraded
            started_ms, started = time.time_ns() // 1_000_000, time.perf_counter()
            result: Any = None
            failed = True
            try:
                result = handler(event, context)
                failed = False
                return result
            finally:
                if isinstance(event, dict):
                    _record(send, event, result, failed, started_ms, started, consumer, trusted_proxies)
                flushed = client.flush(_DEGRADED_FLUSH_SECONDS if degraded else flush_timeout)
                degraded = not flushed

        return instrumented  # type: ignore[return-value]

    return decorate


def _record(
    send: Send, event: dict[str, Any], result: Any, failed: bool, started_ms: int, started: float,
    consumer: Callable[[dict[str, Any]], Any] | None, trusted_proxies: int,
) -> None:  # fmt: skip
    try:
        seconds = time.perf_counter() - started
        context = event.get("requestContext") or {}
        headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
        if event.get("version") == "2.0":
            http = context.get("http") or {}
            method, path = http.get("method", "GET"), event.get("rawPath") or http.get("path") or "/"
            route_key = event.get("routeKey") or context.get("routeKey") or ""
            endpoint = route_key.split(" ", 1)[1] if " " in route_key else None
            ip = client_ip(http.get("sourceIp"), [headers.get("x-forwarded-for", "")], trusted_proxies)
            user_agent = http.get("userAgent") or headers.get("user-agent")
        else:
            method, path = event.get("httpMethod") or "GET", event.get("path") or "/"
            identity = context.get("identity") or {}
            endpoint = event.get("resource")
            forwarded = headers.get("x-forwarded-for") or ",".join(
                (event.get("multiValueHeaders") or {}).get("x-forwarded-for", [])
            )
            if "elb" in context:  # the load balancer appends the address it saw
                ip = client_ip(None, [forwarded], trusted_proxies + 1)
            else:
                ip = client_ip(identity.get("sourceIp"), [forwarded], trusted_proxies)
            user_agent = identity.get("userAgent") or headers.get("user-agent")
        if endpoint and "+}" in endpoint:  # a greedy proxy route says nothing of the path
            endpoint = None
        send(
            call_event(
                method,
                endpoint,
                path,
                500 if failed else _status(result, event),
                started_ms,
                seconds,
                _size(event.get("body"), event.get("isBase64Encoded")),
                _response_size(result),
                consumer_of(consumer, event),
                ip,
                user_agent,
            )
        )
    except Exception:  # never into the handler
        log.exception("apimeter: could not record a call")


def _status(result: Any, event: dict[str, Any]) -> int:
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return int(result["statusCode"])
        except (TypeError, ValueError):
            return 502
    # HTTP API payload 2.0 answers 200 with any other value as its body; the others answer 502.
    return 200 if event.get("version") == "2.0" else 502


def _response_size(result: Any) -> int | None:
    if isinstance(result, dict) and "statusCode" in result:
        return _size(result.get("body"), result.get("isBase64Encoded"))
    if result is None:
        return 0
    return len(result.encode()) if isinstance(result, str) else len(json.dumps(result, default=str).encode())


def _size(body: Any, base64_encoded: Any) -> int | None:
    if body is None:
        return 0
    if not isinstance(body, str):
        return None
    if base64_encoded:
        return len(body) * 3 // 4 - body[-2:].count("=")
    return len(body) if body.isascii() else len(body.encode())
