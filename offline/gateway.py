"""A local HTTP API gateway: HTTP requests become the payload-2.0 events API Gateway sends.

Per request: match a route of the template (static segments before parameters, ``$default`` last),
call the route's authorizer with the REQUEST event when the route has one, pass its simple
response's context as ``requestContext.authorizer.lambda``, invoke the route's function and turn its
answer back into HTTP. A fresh request id per request; 10 MB body limit; errors in a function give
API Gateway's own ``500 {"message": "Internal Server Error"}``. What http.server itself refuses (a
malformed or over-long request line, over-long headers, a method no route can name) is answered in
the API's error envelope, never in http.server's HTML page; so is a request whose framing is unsafe
to read (``_framing``), before its body is.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from apimeter.api.envelope import error_body
from apimeter.api.headers import secure
from offline import priority
from offline.lambdas import Lambda
from offline.schedules import Scheduler
from offline.site import Site
from offline.template import ACCOUNT, HTTP_API_ID, REGION, Cors, Route, Stack
from offline.websocket import MANAGEMENT_PREFIX, Answer, LiveGateway, merged_headers

log = logging.getLogger("offline.gateway")

MAX_BODY = 10 * 1024 * 1024
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")  # all an HTTP API route can name
# The envelope's codes for statuses PRODUCT.md names; any other status uses HTTP's own name.
_ENVELOPE_CODES = {400: "VALIDATION_ERROR", 413: "PAYLOAD_TOO_LARGE"}
# http.server's refusals, said without echoing the request (a request line can be 64 KB).
_REFUSALS = {
    400: "malformed request line: it must be a method, a target and HTTP/1.0 or HTTP/1.1",
    414: "the request line is over 65,536 bytes",
    431: "the request headers are too large: a line over 65,536 bytes or over 100 headers",
    505: "HTTP/1.0 and HTTP/1.1 only",
}


@dataclass(frozen=True, slots=True)
class _Compiled:
    route: Route
    pattern: re.Pattern[str]
    specificity: tuple[int, int]


def _compile(route: Route) -> _Compiled:
    parts = route.path.strip("/").split("/") if route.path != "/" else []
    regex, static = "", 0
    for part in parts:
        if part.startswith("{") and part.endswith("+}"):
            regex += f"/(?P<{part[1:-2]}>.+)"
        elif part.startswith("{") and part.endswith("}"):
            regex += f"/(?P<{part[1:-1]}>[^/]+)"
        else:
            regex += "/" + re.escape(part)
            static += 1
    return _Compiled(route, re.compile(f"^{regex or '/'}$"), (static, len(parts)))


class Router:
    def __init__(self, routes: list[Route]) -> None:
        compiled = [_compile(r) for r in routes if r.path != "$default"]
        self._routes = sorted(compiled, key=lambda c: c.specificity, reverse=True)
        self._default = next((r for r in routes if r.path == "$default"), None)

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for candidate in self._routes:
            if candidate.route.method not in (method, "ANY"):
                continue
            found = candidate.pattern.match(path)
            if found:
                return candidate.route, {k: unquote(v) for k, v in found.groupdict().items()}
        return (self._default, {}) if self._default else None


def build_event(
    route: Route,
    method: str,
    raw_path: str,
    query: str,
    headers: dict[str, str],
    body: bytes,
    path_parameters: dict[str, str],
    source_ip: str,
    host: str,
) -> dict[str, Any]:
    """The payload-2.0 event API Gateway gives a route's integration."""
    now = datetime.now(UTC)
    content_type = headers.get("content-type", "")
    text = _text(body, content_type)
    route_key = "$default" if route.path == "$default" else route.key
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": HTTP_API_ID,
            "domainName": host,
            "domainPrefix": host.split(".", maxsplit=1)[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text if text is not None else base64.b64encode(body).decode(),
        "isBase64Encoded": text is None,
    }
    if "cookie" in headers:
        event["cookies"] = [c.strip() for c in headers["cookie"].split(";") if c.strip()]
    if query:
        params: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            params.setdefault(key, []).append(value)
        event["queryStringParameters"] = {k: ",".join(v) for k, v in params.items()}
    if path_parameters:
        event["pathParameters"] = path_parameters
    return event


