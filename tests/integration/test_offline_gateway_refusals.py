"""What the offline gateway refuses before any route runs is answered in the API's error envelope.

http.server answers an unknown method, an over-long request line, over-long headers or a malformed
request line by itself, with an HTML page; the gateway must answer them as the rest of the API does.
Raw requests over loopback, to a gateway whose one function is a stand-in that must never run."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from offline.gateway import METHODS, serve
from offline.gateway import Gateway as OfflineGateway
from offline.template import Route, Stack

WAIT = 30.0  # a guard against a hang, never a measure
HEADERS_TOO_LARGE = "REQUEST_HEADER_FIELDS_TOO_LARGE"


class Function:
    """A stand-in Lambda that records what reached it."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "[]"}


class Answer:
    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        self.status = int(status_line.split(" ")[1])
        self.headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}

    def error(self) -> dict[str, Any]:
        assert self.headers["content-type"] == "application/json"
        assert int(self.headers["content-length"]) == len(self.body)
        document = json.loads(self.body)
        assert set(document) == {"error"}
        error: dict[str, Any] = document["error"]
        assert set(error) == {"code", "message", "details", "request_id", "timestamp"}
        assert error["request_id"]
        assert error["message"]
        assert error["timestamp"]
        return error


class Gateway:
    def __init__(self, port: int, function: Function) -> None:
        self.port = port
        self.function = function

    def send(self, raw: bytes) -> Answer:
        """The whole answer: a refusal closes the connection, so reading to its end is reading it."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=WAIT) as connection:
            connection.sendall(raw)
            received = b""
            while chunk := connection.recv(65536):
                received += chunk
        return Answer(received)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    function = Function()
    routes = [Route("GET", "/v1/projects", "Fn", False), Route("ANY", "$default", "Fn", False)]
    stack = Stack(root=Path("."), parameters={}, resources={}, routes=routes)
    server = serve(OfflineGateway(stack, {"Fn": function}), 0)  # type: ignore[dict-item]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Gateway(server.server_address[1], function)
    server.shutdown()
    server.server_close()


def request(line: str, *headers: str) -> bytes:
    return "\r\n".join([line, "Host: 127.0.0.1", *headers, "", ""]).encode("latin-1")


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "BREW"])
def test_a_method_no_route_can_name_is_405_in_the_envelope(gateway: Gateway, method: str) -> None:
    answer = gateway.send(request(f"{method} /v1/projects HTTP/1.1", "Content-Length: 3") + b"abc")
    assert answer.status == 405
    error = answer.error()
    assert error["code"] == "METHOD_NOT_ALLOWED"
    assert error["details"] == {"allowed": list(METHODS)}
    assert answer.headers["allow"] == ", ".join(METHODS)
    assert answer.headers["connection"] == "close"
    assert not gateway.function.events


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (request(f"GET /v1/projects?x={'a' * 100_000} HTTP/1.1"), 414, "URI_TOO_LONG"),
        (request("GET /v1/projects HTTP/1.1", f"X-Long: {'a' * 70_000}"), 431, HEADERS_TOO_LARGE),
        (request("GET /v1/projects HTTP/1.1", *(f"X-{n}: a" for n in range(101))), 431, HEADERS_TOO_LARGE),
        (request("GET /v1/projects HTTP/1.1 extra"), 400, "VALIDATION_ERROR"),
        (request("GET /v1/projects SPDY/1.1"), 400, "VALIDATION_ERROR"),
        (request("GET"), 400, "VALIDATION_ERROR"),
        (request("GET /v1/projects"), 400, "VALIDATION_ERROR"),  # HTTP/0.9: no status line, no headers
        (request("POST /v1/projects"), 400, "VALIDATION_ERROR"),
        (request("GET /v1/projects HTTP/2.0"), 505, "HTTP_VERSION_NOT_SUPPORTED"),
        (request("POST /v1/projects HTTP/1.1", "Content-Length: -1"), 400, "VALIDATION_ERROR"),
        (request("POST /v1/projects HTTP/1.1", "Content-Length: ten"), 400, "VALIDATION_ERROR"),
    ],
    ids=[
        "long-request-line",
        "long-header",
        "many-headers",
        "four-words",
        "not-http",
        "one-word",
        "http-0.9",
        "http-0.9-post",
        "http-2",
        "negative-length",
        "word-length",
    ],
)
def test_what_http_server_refuses_is_answered_in_the_envelope(
    gateway: Gateway, raw: bytes, status: int, code: str
) -> None:
    answer = gateway.send(raw)
    assert answer.status == status
    assert answer.error()["code"] == code
    assert answer.headers["connection"] == "close"
    assert not gateway.function.events


def test_a_head_refusal_has_the_envelopes_headers_and_no_body(gateway: Gateway) -> None:
    answer = gateway.send(request(f"HEAD /v1/projects?x={'a' * 100_000} HTTP/1.1"))
    assert answer.status == 414
    assert answer.headers["content-type"] == "application/json"
    assert answer.body == b""


def test_the_methods_routes_take_still_reach_them(gateway: Gateway) -> None:
    for method in METHODS:
        answer = gateway.send(request(f"{method} /v1/projects HTTP/1.1", "Connection: close"))
        assert answer.status == 200, method
    assert [event["requestContext"]["http"]["method"] for event in gateway.function.events] == list(METHODS)


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        (request("POST /v1/projects HTTP/1.1", f"Content-Length: {10**15}"), 413, "PAYLOAD_TOO_LARGE"),
        (request("POST /v1/projects HTTP/1.1", "Content-Length: 10485761") + b"{}", 413, "PAYLOAD_TOO_LARGE"),
        (request("POST /v1/projects HTTP/1.1", "Transfer-Encoding: chunked") + b"2\r\n{}\r\n0\r\n\r\n", 411,
         "LENGTH_REQUIRED"),
        (request("POST /v1/projects HTTP/1.1", "Content-Length: 2", "Transfer-Encoding: chunked") + b"{}", 411,
         "LENGTH_REQUIRED"),
        (request("POST /v1/projects HTTP/1.1", "Content-Length: 2", "Content-Length: 5") + b"{}abc", 400,
         "VALIDATION_ERROR"),
        (request("GET /v1/projects HTTP/1.1", "X-Api-Key: am_x", " Set-Cookie: a=1"), 400, "VALIDATION_ERROR"),
        (request("GET /v1/projects HTTP/1.1", "Origin: https://a.example\x00.evil"), 400, "VALIDATION_ERROR"),
        (request("GET /v1/projects HTTP/1.1", "X-Request-Id: a", "\tb"), 400, "VALIDATION_ERROR"),
    ],
    ids=["petabyte-length", "length-over-limit", "chunked", "length-and-chunked", "two-lengths", "folded-api-key",
         "nul-in-origin", "folded-request-id"],
)  # fmt: skip
def test_unsafe_framing_is_refused_before_the_body_is_read(
    gateway: Gateway, raw: bytes, status: int, code: str
) -> None:
    answer = gateway.send(raw)
    assert answer.status == status
    assert answer.error()["code"] == code
    assert answer.headers["connection"] == "close"
    assert not gateway.function.events
    assert gateway.send(request("GET /v1/projects HTTP/1.1", "Connection: close")).status == 200


def test_a_body_shorter_than_its_length_never_reaches_a_function(gateway: Gateway) -> None:
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=WAIT) as connection:
        connection.sendall(request("POST /v1/projects HTTP/1.1", "Content-Length: 100") + b'{"name": "x"}')
        connection.shutdown(socket.SHUT_WR)  # the client gives up sending
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    answer = Answer(received)
    assert (answer.status, answer.error()["code"]) == (400, "VALIDATION_ERROR")
    assert not gateway.function.events


def test_a_request_target_with_encoded_crlf_and_nul_reaches_the_route_as_data(gateway: Gateway) -> None:
    answer = gateway.send(request("GET /v1/projects/%0d%0aSet-Cookie:%20a=1%00/../x?q=%0d%0a HTTP/1.1",
                                  "Connection: close"))  # fmt: skip
    assert answer.status == 200  # the stand-in's $default route: a path no route takes
    assert "set-cookie" not in answer.headers
    (event,) = gateway.function.events
    assert event["rawPath"] == "/v1/projects/%0d%0aSet-Cookie:%20a=1%00/../x"
    assert event["queryStringParameters"] == {"q": "\r\n"}
