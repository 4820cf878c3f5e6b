"""A local WebSocket API: upgrades on the gateway's port become API Gateway's WebSocket events.

The upgrade runs the ``$connect`` route's REQUEST authorizer (a missing identity source, or an
authorizer that raises ``Unauthorized``, is a 401; a Deny policy is a 403; any other failure a
500), then its function (an answer other than 2xx refuses the upgrade with that status). Each
message is routed by the API's selection expression (``$request.body.action``) to its route, or to
``$default``; a route with a route response sends its function's body back on the socket.
``$disconnect`` runs whichever side closes. The management API that functions call with
``post_to_connection`` is served at ``/_offline/live/@connections/{id}`` (410 Gone for a closed
connection). API Gateway's limits apply: 128 KB messages, 10 minutes idle, two hours in all.

The WebSocket protocol itself (framing, masking, ping/pong, close handshake, size limits) is the
``websockets`` library's sans-I/O implementation; this module moves bytes, builds events, and checks
that text messages are UTF-8 (1007 when not), which that layer leaves to its callers.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request
from websockets.protocol import State
from websockets.server import ServerProtocol

from offline.lambdas import Lambda
from offline.template import ACCOUNT, REGION, SocketRoute, WebSocketApi

log = logging.getLogger("offline.websocket")

PATH = "/ws"
MANAGEMENT_PREFIX = "/_offline/live"
MAX_MESSAGE_BYTES = 128 * 1024
IDLE_SECONDS = 600.0
MAX_SECONDS = 7200.0

Answer = tuple[int, dict[str, str], list[str], bytes]


def _now() -> tuple[datetime, int]:
    now = datetime.now(UTC)
    return now, int(now.timestamp() * 1000)


def _connection_id() -> str:
    return secrets.token_urlsafe(12)[:15] + "="  # the shape of API Gateway's ids


@dataclass(eq=False)
class _Socket:
    connection_id: str
    sock: socket.socket
    protocol: ServerProtocol
    source_ip: str
    user_agent: str
    host: str
    authorizer: dict[str, Any]
    connected_ms: int = field(default_factory=lambda: _now()[1])
    last_active_ms: int = field(default_factory=lambda: _now()[1])
    lock: threading.Lock = field(default_factory=threading.Lock)

    def flush(self) -> None:
        """Write what the protocol has queued (called with ``lock`` held)."""
        _flush(self.sock, self.protocol)

    def send(self, data: bytes) -> None:
        with self.lock:
            if self.protocol.state is not State.OPEN:
                raise ConnectionError("connection is closing")
            try:
                data.decode("utf-8")  # the protocol sends whatever it is given as text
            except UnicodeDecodeError:
                self.protocol.send_binary(data)
            else:
                self.protocol.send_text(data)
            self.flush()
            self.last_active_ms = _now()[1]

    def close(self, code: int, reason: str) -> None:
        with self.lock:
            if self.protocol.state is State.OPEN:
                self.protocol.send_close(code, reason)
                with contextlib.suppress(OSError):
                    self.flush()


class LiveGateway:
    """The template's WebSocket API, served by the HTTP gateway's threads (one per connection)."""

    def __init__(self, api: WebSocketApi, functions: dict[str, Lambda]) -> None:
        self.api = api
        self.functions = functions
        self._open: dict[str, _Socket] = {}
        self._lock = threading.Lock()

    def is_upgrade(self, method: str, target: str, headers: Any) -> bool:
        return method == "GET" and urlsplit(target).path == PATH and "websocket" in headers.get("upgrade", "").lower()

    # the socket's life

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer the upgrade; if accepted, run the connection on this thread until it ends."""
        headers = merged_headers(handler.headers.items())
        query = urlsplit(handler.path).query
        protocol = ServerProtocol(max_size=MAX_MESSAGE_BYTES, logger=log)
        # The HTTP server has read the request; the protocol parses it again from its bytes, as it
        # must see the handshake before any frame.
        raw = f"{handler.requestline}\r\n{handler.headers.as_string().rstrip(chr(10))}\r\n\r\n"
        protocol.receive_data(raw.replace("\r\n", "\n").replace("\n", "\r\n").encode("latin-1"))
        parsed = protocol.events_received()
        if len(parsed) != 1 or not isinstance(parsed[0], Request):
            _flush(handler.connection, protocol)  # the protocol's own refusal (a request line over 8 KB: 414)
            return
        response = protocol.accept(parsed[0])
        if response.status_code != 101:  # not a valid WebSocket handshake: API Gateway never calls $connect
            protocol.send_response(response)
            _flush(handler.connection, protocol)
            return
        connection = _Socket(
            connection_id=_connection_id(),
            sock=handler.connection,
            protocol=protocol,
            source_ip=handler.client_address[0],
            user_agent=headers.get("user-agent", ""),
            host=headers.get("host", "127.0.0.1"),
            authorizer={},
        )
        refusal = self._connect(connection, headers, query)
        if refusal is not None:
            status, text = refusal
            protocol.send_response(protocol.reject(status, text))
            _flush(handler.connection, protocol)
            return
        code, reason = 1006, "Connection closed abnormally"
        try:
            # Open before its client can know it (every send waits for this lock): a client that has
            # its 101 finds the connection counted and reachable through @connections.
            with connection.lock:
                with self._lock:
                    self._open[connection.connection_id] = connection
                protocol.send_response(response)
                connection.flush()
            code, reason = self._receive(connection, handler)
        finally:
            with self._lock:
                self._open.pop(connection.connection_id, None)
            self._disconnect(connection, headers, code, reason)

    def _connect(self, connection: _Socket, headers: dict[str, str], query: str) -> tuple[int, str] | None:
        """Authorizer, then the $connect function; the refusal's status and text, if refused."""
        route = self.api.routes.get("$connect")
        if route is None:
            return None
        event = self._event(route.key, "CONNECT", connection)
        event.update(_request_parts(headers, query))
        if route.authorizer:
            decided = self._authorize(route, event, connection)
            if isinstance(decided, tuple):
                return decided
            connection.authorizer = decided
            event["requestContext"]["authorizer"] = decided
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:
            log.exception("$connect of %s failed", route.function)
            return 500, "Internal server error"
        status = int(result.get("statusCode", 200)) if isinstance(result, dict) else 200
        if not 200 <= status < 300:
            return status, str(result.get("body") or "Forbidden") if isinstance(result, dict) else "Forbidden"
        return None

    def _authorize(
        self, route: SocketRoute, event: dict[str, Any], connection: _Socket
    ) -> dict[str, Any] | tuple[int, str]:
        for source in route.identity_sources:
            if not _identity(source, event):
                return 401, "Unauthorized"  # API Gateway does not call the authorizer without it
        request = {k: v for k, v in event.items() if k != "isBase64Encoded"}
        request.update({"type": "REQUEST", "methodArn": self._arn(route.key), "stageVariables": {}})
        authorizer = route.authorizer or ""
        try:
            decision = self.functions[authorizer].invoke(request)
        except Exception as exc:
            if str(exc) == "Unauthorized":
                return 401, "Unauthorized"
            log.exception("authorizer %s failed", authorizer)
            return 500, "Internal server error"
        statements = ((decision or {}).get("policyDocument") or {}).get("Statement") or []
        if not statements or any(s.get("Effect") != "Allow" for s in statements):
            return 403, "Forbidden"
        context = dict(decision.get("context") or {})
        context["principalId"] = decision.get("principalId")
        return context

    def _receive(self, connection: _Socket, handler: BaseHTTPRequestHandler) -> tuple[int, str]:
        """Read frames until the connection ends; returns the close code and reason."""
        protocol, message = connection.protocol, _Message()
        started = time.monotonic()
        while True:
            data = self._read(connection, handler, started)
            if isinstance(data, tuple):
                return data
            frames = self._feed(connection, data)
            if frames is None:
                return 1006, "Connection closed abnormally"
            self._deliver(connection, frames, message)
            if not data or protocol.state is State.CLOSED:
                code = protocol.close_rcvd.code if protocol.close_rcvd else 1006
                reason = protocol.close_rcvd.reason if protocol.close_rcvd else "Connection closed abnormally"
                return code, reason

    @staticmethod
    def _read(connection: _Socket, handler: BaseHTTPRequestHandler, started: float) -> bytes | tuple[int, str]:
        """The next bytes (empty at the end), or the close code and reason of a connection that ended."""
        remaining = min(IDLE_SECONDS, MAX_SECONDS - (time.monotonic() - started))
        if remaining <= 0:
            connection.close(1001, "Going away")
            return 1001, "Going away"
        connection.sock.settimeout(remaining)
        try:
            return handler.rfile.read1(65536)
        except TimeoutError:
            connection.close(1001, "Going away")
            return 1001, "Going away"
        except OSError:
            return 1006, "Connection closed abnormally"

    @staticmethod
    def _feed(connection: _Socket, data: bytes) -> list[Any] | None:
        """The frames ``data`` completes (pongs and close replies sent); None if the socket failed."""
        protocol = connection.protocol
        with connection.lock:
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            frames: list[Any] = protocol.events_received()
            try:
                connection.flush()
            except OSError:
                return None
        return frames

    def _deliver(self, connection: _Socket, frames: list[Any], message: _Message) -> None:
        for frame in frames:
            if isinstance(frame, Frame) and message.add(frame):
                connection.last_active_ms = _now()[1]
                data = message.data()
                if message.text and not _is_utf8(data):  # RFC 6455 8.1; the sans-I/O protocol leaves it to us
                    with connection.lock:
                        connection.protocol.fail(CloseCode.INVALID_DATA, "text message is not UTF-8")
                        with contextlib.suppress(OSError):
                            connection.flush()
                    return
                self._message(connection, data, message.text)

    def _message(self, connection: _Socket, data: bytes, text: bool) -> None:
        body = data.decode() if text else data.decode("latin-1")
        route = self.api.routes.get(self._select(body)) or self.api.routes.get("$default")
        request_id = str(uuid.uuid4())
        if route is None:
            self._reply(connection, {"message": "Forbidden", "connectionId": connection.connection_id,
                                     "requestId": request_id})  # fmt: skip
            return
        event = self._event(route.key, "MESSAGE", connection, request_id) | {"body": body}
        event["requestContext"]["messageId"] = secrets.token_urlsafe(12)
        try:
            result = self.functions[route.function].invoke(event)
        except Exception:
            log.exception("route %s of %s failed", route.key, route.function)
            self._reply(connection, {"message": "Internal server error", "connectionId": connection.connection_id,
                                     "requestId": request_id})  # fmt: skip
            return
        if route.responds and isinstance(result, dict) and result.get("body") is not None:
            self._send(connection, str(result["body"]).encode())

    def _reply(self, connection: _Socket, message: dict[str, Any]) -> None:
        self._send(connection, json.dumps(message).encode())

    def _send(self, connection: _Socket, data: bytes) -> None:
        try:
            connection.send(data)
        except (OSError, ConnectionError):
            log.debug("answer to %s not sent: the connection is closing", connection.connection_id)

    def _select(self, body: str) -> str:
        """The route a message selects (``$request.body.<path>``); ``$default`` when it names none."""
        path = self.api.selection.removeprefix("$request.body.").split(".")
        try:
            value: Any = json.loads(body)
        except (ValueError, RecursionError):  # nesting past the parser's stack is not a route either
            return "$default"
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        return value if isinstance(value, str) and value in self.api.routes else "$default"

    def _disconnect(self, connection: _Socket, headers: dict[str, str], code: int, reason: str) -> None:
        _shutdown(connection.sock, socket.SHUT_RDWR)
        route = self.api.routes.get("$disconnect")
        if route is None:
            return
        event = self._event(route.key, "DISCONNECT", connection)
        event["requestContext"].update({"disconnectStatusCode": code, "disconnectReason": reason})
        event.update({"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}})
        if connection.authorizer:
            event["requestContext"]["authorizer"] = connection.authorizer
        try:
            self.functions[route.function].invoke(event)
        except Exception:
            log.exception("$disconnect of %s failed", route.function)

    def _event(self, route_key: str, kind: str, connection: _Socket, request_id: str | None = None) -> dict[str, Any]:
        now, now_ms = _now()
        request_id = request_id or str(uuid.uuid4())
        context: dict[str, Any] = {
            "routeKey": route_key,
            "eventType": kind,
            "extendedRequestId": request_id,
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "messageDirection": "IN",
            "stage": self.api.stage,
            "connectedAt": connection.connected_ms,
            "requestTimeEpoch": now_ms,
            "identity": {"sourceIp": connection.source_ip, "userAgent": connection.user_agent},
            "requestId": request_id,
            "domainName": connection.host,
            "connectionId": connection.connection_id,
            "apiId": self.api.api_id,
        }
        if connection.authorizer and kind == "MESSAGE":
            context["authorizer"] = connection.authorizer
        return {"requestContext": context, "isBase64Encoded": False}

    def _arn(self, route_key: str) -> str:
        return f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{self.api.api_id}/{self.api.stage}/{route_key}"

    # the management API (@connections)

    def manage(self, method: str, path: str, body: bytes) -> Answer:
        connection_id = unquote(path.removeprefix(MANAGEMENT_PREFIX).removeprefix("/@connections/"))
        with self._lock:
            connection = self._open.get(connection_id)
        if connection is None:
            return _error(410, "GoneException", f"connection {connection_id} is gone")
        if method == "POST":
            if len(body) > MAX_MESSAGE_BYTES:
                return _error(413, "PayloadTooLargeException", "Message too long")
            try:
                connection.send(body)
            except (OSError, ConnectionError):
                return _error(410, "GoneException", f"connection {connection_id} is gone")
            return 200, {}, [], b""
        if method == "GET":
            info = {
                "ConnectedAt": _iso(connection.connected_ms),
                "LastActiveAt": _iso(connection.last_active_ms),
                "Identity": {"SourceIp": connection.source_ip, "UserAgent": connection.user_agent},
            }
            return 200, {"content-type": "application/json"}, [], json.dumps(info).encode()
        if method == "DELETE":
            connection.close(1000, "")
            return 204, {}, [], b""
        return _error(405, "MethodNotAllowed", f"{method} is not a method of @connections")

    def close_all(self) -> int:
        """Going away: close every socket (each runs its $disconnect as it ends)."""
        with self._lock:
            connections = list(self._open.values())
        for connection in connections:
            connection.close(1001, "Going away")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.open_count:
            time.sleep(0.05)
        with self._lock:
            unanswered = list(self._open.values())
        for connection in unanswered:  # a client that does not answer the close is cut off
            _shutdown(connection.sock, socket.SHUT_RDWR)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and self.open_count:
            time.sleep(0.05)
        return len(connections)

    @property
    def open_count(self) -> int:
        with self._lock:
            return len(self._open)


@dataclass
class _Message:
    """A message's frames, as they arrive (a message may be fragmented)."""

    parts: list[bytes] = field(default_factory=list)
    text: bool = True

    def add(self, frame: Frame) -> bool:
        """True when ``frame`` completes a message."""
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self.parts, self.text = [bytes(frame.data)], frame.opcode is Opcode.TEXT
        elif frame.opcode is Opcode.CONT:
            self.parts.append(bytes(frame.data))
        else:
            return False  # ping, pong, close: the protocol answers those itself
        return frame.fin

    def data(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return False
    return True


def merged_headers(items: Any) -> dict[str, str]:
    """Request headers as API Gateway passes them: lower-case names, repeats joined by commas."""
    headers: dict[str, str] = {}
    for key, value in items:
        name = key.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _request_parts(headers: dict[str, str], query: str) -> dict[str, Any]:
    parts: dict[str, Any] = {"headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}}
    if query:
        single: dict[str, str] = {}
        multi: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            single[key] = value  # API Gateway keeps the last of repeated keys
            multi.setdefault(key, []).append(value)
        parts.update({"queryStringParameters": single, "multiValueQueryStringParameters": multi})
    return parts


def _identity(source: str, event: dict[str, Any]) -> str:
    if source.startswith("route.request.querystring."):
        return str((event.get("queryStringParameters") or {}).get(source.rsplit(".", 1)[1]) or "")
    if source.startswith("route.request.header."):
        return str((event.get("headers") or {}).get(source.rsplit(".", 1)[1].lower()) or "")
    raise ValueError(f"offline stack does not know identity source {source}")


def _shutdown(sock: socket.socket, how: int) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(how)


def _flush(sock: socket.socket, protocol: ServerProtocol) -> None:
    """Write what the protocol has queued."""
    for chunk in protocol.data_to_send():
        if chunk:
            sock.sendall(chunk)
        else:  # the protocol asks for the write side to be shut: the exchange is over
            _shutdown(sock, socket.SHUT_WR)


def _error(status: int, kind: str, message: str) -> Answer:
    headers = {"content-type": "application/json", "x-amzn-errortype": kind}
    return status, headers, [], json.dumps({"__type": kind, "message": message}).encode()


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
