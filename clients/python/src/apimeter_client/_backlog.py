"""Where tracked events wait until the server has acknowledged them: memory, or a spool on disk.

Both hand the worker one batch at a time, oldest events first, and forget a batch only when it is
settled (``done``). A flush marks the newest event at the time of the call; ``reached`` tells when
everything up to the mark is settled.
"""

from __future__ import annotations

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
    """What ``json`` cannot write itself: dates as ISO 8601, decimals as numbers, the rest as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)


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
    never block the app. Serialization happens in the worker, not in ``track()``."""

    def __init__(self, max_queue: int, batch_size: int) -> None:
        self._queue: deque[dict[str, Any]] = deque()
        self._lock = threading.Lock()
        self._max = max_queue
        self._batch_size = batch_size
        self._taken = 0  # events handed out in a batch and not yet settled
        self._appended = 0
        self._settled = 0
        self.refused = 0

    def put(self, event: dict[str, Any]) -> int:
        """FULL when a batch is ready, QUEUED, or REFUSED (the queue is full)."""
        with self._lock:
            queued = len(self._queue)
            if queued + self._taken >= self._max:
                self.refused += 1
                return REFUSED
            self._queue.append(event)
            self._appended += 1
            return FULL if queued + 1 >= self._batch_size else QUEUED

    def take(self, max_items: int) -> Batch | None:
        with self._lock:
            count = min(max_items, len(self._queue))
            if not count:
                return None
            events = [self._queue.popleft() for _ in range(count)]
            self._taken += count
        return Batch(events)

    def done(self, batch: Batch) -> None:
        with self._lock:
            self._taken -= len(batch)
            self._settled += len(batch)

    def pending(self) -> int:
        return len(self._queue) + self._taken

    def mark(self) -> int:
        return self._appended

    def reached(self, marker: int) -> bool:
        return self._settled >= marker

    def close(self) -> int:
        """Forget what is left; returns how many events that was (they are lost)."""
        with self._lock:
            lost = len(self._queue) + self._taken
            self._queue.clear()
            self._taken = 0
            self._settled = self._appended
            return lost

    def forget(self) -> None:
        """In a forked child: the parent's events are the parent's to send."""
        self._lock = threading.Lock()
        self._queue = deque()
        self._taken = self._appended = self._settled = self.refused = 0
