"""make demo's sending (offline/replay/sending.py): rounds go through the Python client to a local
stand-in for ``POST /v1/events``; the stand-in stack counts and finalizes them, or stalls, or the key
is refused mid-replay."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import pytest

from offline.replay import sending
from offline.replay.progress import Progress
from offline.replay.sending import SummaryWatch, send
from offline.replay.stack_api import Stack, StackError
from offline.replay.timeline import HOUR_MS


@dataclass
class Events:
    """What the stand-in for ``POST /v1/events`` stored, and the key it accepts."""

    key: str = "amk_demo"
    stored: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, key: str | None, body: bytes) -> tuple[int, dict[str, Any]]:
        if key != self.key:
            return 401, {"error": {"code": "AUTHENTICATION_FAILED", "message": "invalid API key"}}
        accepted = duplicates = 0
        with self.lock:
            for event in json.loads(body)["events"]:
                if event["event_id"] in self.stored:
                    duplicates += 1
                else:
                    self.stored[event["event_id"]] = event
                    accepted += 1
        return 202, {"accepted": accepted, "duplicates": duplicates, "rejected": []}


@pytest.fixture
def events() -> Iterator[tuple[Events, str]]:
    store = Events()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            status, document = store.answer(
                self.headers.get("x-api-key"), self.rfile.read(int(self.headers["content-length"]))
            )
            data = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield store, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class CountingStack:
    """The stack's reads, from what the stand-in stored: ``lag`` events are never counted."""

    def __init__(self, events: Events, base_url: str, api_key: str = "amk_demo", lag: int = 0) -> None:
        self.events, self.base_url, self.api_key, self.lag = events, base_url, api_key, lag
        self.project_id = "prj_demo"
        self.timeout = 30.0
        self.finalized: list[str] = []

    def count(self, start_ms: int, end_ms: int) -> int:
        with self.events.lock:
            inside = sum(1 for e in self.events.stored.values() if start_ms <= e["timestamp"] < end_ms)
        return max(0, inside - self.lag)

    def run_schedule(self, name: str, payload: dict[str, Any] | None = None) -> Any:
        self.finalized.append(name)
        return {"hours": 2} if len(self.finalized) == 1 else None  # a stack that answers without a report


def _rounds(hours: int, per_hour: int) -> list[tuple[int, int, list[dict[str, Any]]]]:
    start = 500_000 * HOUR_MS
    rounds = []
    for pair in range(0, hours, 2):
        first = start + pair * HOUR_MS
        events = [
            {"event_id": f"r-{pair + h}-{i}", "timestamp": first + h * HOUR_MS + i * 1000, "method": "GET",
             "endpoint": "/a", "status": 200, "latency_ms": 5.0}
            for h in range(2) for i in range(per_hour)
        ]  # fmt: skip
        rounds.append((first, first + 2 * HOUR_MS, events))
    return rounds


def _send(stack: CountingStack, rounds: list[tuple[int, int, list[dict[str, Any]]]]) -> sending.Sent:
    return send(rounds, cast(Stack, stack), batch_size=10, progress=Progress(40, "events", io.StringIO()))


def test_each_round_is_sent_counted_and_finalized_and_a_rerun_is_all_duplicates(events: tuple[Events, str]) -> None:
    store, url = events
    stack = CountingStack(store, url)
    rounds = _rounds(4, 10)
    sent = _send(stack, rounds)
    assert (sent.accepted, sent.duplicates, sent.rejected, sent.dropped) == (40, 0, 0, 0)
    assert sent.uncounted == 0
    assert sent.stopped is None
    assert stack.finalized == ["RollupFunction", "RollupFunction"]
    assert sent.finalized_hours == 2  # the second report said nothing
    assert len(store.stored) == 40
    again = _send(stack, rounds)
    assert (again.accepted, again.duplicates, again.settled) == (0, 40, 40)
    assert stack.finalized == ["RollupFunction", "RollupFunction"]  # nothing new to count or finalize


def test_a_count_that_stops_moving_is_reported_not_waited_for(
    events: tuple[Events, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sending, "STALL_SECONDS", 0.0)
    store, url = events
    stack = CountingStack(store, url, lag=3)
    sent = _send(stack, _rounds(2, 10))
    assert sent.accepted == 20
    assert sent.uncounted == 3


def test_a_refused_key_stops_the_replay_and_says_why(events: tuple[Events, str]) -> None:
    store, url = events
    stack = CountingStack(store, url, api_key="amk_revoked")
    sent = _send(stack, _rounds(4, 30))  # more than two batches ahead: track() waits for the queue
    assert sent.stopped is not None
    assert sent.stopped.startswith("AUTHENTICATION_FAILED: invalid API key (the API key was refused")
    assert sent.accepted == 0
    assert sent.refused["AUTHENTICATION_FAILED"] == 1
    assert store.stored == {}
    assert stack.finalized == []


class FlakyStack:
    timeout = 5.0

    def __init__(self) -> None:
        self.answers: list[dict[str, Any] | StackError] = [{"requests": 7}, StackError(503, "busy"), {"requests": 9}]

    def summary(self, start_ms: int, end_ms: int) -> dict[str, Any]:
        answer = self.answers.pop(0)
        if isinstance(answer, StackError):
            raise answer
        return answer


def test_the_summary_watch_counts_failed_reads_and_keeps_the_last_answer() -> None:
    watch = SummaryWatch(cast(Stack, FlakyStack()), 0, HOUR_MS, every=3600.0)
    assert watch.read() == {"requests": 7}
    assert watch.read() == {}
    assert watch.failures == 1
    assert watch.last == {"requests": 7}
    assert watch.read() == {"requests": 9}
    assert watch.latency().count == 2  # failed reads are not timed