def _text(body: bytes, content_type: str) -> str | None:
    """The body as text, or None when it goes base64-encoded: binary, and declared text that is not
    UTF-8 (the function sees the bytes sent and can refuse them, never replacement characters)."""
    if not body:
        return ""
    if not content_type.startswith(_TEXT_TYPES):
        return None
    try:
        return body.decode()
    except UnicodeDecodeError:
        return None


def authorizer_event(event: dict[str, Any], route: Route) -> dict[str, Any]:
    method, _, path = route.key.partition(" ")
    request = dict(event)
    request.update(
        {
            "type": "REQUEST",
            "routeArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{HTTP_API_ID}/$default/{method}{path}",
            "identitySource": [],
        }
    )
    return request


class Gateway:
    def __init__(
        self,
        stack: Stack,
        functions: dict[str, Lambda],
        scheduler: Scheduler | None = None,
        site: Site | None = None,
        origins: tuple[str, ...] = (),
    ) -> None:
        """``origins``: those the template's CORS allows (offline: the stack's own and the parameter's)."""
        self.router = Router(stack.routes)
        self.cors = stack.cors
        self.origins = frozenset(origins)
        self.site = site
        self.functions = functions
        self.authorizer = functions[stack.authorizer_function] if stack.authorizer_function else None
        self.scheduler = scheduler
        self.live = LiveGateway(stack.websockets[0], functions) if stack.websockets else None

    def _offline(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], list[str], bytes]:
        """``POST /_offline/schedules/<Function or StateMachine>``: run a schedule now (a development
        aid; loopback only). A JSON object body is the run's input (``{"hour": "2026-11-29T07"}``
        judges that hour), instead of the empty input the schedule sends."""
        name = path.removeprefix("/_offline/schedules/")
        if method != "POST" or self.scheduler is None or name not in self.scheduler.names():
            known = self.scheduler.names() if self.scheduler else []
            return _gateway_error(404, f"no such schedule; known: {', '.join(known)}")
        try:
            payload = json.loads(body) if body.strip() else {}
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            return _gateway_error(400, "the body, if any, must be a JSON object: the run's input")
        result = self.scheduler.fire(name, payload)
        return 200, {"content-type": "application/json"}, [], json.dumps(result, default=str).encode()

    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str, host: str
    ) -> tuple[int, dict[str, str], list[str], bytes]:
        """Returns status, headers, cookies and body, with CORS headers as API Gateway adds them."""
        origin = headers.get("origin", "")
        if self.cors is not None and method == "OPTIONS" and origin and "access-control-request-method" in headers:
            return preflight(self.cors, origin in self.origins, origin)
        status, out, cookies, payload = self._handle(method, target, headers, body, source_ip, host)
        if self.cors is not None and origin in self.origins:
            out = {k: v for k, v in out.items() if not k.startswith("access-control-")}
            out["access-control-allow-origin"] = origin
            if self.cors.expose_headers:
                out["access-control-expose-headers"] = ",".join(self.cors.expose_headers)
            out["vary"] = "origin"
        return status, out, cookies, payload

    def _handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str, host: str
    ) -> tuple[int, dict[str, str], list[str], bytes]:
        split = urlsplit(target)
        if len(body) > MAX_BODY:
            return _gateway_error(413, "Request Entity Too Large")
        if split.path.startswith(MANAGEMENT_PREFIX + "/") and self.live is not None:
            return self.live.manage(method, split.path, body)
        if split.path.startswith("/_offline/"):
            return self._offline(method, split.path, body)
        matched = self.router.match(method, split.path)
        if (matched is None or matched[0].path == "$default") and self.site is not None:
            static = self.site.answer(method, split.path)  # what no API route takes, the dashboard may
            if static is not None:
                return static
        if matched is None:
            return _gateway_error(404, "Not Found")
        route, path_parameters = matched
        event = build_event(route, method, split.path, split.query, headers, body, path_parameters, source_ip, host)
        refused = self._authorize(event, route)
        if refused is not None:
            return refused
        started = time.perf_counter()
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:
            log.exception("function %s failed", route.function)
            return _gateway_error(500, "Internal Server Error")
        finally:
            log.info(
                "%s %s -> %s in %.1f ms", method, split.path, route.function, (time.perf_counter() - started) * 1000
            )
        return _response(result)

    def _authorize(self, event: dict[str, Any], route: Route) -> tuple[int, dict[str, str], list[str], bytes] | None:
        """Runs the route's Lambda authorizer: the gateway's refusal, or None with the authorizer's
        context put in the event where API Gateway puts it."""
        if not route.authorized or self.authorizer is None:
            return None
        try:
            decision = self.authorizer.invoke(authorizer_event(event, route))
        except Exception:
            log.exception("authorizer failed")
            return _gateway_error(500, "Internal Server Error")
        if not isinstance(decision, dict) or decision.get("isAuthorized") is not True:
            return _gateway_error(403, "Forbidden")
        event["requestContext"]["authorizer"] = {"lambda": decision.get("context") or {}}
        return None


