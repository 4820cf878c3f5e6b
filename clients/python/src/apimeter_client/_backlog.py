"""Where tracked events wait until the server has acknowledged them: memory, or a spool on disk.

Both hand the worker one batch at a time, oldest events first, and forget a batch only when it is
settled (``done``). A flush marks the newest event at the time of the call; ``reached`` tells when
everything up to the mark is settled.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

QUEUED, FULL, REFUSED = 1, 2, 0

# The API refuses bodies over 1 MiB; stay clear of it with the envelope and headers.
MAX_BODY_BYTES = 1_000_000
MAX_BATCH = 1000  # the API's limit per request


def _plain(value: Any) -> Any:
    """What ``json`` cannot write itself: dates as ISO 8601, decimals as numbers, the rest as text
    (and an object whose text fails, by its type: one odd value must not hold up a batch)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


_encoder = json.JSONEncoder(separators=(",", ":"), default=_plain)


def encode(value: Any) -> bytes:
    """JSON, compact; raises ``ValueError`` for what cannot be (a circular structure)."""
    return _encoder.encode(value).encode()


@dataclass(slots=True)
class Batch:
    """Events to send in one request: dicts (from memory) or JSON lines (from the spool)."""

    items: list[Any]
    source: Any = None  # the backlog's own bookkeeping (a spool segment)
    end: int = 0  # and the offset the batch ends at
    attempts: int = 0

    def __len__(self) -> int:
        return len(self.items)

    def body(self) -> bytes:
        if self.items and isinstance(self.items[0], bytes):
            return b'{"events":[' + b",".join(self.items) + b"]}"
        return b'{"events":' + encode(self.items) + b"}"  # one call: half the cost of one per event

    def events(self) -> list[dict[str, Any]]:
        """The events, for a report: lines read back, an unreadable line shown as text."""
        events: list[dict[str, Any]] = []
        for item in self.items:
            value = item
            if isinstance(item, bytes):
                try:
                    value = json.loads(item)
                except ValueError:
                    value = {"_unreadable": item[:200].decode("utf-8", "replace")}
            events.append(value if isinstance(value, dict) else {"_value": value})
        return events

    def split(self) -> tuple[Batch, Batch]:
        """Two halves: to fit the size limit, or to find the item a whole-request refusal is about."""
        half = len(self.items) // 2
        return Batch(self.items[:half]), Batch(self.items[half:])


class Backlog(Protocol):
    refused: int

    def take(self, max_items: int) -> Batch | None: ...
    def done(self, batch: Batch) -> None: ...
    def pending(self) -> int: ...
    def mark(self) -> Any: ...
    def reached(self, marker: Any) -> bool: ...
    def close(self) -> int: ...
    def forget(self) -> None: ...


class MemoryBacklog:
    """A bounded FIFO in memory. When full, the newest event is refused (and counted by the client):
    never block the app. Serialization happens in the worker, not in ``track()``.

    ``put()`` takes no lock (``deque.append`` and ``next()`` on a counter are atomic), so a signal
    handler that flushes while the interrupted thread is inside ``track()`` cannot deadlock. Events are
    numbered as they come; flush markers are numbers, and events are settled in order."""

    def __init__(self, max_queue: int, batch_size: int) -> None:
        self._queue: deque[tuple[int, dict[str, Any]]] = deque()
        self._numbers = itertools.count(1)
        self._max = max_queue
        self._batch_size = batch_size
        self._taken = 0  # events handed out in a batch and not yet settled (the worker's)
        self._taken_up_to = 0  # the number of the newest of them
        self._settled_up_to = 0
        self._refusals = threading.Lock()  # only the rare refusal counts under a lock
        self.refused = 0

    def put(self, event: dict[str, Any]) -> int:
        """FULL when a batch is ready, QUEUED, or REFUSED (the queue is full)."""
        queue = self._queue
        if len(queue) + self._taken >= self._max:
            with self._refusals:
                self.refused += 1
            return REFUSED
        queue.append((next(self._numbers), event))
        return FULL if len(queue) >= self._batch_size else QUEUED

    def take(self, max_items: int) -> Batch | None:
        items: list[tuple[int, dict[str, Any]]] = []
        popleft = self._queue.popleft
        try:
            while len(items) < max_items:
                items.append(popleft())
        except IndexError:
            pass
        if not items:
            return None
        self._taken += len(items)
        self._taken_up_to = items[-1][0]
        return Batch([event for _, event in items], end=items[-1][0])

    def done(self, batch: Batch) -> None:
        self._taken -= len(batch)
        self._settled_up_to = max(self._settled_up_to, batch.end)

    def pending(self) -> int:
        return len(self._queue) + self._taken

    def mark(self) -> int:
        try:
            return self._queue[-1][0]
        except IndexError:  # nothing queued: the newest is in the worker's batch, or settled
            return self._taken_up_to if self._taken else self._settled_up_to

    def reached(self, marker: int) -> bool:
        return self._settled_up_to >= marker

    def close(self) -> int:
        """Forgets what is queued and returns how many events that was (they are lost). A batch the
        worker holds is the worker's to settle: it may still be sent."""
        lost = len(self._queue)
        self._queue.clear()
        return lost

    def forget(self) -> None:
        """In a forked child: the parent's events are the parent's to send."""
        self._queue = deque()
        self._numbers = itertools.count(1)
        self._taken = self._taken_up_to = self._settled_up_to = self.refused = 0
        self._refusals = threading.Lock()
