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
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import boto3

from apimeter import aws

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


def _mark(**event: Any) -> None:
    if _serving.get():
        event["request"].headers[HEADER] = "1"


@cache
def install() -> None:
    """Mark the requests of every client of the functions' botocore session, which boto3's default
    session then shares (clients copy the session's handlers when made, so this runs before any), and
    let worker threads inherit the mark."""
    boto3.setup_default_session(botocore_session=aws.session())
    aws.session().register("before-sign", _mark)
    submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit_in_context(self: Any, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return submit(self, contextvars.copy_context().run, fn, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = submit_in_context  # type: ignore[method-assign]


PATIENCE_SECONDS = 0.5


class PriorityLock:
    """One holder at a time, handed on in order when it lets go: the background request that has
    waited ``patience`` seconds first, else the longest-waiting foreground one, else the longest-
    waiting background one. The bound matters: under a flood of API requests a stream write would
    otherwise wait past its client's read timeout, and the retried write would add its counts twice.
    But an overdue background request never goes twice in a row while a foreground one waits: under
    a replay's backlog every background request is overdue, and the API would wait behind all of
    them again; this way the two take turns. The lock is handed to the next waiter, never left for
    whoever asks first, so a thread that lets go and asks again at once cannot jump the queue."""

    def __init__(self, patience: float = PATIENCE_SECONDS) -> None:
        self._patience = patience
        self._mutex = threading.Lock()
        self._held = False
        self._first: deque[threading.Event] = deque()
        self._rest: deque[tuple[float, threading.Event]] = deque()
        self._overdue_went = False  # the last hand-on was to an overdue background request

    @property
    def waiting(self) -> int:
        with self._mutex:
            return len(self._first) + len(self._rest)

    @contextmanager
    def hold(self, first: bool) -> Iterator[None]:
        turn: threading.Event | None = None
        with self._mutex:
            if not self._held and not self._first and not self._rest:
                self._held = True
            else:
                turn = threading.Event()
                if first:
                    self._first.append(turn)
                else:
                    self._rest.append((time.monotonic(), turn))
        if turn is not None:
            turn.wait()  # handed over: the lock never became free in between
        try:
            yield
        finally:
            self._hand_on()

    def _hand_on(self) -> None:
        with self._mutex:
            overdue = bool(self._rest) and time.monotonic() - self._rest[0][0] >= self._patience
            if overdue and not (self._overdue_went and self._first):
                self._overdue_went = True
                self._rest.popleft()[1].set()
                return
            self._overdue_went = False
            if self._first:
                self._first.popleft().set()
            elif self._rest:
                self._rest.popleft()[1].set()
            else:
                self._held = False
