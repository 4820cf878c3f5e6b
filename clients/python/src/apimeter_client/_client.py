"""The client: ``track()`` queues and returns; one background thread sends batches and retries.

``track()`` touches no network. Without a spool it appends to a bounded queue in memory (when full,
the newest event is dropped and counted: the app is never blocked); with ``spool_dir`` it appends a
line to a file first, so a crash or ``kill -9`` loses nothing and the next client on that directory
sends what is left. The worker sends the oldest events first, in batches of at most 1,000 and 1 MB,
when ``batch_size`` are waiting, every ``flush_interval`` seconds, at ``flush()``, ``close()`` and
interpreter exit. Network errors, 5xx, 408 and 429 are retried with exponential backoff and jitter
(``Retry-After`` honoured); the server recognises a re-sent event by its ``event_id`` and
``timestamp`` (both stamped here), so a retried batch counts once. Items the server refuses
(``VALIDATION_ERROR``, ``CONFLICT``) go to ``on_error`` and are not retried. 401 and 403 stop
sending, keeping every event, and are reported.
"""

from __future__ import annotations

import atexit
import http.client
import itertools
import logging
import os
import random
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from apimeter_client import _backlog
from apimeter_client._backlog import QUEUED, Backlog, Batch, MemoryBacklog, encode
from apimeter_client._spool import FSYNC_POLICIES, SpoolBacklog
from apimeter_client._transport import Answer, Transport

log = logging.getLogger("apimeter_client")

FIELDS = frozenset(
    {
        "event_id", "timestamp", "method", "endpoint", "path", "status", "latency_ms", "request_bytes",
        "response_bytes", "consumer", "ip", "user_agent", "cost", "units", "properties",
    }
)  # fmt: skip
REFUSED_ITEM_CODES = frozenset({"VALIDATION_ERROR", "CONFLICT"})
_ADOPT_EVERY_SECONDS = 30.0  # how often a spool looks for what other, dead processes left
_FIRST_BACKOFF_SECONDS = 0.5


class ApimeterError(Exception):
    """What ``on_error`` receives: a refused event, dropped events, or why sending stopped.

    ``code`` is the API's error code (``VALIDATION_ERROR``, ``CONFLICT``, ``AUTHENTICATION_FAILED``,
    ``FORBIDDEN``, ...), ``HTTP_<status>`` for an answer without one, or the client's own:
    ``QUEUE_FULL``, ``SPOOL_FULL``, ``SPOOL_ERROR``, ``RETRIES_EXHAUSTED``, ``CLOSED``.
    """

    def __init__(
        self, code: str, message: str, *, status: int | None = None, events: list[dict[str, Any]] | None = None,
        count: int = 1,
    ) -> None:  # fmt: skip
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.events = events or []
        self.count = count


@dataclass(frozen=True, slots=True)
class Stats:
    """Event counts since the client started (in this process).

    queued: waiting to be sent (in memory or in the spool); sent: accepted by the server;
    duplicates: the server had them already (a retry after a lost answer); rejected: refused by the
    server, or here for unknown fields; retried: events re-sent after a failed attempt; spooled:
    written to the spool; dropped: lost (queue full, spool over its bound, retries exhausted, or
    queued in memory at close).
    """

    queued: int = 0
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    retried: int = 0
    spooled: int = 0
    dropped: int = 0


@dataclass(slots=True)
class _Counts:
    sent: int = 0
    duplicates: int = 0
    rejected: int = 0
    retried: int = 0
    dropped: int = 0  # by the worker and at close
    local_rejected: int = 0
    reported: dict[str, int] = field(default_factory=dict)  # drops already passed to on_error, by code


