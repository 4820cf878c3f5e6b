"""A local stand-in for apimeter's ``POST /v1/events`` that each test scripts: it deduplicates by
``event_id`` as the real one does, and can fail, throttle, stall, refuse items or go away."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EVENT_FIELDS = frozenset(
    {
        "event_id", "timestamp", "method", "endpoint", "path", "status", "latency_ms", "request_bytes",
        "response_bytes", "consumer", "ip", "user_agent", "cost", "units", "properties",
    }
)  # fmt: skip


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (after storing, like a slow gateway)
    store: bool = False  # store the batch before answering (a reply the client may never read)


class FakeApimeter:
    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []  # {"time", "keys", "size", "status"}
        self.script: deque[Reply | Callable[[list[Any]], Reply | None]] = deque()
        self.valid_key = "amk_test"
        self.refuse: Callable[[dict[str, Any]], str | None] = lambda event: None  # per-item refusal
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, port: int = 0) -> None:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                status, body, headers, delay = fake.answer(self.path, self.headers.get("x-api-key"), raw)
                if delay:
                    time.sleep(delay)
                data = json.dumps(body).encode() if body is not None else b""
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def answer(self, path: str, key: str | None, raw: bytes) -> tuple[int, Any, dict[str, str], float]:
        with self.lock:
            record: dict[str, Any] = {"time": time.monotonic(), "size": len(raw), "path": path}
            self.requests.append(record)
            try:
                items = json.loads(raw)["events"]
            except (ValueError, KeyError, TypeError):
                items = None
            record["keys"] = [i.get("event_id") for i in items if isinstance(i, dict)] if items else []
            reply = self.script.popleft() if self.script else None
            if callable(reply):
                reply = reply(items or [])
            if reply is not None:
                record["status"] = reply.status
                if reply.store and items:
                    self._store(items)
                return reply.status, reply.body, reply.headers, reply.delay
            if key != self.valid_key:
                record["status"] = 401
                return 401, envelope("AUTHENTICATION_FAILED", "invalid API key"), {}, 0.0
            if items is None:
                record["status"] = 400
                return 400, envelope("VALIDATION_ERROR", "request body is not valid JSON"), {}, 0.0
            if len(raw) > 1_048_576:
                record["status"] = 413
                return 413, envelope("PAYLOAD_TOO_LARGE", "body over 1 MiB"), {}, 0.0
            if len(items) > 1000:
                record["status"] = 400
                return 400, envelope("VALIDATION_ERROR", "at most 1000 events"), {}, 0.0
            record["status"] = 202
            return 202, self._store(items), {}, 0.0

    def _store(self, items: list[Any]) -> dict[str, Any]:
        accepted = duplicates = 0
        rejected = []
        for index, item in enumerate(items):
            problem = self.refuse(item) if isinstance(item, dict) else "not an object"
            if problem is None and not set(item) <= EVENT_FIELDS:
                problem = "unknown field"
            if problem is not None:
                rejected.append({"index": index, "code": "VALIDATION_ERROR", "message": problem})
                continue
            known = self.events.get(item["event_id"])
            if known is None:
                self.events[item["event_id"]] = item
                accepted += 1
            elif known == item:
                duplicates += 1
            else:
                rejected.append({"index": index, "code": "CONFLICT", "message": "changed payload"})
        return {"accepted": accepted, "duplicates": duplicates, "rejected": rejected}


def envelope(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": None, "request_id": "r", "timestamp": "t"}}


def wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    """Polls until the condition holds; a generous timeout, never a bound the test asserts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


class Recorder:
    """A client that keeps what middleware tracks, to read it back in a test."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def track(self, **fields: Any) -> None:
        self.calls.append(fields)

    @property
    def last(self) -> dict[str, Any]:
        return self.calls[-1]
