"""Pure ASGI middleware for FastAPI, Starlette and any ASGI app.

    app.add_middleware(ApimeterMiddleware, client=client)

Records every HTTP call once the response is complete: the route template (Starlette's and
FastAPI's, through mounted sub-applications, included routers and ``root_path``), the raw path, the
status, the latency on the monotonic clock, the bytes received and sent (streamed bodies counted as
they pass, never buffered or changed), the consumer, the client address and the user agent.
WebSocket and lifespan traffic pass untouched. An exception from the app is recorded as a 500 and
re-raised.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from apimeter_client._calls import Tracker, call_event, client_ip, consumer_of, log, sender

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_FULL, _PARTIAL = 2, 1  # starlette.routing.Match, without importing Starlette
_CLIENT_CLOSED = 499


class ApimeterMiddleware:
    """``consumer`` receives the ASGI scope after the response (``scope["state"]`` holds what the app
    set on ``request.state``; ``apimeter_client.from_header("X-Customer")`` reads a header).
    ``trusted_proxies``: how many reverse proxies in front of the app append ``X-Forwarded-For``
    (0: the socket's peer address is the client)."""

    def __init__(
        self,
        app: ASGIApp,
        client: Tracker,
        *,
        consumer: Callable[[Scope], Any] | None = None,
        trusted_proxies: int = 0,
    ) -> None:
        self.app = app
        self.client = client
        self.consumer = consumer
        self.trusted_proxies = trusted_proxies
        self._send_event = sender(client)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        call = _Call(self, scope, receive, send)
        try:
            await self.app(scope, call.receive, call.send)
        except Exception:
            if not call.recorded:  # else it came after a complete response: a background task's failure
                call.status = 500
            raise
        except BaseException:  # cancelled: the client went away
            call.status = call.status or _CLIENT_CLOSED
            raise
        finally:
            call.record()

    def _event(
        self, scope: Scope, path: str, root_path: str, status: int, started_ms: int, seconds: float,
        received: int, sent: int,
    ) -> dict[str, Any]:  # fmt: skip
        length = user_agent = None
        forwarded: list[str] = []
        for key, value in scope.get("headers") or ():
            if key == b"content-length":
                length = value
            elif key == b"user-agent":
                user_agent = value.decode("latin-1")
            elif key == b"x-forwarded-for" and self.trusted_proxies:
                forwarded.append(value.decode("latin-1"))
        peer = scope.get("client")
        ip = peer[0] if peer else None
        if forwarded:
            ip = client_ip(ip, forwarded, self.trusted_proxies)
        return call_event(
            scope.get("method", "GET"),
            template(scope, path, root_path),
            path,
            status,
            started_ms,
            seconds,
            int(length) if length is not None and length.isdigit() else received,
            sent,
            consumer_of(self.consumer, scope),
            ip,
            user_agent,
        )


class _Call:
    """One HTTP call in flight: the app receives and sends through it, so it counts the bytes and
    keeps the status, and it records the call once, when the response's last byte is out."""

    __slots__ = ("_middleware", "_receive", "_scope", "_send", "path", "received", "recorded", "root_path",
                 "sent", "started", "started_ms", "status")  # fmt: skip

    def __init__(self, middleware: ApimeterMiddleware, scope: Scope, receive: Receive, send: Send) -> None:
        self._middleware, self._scope, self._receive, self._send = middleware, scope, receive, send
        self.started = time.perf_counter()
        self.started_ms = time.time_ns() // 1_000_000
        # Read before the app runs: routing rewrites the scope for mounted sub-applications.
        self.path: str = scope["path"]
        self.root_path: str = scope.get("root_path", "")
        self.status = self.received = self.sent = 0
        self.recorded = False

    def record(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        try:
            seconds = time.perf_counter() - self.started
            middleware = self._middleware
            event = middleware._event(
                self._scope, self.path, self.root_path, self.status or 500, self.started_ms, seconds,
                self.received, self.sent,
            )  # fmt: skip
            middleware._send_event(event)
        except Exception:  # never into the app
            log.exception("apimeter: could not record a call")

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self.status = message["status"]
            await self._send(message)
            return
        self.sent += _body_size(message)
        await self._send(message)
        if not message.get("more_body", False) and kind != "http.response.trailers":
            self.record()  # the last byte is out: background tasks that follow are not the call's


def _body_size(message: Message) -> int:
    """The bytes a response message carries, files sent by path or descriptor counted by their size."""
    kind = message["type"]
    if kind == "http.response.body":
        return len(message.get("body", b""))
    if kind == "http.response.pathsend":
        return _file_size(message.get("path"))
    if kind == "http.response.zerocopysend":
        return message.get("count") or _file_size(message.get("file"))
    return 0


def template(scope: Scope, path: str, root_path: str) -> str | None:
    """The full route template of the call: the deployment's ``root_path``, then the template of every
    mount and router prefix, then the route's own. None when no route matched (the server templates
    the raw path)."""
    route = scope.get("route")
    if route is None:  # Starlette before scope["route"]: match the routes as the router did
        routes = getattr(scope.get("router"), "routes", None) or getattr(scope.get("app"), "routes", None)
        if routes:
            route = _match(routes, {**scope, "path": path, "root_path": root_path, "path_params": {}})
    path_format = getattr(route, "path_format", None)
    regex = getattr(route, "path_regex", None)
    if not isinstance(path_format, str) or regex is None:
        return None
    params = scope.get("path_params") or {}
    # Routing added every mount's concrete prefix to root_path: the route matched what follows it.
    mounted = scope.get("root_path") or root_path
    mount = mounted[len(root_path) :] if mounted.startswith(root_path) else ""
    rest = path[len(mounted) :] if path.startswith(mounted) else path.removeprefix(mount)
    if regex.match(rest):
        return root_path + _prefix(mount, path_format, params) + path_format
    relative = path[len(root_path) :] if root_path and path.startswith(root_path) else path
    if regex.match(relative):  # the route is a mount itself (static files, a sub-application)
        return root_path + path_format
    # The route's own format is only the tail of the path: it sits under routers whose prefixes it
    # does not carry (FastAPI's included routers). Find where its tail starts, and template what
    # comes before from the path parameters the route does not name itself.
    for cut in (i for i in range(len(rest) - 1, -1, -1) if rest[i] == "/"):
        if regex.match(rest[cut:]):
            return root_path + _prefix(mount + rest[:cut], path_format, params) + path_format
    return None


def _prefix(concrete: str, path_format: str, params: dict[str, Any]) -> str:
    values = {str(value): name for name, value in params.items() if "{" + name + "}" not in path_format}
    if not values:
        return concrete
    return "/".join("{" + values[part] + "}" if part in values else part for part in concrete.split("/"))


def _match(routes: Any, scope: dict[str, Any]) -> Any:
    """The route (or mounted route) the router would pick, first full match, else first partial."""
    partial = None
    for route in routes:
        try:
            match, child = route.matches(scope)
        except Exception:  # a route of a kind this walk does not know: the router's pick stands
            log.debug("apimeter: route %r could not be matched", route, exc_info=True)
            continue
        match = getattr(match, "value", match)  # an Enum in Starlette 1.x, an IntEnum before
        if match == _FULL:
            inner = getattr(route, "routes", None)
            if inner:
                return _match(inner, {**scope, **child}) or route
            return route
        if match == _PARTIAL and partial is None:
            partial = route
    return partial


def _file_size(target: Any) -> int:
    try:
        if hasattr(target, "fileno"):
            target = target.fileno()
        return os.fstat(target).st_size if isinstance(target, int) else os.path.getsize(target)
    except (OSError, TypeError, ValueError):
        return 0
