"""Offline, what a person asked for is served before background work.

moto serves one AWS request at a time (offline/moto.py). Stream pumps, schedules and the TTL sweeper
can queue hundreds of writes, and an API request needing a single read used to wait behind all of
them (past 30 s while demo traffic was replayed). Every AWS request made on behalf of an HTTP or
WebSocket request carries ``HEADER``, and moto's lock lets such requests in before any waiting
background one.

The mark is a context variable, set by the gateway around each request it serves; worker pools
(the data-access layer writes side by side) carry it into their threads, so a request's parallel
writes are its own too.
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3

HEADER = "x-apimeter-offline-priority"
ENVIRON_KEY = "HTTP_" + HEADER.upper().replace("-", "_")

_serving = contextvars.ContextVar("offline_serving", default=False)


@contextmanager
def foreground() -> Iterator[None]:
    """AWS requests made within come first at moto."""
    token = _serving.set(True)
    try:
        yield
    finally:
        _serving.reset(token)


def _mark(request: Any, **_: Any) -> None:
    if _serving.get():
        request.headers[HEADER] = "1"


@cache
def install() -> None:
    """Mark the requests of every client of boto3's default session (clients copy the session's
    handlers when made, so this runs before any), and let worker threads inherit the mark."""
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    boto3.DEFAULT_SESSION.events.register("before-sign", _mark)
    submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign]


class PriorityLock:
    """One holder at a time; when it lets go, a waiting foreground request goes before any
    background one (background requests keep their order among themselves only loosely)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._held = False
        self._first_waiting = 0
        self.waiting = 0  # requests waiting, of either kind

    @contextmanager
    def hold(self, first: bool) -> Iterator[None]:
        with self._changed:
            self.waiting += 1
            if first:
                self._first_waiting += 1
            try:
                while self._held or (not first and self._first_waiting):
                    self._changed.wait()
            finally:
                self.waiting -= 1
                if first:
                    self._first_waiting -= 1
            self._held = True
        try:
            yield
        finally:
            with self._changed:
                self._held = False
                self._changed.notify_all()