class Client:
    """Sends tracked API calls to apimeter. Thread-safe; one per process is enough."""

    def __init__(
        self,
        api_key: str | None,
        base_url: str,
        *,
        batch_size: int = 500,
        flush_interval: float = 2.0,
        max_queue: int = 10_000,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int = 128 * 1024 * 1024,
        spool_fsync: str = "never",
        timeout: float = 10.0,
        max_retries: int | None = None,
        max_backoff: float = 30.0,
        shutdown_timeout: float = 5.0,
        on_error: Callable[[ApimeterError], Any] | None = None,
    ) -> None:
        """``api_key`` empty or None disables the client (``track()`` does nothing), so an app runs
        without one in development. ``max_retries=None`` retries a batch until it is delivered;
        a number drops it (reported as ``RETRIES_EXHAUSTED``) after that many retries. ``spool_fsync``:
        ``never`` (survives the process dying), ``interval`` (fsync at each flush: also a machine crash,
        bar the last ``flush_interval``), ``always`` (fsync in every ``track()``: slow)."""
        if not 1 <= batch_size <= _backlog.MAX_BATCH:
            raise ValueError(f"batch_size must be between 1 and {_backlog.MAX_BATCH}")
        if flush_interval <= 0 or timeout <= 0 or max_backoff <= 0 or shutdown_timeout < 0:
            raise ValueError("flush_interval, timeout and max_backoff must be positive")
        if max_queue < 1 or spool_max_bytes < 1:
            raise ValueError("max_queue and spool_max_bytes must be positive")
        if max_retries is not None and max_retries < 0:
            raise ValueError("max_retries must be None or at least 0")
        if spool_fsync not in FSYNC_POLICIES:
            raise ValueError(f"spool_fsync must be one of {', '.join(FSYNC_POLICIES)}")
        self._enabled = bool(api_key)
        # Without a key nothing is sent, so a development setup with no URL either still runs.
        self._transport = Transport(base_url, api_key or "", timeout) if self._enabled else None
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._max_retries = max_retries
        self._max_backoff = max_backoff
        self._shutdown_timeout = shutdown_timeout
        self._on_error = on_error
        self._spool: SpoolBacklog | None = None
        self._memory: MemoryBacklog | None = None
        if spool_dir is not None and self._enabled:
            self._spool = SpoolBacklog(spool_dir, spool_max_bytes, batch_size, spool_fsync)
        else:
            self._memory = MemoryBacklog(max_queue, batch_size)
        self._backlog: Backlog = self._spool or self._memory  # type: ignore[assignment]
        self._new_process_state()
        _clients.add(self)
        if not self._enabled:
            log.warning("apimeter: no API key given; tracked calls are not sent")
        elif self._spool is not None:
            self._start()  # sends what earlier processes left, even if this one tracks nothing

    def _new_process_state(self) -> None:
        """Everything a process owns alone: locks, the worker, the connection, counts."""
        self._lock = threading.RLock()
        self._wake = threading.Event()  # something to send: a full batch, a flush, close
        self._interrupt = threading.Event()  # cut a backoff short: a flush, close
        self._stop = threading.Event()
        self._flush_requested = False
        self._progress = threading.Condition()
        self._adopted = threading.Event()  # the spool's first look for orphaned segments is done
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._taken: Batch | None = None  # the batch being delivered, and what is left of it
        self._parts: list[Batch] = []
        self._paused: ApimeterError | None = None
        self._closed = False
        self._counts = _Counts()
        self._refusals: deque[ApimeterError] = deque(maxlen=100)  # for the worker to report
        # Event ids: the millisecond, this process's random 48 bits, then a counter, in hex. Sorted as
        # tracked within a process, unique across processes, and cheap (no syscall, no lock).
        self._id_prefix = os.urandom(6).hex()
        self._sequence = itertools.count(int.from_bytes(os.urandom(2), "big"))
        if self._spool is None:
            self._adopted.set()

    # -- the app's side ---------------------------------------------------------------------------

    def track(self, **fields: Any) -> None:
        """Queues one API call (the tracking contract's fields) and returns at once. Assigns a
        sortable unique ``event_id`` and the current ``timestamp`` unless given. Never raises."""
        if fields.keys() <= FIELDS:
            self._enqueue(fields)
        else:
            self._refuse(fields)  # never raises

    def _enqueue(self, event: dict[str, Any]) -> None:
        """``track()`` for an event whose fields are known to be the contract's (the middleware's)."""
        try:
            if not self._enabled or self._closed:
                return
            if "timestamp" not in event:
                event["timestamp"] = time.time_ns() // 1_000_000
            if "event_id" not in event:  # the tracking time (a middleware's start), then this process's
                at = event["timestamp"]
                at = at if type(at) is int and 0 <= at < 1 << 48 else time.time_ns() // 1_000_000
                event["event_id"] = f"{at:012x}{self._id_prefix}{next(self._sequence) & 0xFFFFFFFF:08x}"
            if self._spool is not None:
                try:
                    line = encode(event) + b"\n"
                except Exception as exc:  # a circular structure in properties
                    self._refuse(event, f"not JSON: {exc}")
                    return
                state = self._spool.put_line(line)
            else:
                state = self._memory.put(event)  # type: ignore[union-attr]
            if self._thread is None:
                self._start()
            if state != QUEUED and not self._wake.is_set():
                self._wake.set()  # a full batch to send, or a drop to report
        except Exception:  # never into the app
            log.exception("apimeter: track() failed")

    def _refuse(self, fields: dict[str, Any], why: str | None = None) -> None:
        """An event the server would refuse (unknown fields, not JSON) is refused here, and reported by
        the worker (user code never runs in ``track()``)."""
        if not self._enabled or self._closed:
            return
        why = why or f"unknown fields: {', '.join(sorted(set(fields) - FIELDS))}"
        with self._lock:
            self._counts.local_rejected += 1
        self._refusals.append(ApimeterError("VALIDATION_ERROR", why, events=[fields]))
        if self._thread is None:
            self._start()
        self._wake.set()

    @property
    def stats(self) -> Stats:
        counts = self._counts
        spool = self._spool
        return Stats(
            queued=self._backlog.pending(),
            sent=counts.sent,
            duplicates=counts.duplicates,
            rejected=counts.rejected + counts.local_rejected,
            retried=counts.retried,
            spooled=spool.written if spool else 0,
            dropped=counts.dropped + sum(self._backlog_drops().values()),
        )

    def _backlog_drops(self) -> dict[str, int]:
        """Events the backlog itself dropped, by the code they are reported under."""
        if self._spool is not None:
            return {"SPOOL_FULL": self._spool.evicted, "SPOOL_ERROR": self._spool.refused}
        return {"QUEUE_FULL": self._backlog.refused}

    def flush(self, timeout: float | None = None) -> bool:
        """Sends everything tracked before the call; True once all of it is settled (sent, or
        refused by the server), False at ``timeout`` (default ``shutdown_timeout``), when sending has
        stopped (401/403) or from the worker's own thread."""
        if not self._enabled:
            return True
        timeout = self._shutdown_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        if threading.current_thread() is self._thread:
            return False
        if not self._adopted.is_set() and self._thread is None:
            self._start()  # a spool's worker looks for what dead processes left before anything is judged
        self._adopted.wait(timeout)
        marker = self._backlog.mark()
        if self._backlog.reached(marker):
            return True
        if self._thread is None:
            self._start()
            if self._thread is None:
                return False
        self._flush_requested = True
        self._interrupt.set()
        self._wake.set()
        with self._progress:
            while not self._backlog.reached(marker):
                remaining = deadline - time.monotonic()
                if self._paused is not None or self._stop.is_set() or remaining <= 0:
                    return False
                self._progress.wait(min(remaining, 1.0))
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Flushes (up to ``timeout``), then stops the worker. Unsent events stay in the spool for the
        next client; without a spool they are lost and counted as dropped. Returns the flush's result."""
        if self._closed or self._pid != os.getpid():
            return True
        thread = self._thread
        in_worker = thread is not None and thread is threading.current_thread()  # e.g. from on_error
        flushed = False if in_worker else self.flush(timeout)
        self._closed = True
        self._stop.set()
        self._interrupt.set()
        self._wake.set()
        if thread is not None and not in_worker:
            thread.join(1.0)  # it may be inside a request; what it holds, it settles itself
        lost = self._backlog.close()
        if lost:
            self._counts.dropped += lost
            self._report(ApimeterError("CLOSED", f"{lost} events were not sent before close()", count=lost))
        if thread is None and self._transport is not None:
            self._transport.close()
        _clients.discard(self)
        return flushed

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the worker -------------------------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._thread is None and not self._closed:
                thread = threading.Thread(target=self._run, name="apimeter-client", daemon=True)
                try:
                    thread.start()
                except RuntimeError:  # the interpreter is shutting down
                    log.warning("apimeter: cannot start the sending thread now; events stay queued")
                    return
                self._thread = thread

    def _run(self) -> None:
        next_adoption = 0.0
        while True:
            try:
                if self._spool is not None and time.monotonic() >= next_adoption:
                    self._spool.adopt()
                    self._adopted.set()
                    next_adoption = time.monotonic() + _ADOPT_EVERY_SECONDS
                woken = self._wake.wait(self._flush_interval)
                self._wake.clear()
                self._interrupt.clear()  # a flush that woke this drain must not also cut its first backoff
                forced, self._flush_requested = not woken or self._flush_requested, False
                self._drain(forced)
                self._report_drops()
                if self._spool is not None:
                    self._spool.sync()
            except Exception:
                log.exception("apimeter: the sending thread failed; it carries on")
                self._stop.wait(1.0)
            if self._stop.is_set():
                self._finish()
                return

    def _finish(self) -> None:
        """The worker's last step: a batch from memory it could not deliver is lost (a spool keeps it)."""
        if self._taken is not None and self._memory is not None:
            lost = sum(len(part) for part in self._parts)
            if lost:
                self._counts.dropped += lost
                self._report(ApimeterError("CLOSED", f"{lost} events were not sent before close()", count=lost))
            self._memory.done(self._taken)
            self._taken, self._parts = None, []
        if self._transport is not None:
            self._transport.close()
        self._notify()

    def _drain(self, forced: bool) -> None:
        """Sends full batches while there are; when ``forced`` (the timer, a flush, close) also what was
        waiting when it began. Never a trickle of small batches: each request costs the app CPU."""
        marker = self._backlog.mark() if forced else None
        while self._paused is None and not self._stop.is_set():
            if self._taken is None:
                full = self._backlog.pending() >= self._batch_size
                if not full and (marker is None or self._backlog.reached(marker)):
                    return
                self._taken = self._backlog.take(self._batch_size)
                if self._taken is None:
                    return
                self._parts = [self._taken]
            while self._parts:
                if self._paused is not None or self._stop.is_set():
                    return
                self._deliver(self._parts[0])
            self._backlog.done(self._taken)
            self._taken = None
            self._notify()

    def _deliver(self, part: Batch) -> None:
        """One attempt at the first part: settles it, splits it, waits to retry it, or pauses."""
        try:
            body = part.body()
        except Exception as exc:  # e.g. a circular structure in properties
            self._refuse_part(part, "VALIDATION_ERROR", f"not JSON: {exc}", None)
            return
        if len(body) > _backlog.MAX_BODY_BYTES and len(part) > 1:
            self._parts[0:1] = part.split()
            return
        assert self._transport is not None  # the worker runs only with a key
        try:
            answer = self._transport.post(body)
        except (OSError, http.client.HTTPException) as exc:
            self._retry(part, None, f"{type(exc).__name__}: {exc}")
            return
        status = answer.status
        if 200 <= status < 300:
            self._settle(part, answer)
        elif status in (408, 429) or status >= 500:
            self._retry(part, answer.retry_after, f"{status} {answer.code}: {answer.message}")
        elif status in (400, 413, 422):
            self._refuse_part(part, answer.code, answer.message, status)
        else:  # 401, 403, or an answer that says base_url is wrong: keep everything, stop sending
            self._pause(answer)

    def _refuse_part(self, part: Batch, code: str, message: str, status: int | None) -> None:
        """A whole request refused: halve it until the refused event is alone, and report that one."""
        if len(part) > 1:
            self._parts[0:1] = part.split()
            return
        self._counts.rejected += 1
        self._parts.pop(0)
        self._report(ApimeterError(code, message, status=status, events=part.events()))

    def _settle(self, part: Batch, answer: Answer) -> None:
        document: dict[str, Any] = answer.document if isinstance(answer.document, dict) else {}
        listed = document.get("rejected")
        rejected: list[Any] = listed if isinstance(listed, list) else []
        accepted, duplicates = document.get("accepted"), document.get("duplicates")
        if isinstance(accepted, int) and isinstance(duplicates, int):
            self._counts.sent += accepted
            self._counts.duplicates += duplicates
        else:  # a 2xx says the batch is stored, whatever its body
            self._counts.sent += len(part) - len(rejected)
        self._parts.pop(0)
        for item in rejected:
            index = item.get("index") if isinstance(item, dict) else None
            events = Batch(part.items[index : index + 1]).events() if isinstance(index, int) else []
            code = str(item.get("code", "VALIDATION_ERROR")) if isinstance(item, dict) else "VALIDATION_ERROR"
            message = str(item.get("message", "")) if isinstance(item, dict) else ""
            self._counts.rejected += 1
            self._report(ApimeterError(code, message, status=answer.status, events=events))

    def _retry(self, part: Batch, retry_after: float | None, reason: str) -> None:
        if self._max_retries is not None and part.attempts >= self._max_retries:
            self._counts.dropped += len(part)
            self._parts.pop(0)
            message = f"{len(part)} events dropped after {part.attempts + 1} attempts: {reason}"
            self._report(ApimeterError("RETRIES_EXHAUSTED", message, events=part.events(), count=len(part)))
            return
        delay = retry_after if retry_after is not None else self._backoff(part.attempts)
        part.attempts += 1
        self._counts.retried += len(part)
        _warn(f"apimeter: sending failed ({reason}); retrying {len(part)} events in {delay:.1f} s")
        self._report_drops()
        # A flush or close cuts a backoff short, but not a server's Retry-After (close still ends it).
        if retry_after is None:
            self._interrupt.wait(delay)
            self._interrupt.clear()
        else:
            self._stop.wait(delay)

    def _backoff(self, attempts: int) -> float:
        ceiling = min(self._max_backoff, _FIRST_BACKOFF_SECONDS * 2.0**attempts)
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy

    def _pause(self, answer: Answer) -> None:
        if answer.status in (401, 403):
            why = "the API key was refused; events are kept (in the spool, if any) and not sent"
        else:
            url = self._transport.url if self._transport else "the server"
            why = f"{url} answered {answer.status}: is base_url right? Events are kept, not sent"
        self._paused = ApimeterError(answer.code, f"{answer.message} ({why})", status=answer.status)
        log.error("apimeter: sending stopped: %s", self._paused)
        self._report(self._paused)
        self._notify()

    def _report_drops(self) -> None:
        """Drops counted on the app's side are reported from here: user code never runs in track()."""
        while self._refusals:
            self._report(self._refusals.popleft())
        for code, total in self._backlog_drops().items():
            new = total - self._counts.reported.get(code, 0)
            if new > 0:
                self._counts.reported[code] = total
                message = {
                    "QUEUE_FULL": f"{new} events dropped: the queue in memory was full (max_queue)",
                    "SPOOL_FULL": f"{new} unsent events dropped: the spool was over spool_max_bytes",
                    "SPOOL_ERROR": f"{new} events dropped: the spool directory refused writes",
                }[code]
                _warn("apimeter: " + message)
                self._report(ApimeterError(code, message, count=new))

    def _report(self, error: ApimeterError) -> None:
        if self._on_error is None:
            if error.code in REFUSED_ITEM_CODES:
                _warn(f"apimeter: event refused: {error}")
            return
        try:
            self._on_error(error)
        except Exception:
            log.exception("apimeter: on_error raised")

    def _notify(self) -> None:
        with self._progress:
            self._progress.notify_all()

    def _after_fork_in_child(self) -> None:
        """The child starts empty with its own worker; the parent keeps and sends what it queued."""
        self._backlog.forget()
        if self._transport is not None:
            self._transport.forget()
        self._new_process_state()


_last_warning: dict[str, float] = {}


def _warn(message: str) -> None:
    """At most one warning a minute per kind of message, so an outage does not flood the logs."""
    kind = message.split(":", 2)[1] if message.count(":") >= 2 else message
    now = time.monotonic()
    if now - _last_warning.get(kind, -60.0) >= 60.0:
        _last_warning[kind] = now
        log.warning(message)


_clients: weakref.WeakSet[Client] = weakref.WeakSet()


def _close_all() -> None:
    for client in list(_clients):
        client.close()


def _after_fork() -> None:
    for client in list(_clients):
        client._after_fork_in_child()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