def preflight(cors: Cors, allowed: bool, origin: str) -> tuple[int, dict[str, str], list[str], bytes]:
    """API Gateway answers a CORS preflight itself: 204, with the CORS headers only for an allowed
    origin (a browser then refuses the request from any other)."""
    if not allowed:
        return 204, {}, [], b""
    out = {
        "access-control-allow-origin": origin,
        "access-control-allow-methods": ",".join(cors.allow_methods),
        "access-control-allow-headers": ",".join(cors.allow_headers),
        "access-control-max-age": str(cors.max_age),
        "vary": "origin",
    }
    return 204, out, [], b""


def _gateway_error(status: int, message: str) -> tuple[int, dict[str, str], list[str], bytes]:
    headers = secure({"content-type": "application/json"}, authenticated=True)
    return status, dict(headers), [], json.dumps({"message": message}).encode()


def _refusal(
    status: int, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], list[str], bytes]:
    """An answer of the gateway itself in the API's error envelope, with a request id of its own."""
    code = _ENVELOPE_CODES.get(status) or HTTPStatus(status).name
    body = error_body(code, message, str(uuid.uuid4()), details).encode()
    out = secure({"content-type": "application/json", **(headers or {})}, authenticated=True)
    return status, dict(out), [], body


def _response(result: Any) -> tuple[int, dict[str, str], list[str], bytes]:
    """Payload 2.0 response rules: a dict with statusCode is a full response; anything else is JSON."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return 200, {"content-type": "application/json"}, [], json.dumps(result).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = ",".join(str(v) for v in values)
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, list(result.get("cookies") or []), raw


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    raw_requestline: bytes  # set by http.server, which does not declare it
    protocol_version = "HTTP/1.1"

    def parse_request(self) -> bool:
        """Only HTTP/1.x requests with a method an HTTP API route can name get past here; the rest are
        refused in the envelope (http.server would answer an unknown method with a 501 HTML page)."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        if self.command not in METHODS:
            allowed = ", ".join(METHODS)
            message = f"{self.command} is not a method of this API; it takes {allowed}"
            self._refuse(*_refusal(405, message, {"allowed": list(METHODS)}, {"allow": allowed}))
            return False
        return True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Every error http.server answers by itself, in the envelope instead of its HTML page."""
        self.log_error("code %d, message %s", code, message)
        self._refuse(*_refusal(code, _REFUSALS.get(code) or HTTPStatus(code).phrase))

    def _refuse(self, status: int, out_headers: dict[str, str], cookies: list[str], payload: bytes) -> None:
        """A request turned away before it was read whole: the connection closes after the answer."""
        if self.request_version in ("", "HTTP/0.9"):
            self.request_version = "HTTP/1.0"  # else http.server writes neither status line nor headers
        if not self.command:  # a line refused unparsed (over-long) still says whether it is a HEAD
            self.command = self.raw_requestline.split(b" ", 1)[0].decode("latin-1")
        self.close_connection = True
        self._write(status, {**out_headers, "connection": "close"}, cookies, payload)

    def _serve(self) -> None:
        live = self.server.gateway.live
        if live is not None and live.is_upgrade(self.command, self.path, self.headers):
            self._upgrade(live)
            return
        length = _framing(self.headers)
        if not isinstance(length, int):
            self._refuse(*length)
            return
        body = self.rfile.read(length) if length else b""
        if len(body) < length:  # the client stopped sending: what came is not the request it declared
            self._refuse(*_refusal(400, f"the body ended after {len(body)} of its {length} bytes"))
            return
        if not self.server.begin():
            self._closing()
            return
        try:
            self._answer(body)
        finally:
            self.server.end()

    def _upgrade(self, live: LiveGateway) -> None:
        """A WebSocket connection: served on this thread until it ends, not counted as a request
        under way (a stop closes it instead of waiting for it)."""
        self.close_connection = True
        if self.server.closing:
            self._closing()
            return
        with priority.foreground():
            live.serve(self)

    def _closing(self) -> None:
        """Stopping: a request on a kept-alive connection is turned away, as a gateway restart would."""
        self._write(*_gateway_error(503, "Service Unavailable"))
        self.close_connection = True

    def _answer(self, body: bytes) -> None:
        headers = merged_headers(self.headers.items())
        with priority.foreground():
            answer = self.server.gateway.handle(
                self.command, self.path, headers, body, self.client_address[0], headers.get("host", "127.0.0.1")
            )
        self._write(*answer)

    def _write(self, status: int, out_headers: dict[str, str], cookies: list[str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in out_headers.items():
            if key not in ("content-length", "connection"):
                self.send_header(key, value)
        for cookie in cookies:
            self.send_header("set-cookie", cookie)
        if out_headers.get("connection") == "close":
            self.send_header("connection", "close")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


def _framing(headers: Message) -> int | Answer:
    """The body's length, or the refusal of a request whose framing is unsafe to read: a length that
    is not one whole number, or over the body limit (refused before a byte of it is read); a
    Transfer-Encoding (the gateway reads bodies by Content-Length only, and unread chunks would be
    taken for the next request); a header value holding CR, LF (an obsolete folded line) or NUL."""
    for name, value in headers.items():
        if any(character in value for character in "\r\n\0"):
            return _refusal(400, f"the {name[:100]} header holds a line break or NUL")
    if headers.get("transfer-encoding") is not None:
        return _refusal(411, "send the body with Content-Length: Transfer-Encoding is not supported")
    lengths = {value.strip() for value in headers.get_all("content-length") or []}
    length = _content_length(next(iter(lengths), None)) if len(lengths) <= 1 else None
    if length is None:
        return _refusal(400, "content-length must be one whole number of bytes")
    if length > MAX_BODY:
        return _refusal(413, f"the body is over {MAX_BODY} bytes")
    return length


def _content_length(value: str | None) -> int | None:
    """The body's length in bytes; None when the header is not a non-negative integer."""
    if not value:
        return 0
    stripped = value.strip()
    return int(stripped) if stripped.isascii() and stripped.isdigit() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A push to many sockets opens up to 32 management connections at once; the default backlog of
    # 5 lets the kernel drop some, and each dropped one costs a second-long SYN retry.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], gateway: Gateway) -> None:
        super().__init__(address, _Handler)
        self.gateway = gateway
        self._busy = 0
        self._closing = False
        self._idle = threading.Condition()

    @property
    def closing(self) -> bool:
        with self._idle:
            return self._closing

    def begin(self) -> bool:
        """A request starts; False once the server is closing (nothing new is written after that)."""
        with self._idle:
            if self._closing:
                return False
            self._busy += 1
            return True

    def end(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def finish_requests(self, timeout: float) -> bool:
        """Refuses new requests and waits for those under way: what a client was told is written
        is written before the stack drains its streams and saves."""
        with self._idle:
            self._closing = True
            return self._idle.wait_for(lambda: self._busy == 0, timeout)


def serve(gateway: Gateway, port: int) -> _Server:
    """Bind to 127.0.0.1 only; the caller runs ``serve_forever`` and ``shutdown``."""
    return _Server(("127.0.0.1", port), gateway)
