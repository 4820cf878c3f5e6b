"""Events and handlers for tests: built from the sample events in events/, never ad-hoc dicts."""

from __future__ import annotations

import copy
import importlib.util
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from offline.lambdas import Context, template_environment
from offline.template import read_stack

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


@dataclass
class Reply:
    """An HTTP answer, in-process or over the network."""

    status: int
    headers: dict[str, str]
    body: Any


def sample(name: str) -> dict[str, Any]:
    """A fresh copy of ``events/<name>.json``."""
    return copy.deepcopy(_sample(name))


@cache
def _sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return loaded


def http_event(
    route_key: str,
    *,
    path: str | None = None,
    body: Any = None,
    authorizer: dict[str, Any] | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A payload-2.0 route event shaped like ``events/health.json``, for any route."""
    event = sample("health")
    method, _, route_path = route_key.partition(" ")
    raw_path = path or route_path
    event["routeKey"] = route_key
    event["rawPath"] = raw_path
    event["requestContext"]["routeKey"] = route_key
    event["requestContext"]["http"].update({"method": method, "path": raw_path})
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    event["body"] = body if isinstance(body, str) else ("" if body is None else json.dumps(body))
    event["headers"].update(headers or {})
    if authorizer is not None:
        event["requestContext"]["authorizer"] = {"lambda": authorizer}
    if path_parameters:
        event["pathParameters"] = path_parameters
    if query:
        event["queryStringParameters"] = query
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
    return event


def context(name: str = "test") -> Context:
    return Context(
        function_name=name,
        memory_limit_in_mb=512,
        timeout_seconds=10,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        _deadline=time.monotonic() + 900,
    )


@cache
def function_module(folder: str) -> Any:
    """``functions/<folder>/app.py``, loaded once under a unique module name, with the template's
    environment for what the test has not set (a handler checks its settings at import)."""
    path = ROOT / "functions" / folder / "app.py"
    function = next(f for f in read_stack(ROOT).functions.values() if f.code_dir == path.parent)
    spec = importlib.util.spec_from_file_location(f"fn_{folder}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with template_environment(function):
        spec.loader.exec_module(module)
    return module


def invoke(folder: str, event: dict[str, Any], handler: str = "lambda_handler") -> dict[str, Any]:
    result: dict[str, Any] = getattr(function_module(folder), handler)(event, context(folder))
    return result


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None


class RecordingServer:
    """A local HTTP server that records each request of one method as (headers, raw body) and
    answers ``status``: a webhook's receiver (POST), CloudFormation's ResponseURL (PUT)."""

    def __init__(self, status: int = 200, method: str = "POST", path: str = "/hooks/alerts") -> None:
        import http.server
        import threading

        received = self.received = []  # type: list[tuple[dict[str, str], bytes]]
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def record(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(recorder.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        setattr(Handler, f"do_{method}", Handler.record)
        self.status = status
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}{path}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


WebhookReceiver = RecordingServer  # what webhooks deliver: (headers, raw body) per POST


def wait_for(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Until ``condition()`` holds; fails after a timeout generous enough for a busy machine."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.005)


# the live WebSocket API


def key_token(caller: Any, key: str) -> str:
    """A key's exchanged token (POST /v1/auth/token) through any client with ``call``."""
    reply = caller.call("POST", "/v1/auth/token", key=key)
    assert reply.status == 200, reply.body
    return str(reply.body["access_token"])


def received(socket: Any, timeout: float = 30.0) -> dict[str, Any]:
    """The next message on a live socket."""
    message: dict[str, Any] = json.loads(socket.recv(timeout=timeout))
    return message


def subscribe(socket: Any, project_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Subscribe to a project; the server's answer."""
    socket.send(json.dumps({"action": "subscribe", "project_id": project_id}))
    return received(socket, timeout)
