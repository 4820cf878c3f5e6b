"""Offline, requests made for a person go before background work at moto (offline/priority.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from offline import priority
from tests.builders import wait_for

WAIT = 30.0


def order_of_waiters(lock: priority.PriorityLock, waiters: list[tuple[str, bool]]) -> list[str]:
    """The order in which ``waiters`` (name, foreground?) get a held lock, each queued after the one
    before it, once its holder lets go."""
    order: list[str] = []
    release = threading.Event()

    def holder() -> None:
        with lock.hold(first=False):
            release.wait(WAIT)

    def request(name: str, first: bool) -> None:
        with lock.hold(first=first):
            order.append(name)

    threads = [threading.Thread(target=holder)]
    threads[0].start()
    wait_for(lambda: lock._held)
    for count, (name, first) in enumerate(waiters, start=1):
        threads.append(threading.Thread(target=request, args=(name, first)))
        threads[-1].start()
        wait_for(lambda count=count: lock.waiting == count)  # type: ignore[misc]
    release.set()
    for thread in threads:
        thread.join(WAIT)
    return order


def test_a_waiting_foreground_request_goes_before_waiting_background_ones() -> None:
    lock = priority.PriorityLock(patience=WAIT)
    order = order_of_waiters(lock, [("stream-1", False), ("stream-2", False), ("api", True)])
    assert order[0] == "api"
    assert sorted(order[1:]) == ["stream-1", "stream-2"]


def test_a_background_request_is_not_held_back_for_ever_by_a_flood_of_foreground_ones() -> None:
    lock = priority.PriorityLock(patience=0.05)
    flood = 400
    order: list[str] = []
    started = threading.Event()

    def foreground() -> None:
        for i in range(flood):
            with lock.hold(first=True):
                order.append(f"api-{i}")
                started.set()
                time.sleep(0.001)

    def background() -> None:
        with lock.hold(first=False):
            order.append("stream")

    threads = [threading.Thread(target=foreground) for _ in range(2)]
    for thread in threads:
        thread.start()
    started.wait(WAIT)
    late = threading.Thread(target=background)
    late.start()
    for thread in [*threads, late]:
        thread.join(WAIT)
    assert order.index("stream") < len(order) - 1  # it got in while the flood went on


def test_under_a_backlog_of_overdue_background_requests_the_two_kinds_take_turns() -> None:
    lock = priority.PriorityLock(patience=0.0)  # every background request is overdue at once
    waiting = [(f"stream-{i}", False) for i in range(4)] + [("api-0", True), ("api-1", True)]
    assert order_of_waiters(lock, waiting) == ["stream-0", "api-0", "stream-1", "api-1", "stream-2", "stream-3"]


@pytest.fixture
def seen() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """A stand-in AWS endpoint that keeps each request's headers."""
    headers: list[dict[str, str]] = []

    class Endpoint(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            headers.append({k.lower(): v for k, v in self.headers.items()})
            payload = b'{"TableNames": []}'
            self.send_response(200)
            self.send_header("content-type", "application/x-amz-json-1.0")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Endpoint)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", headers
    server.shutdown()
    server.server_close()


def test_requests_made_while_serving_are_marked_in_every_worker_thread(seen: tuple[str, list[dict[str, str]]]) -> None:
    url, headers = seen
    priority.install()
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    client.list_tables()
    with priority.foreground():
        client.list_tables()
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda _: client.list_tables(), range(2)))
    marks = [h.get(priority.HEADER) for h in headers]
    assert marks == [None, "1", "1", "1"]
