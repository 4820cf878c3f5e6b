"""Sending a replay through the Python client, no faster than the stack absorbs it.

The events go in rounds of whole hours (``timeline.rounds``). In a round the client (``apimeter_client``)
batches and retries, with one request in flight; it is handed events as its queue drains, never
more than two batches ahead. Then the replay waits until the stack's aggregation counts the round,
and runs the rollup schedule, which finalizes the round's hours from their raw events, as the
schedule would have done had these hours happened in real time. So the stack's backlog never
exceeds one round, and summaries stay cheap: a summary of hours not yet finalized merges the
unique-consumer sketches of their minutes, a summary of finalized hours reads one item each.

Meanwhile a ``SummaryWatch`` reads the summary of the replayed range every few seconds: how long
that takes is how responsive the API stays during the replay.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from apimeter_client import ApimeterError, Client
from offline.replay.progress import Progress
from offline.replay.stack_api import Stack, StackError

STALL_SECONDS = 60.0  # a count that does not move for this long is not waited for any more


@dataclass(frozen=True, slots=True)
class Latency:
    count: int
    median: float
    p95: float
    max: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Latency:
        if not seconds:
            return cls(0, 0.0, 0.0, 0.0)
        ordered = sorted(seconds)
        p95 = ordered[max(0, -(-95 * len(ordered) // 100) - 1)]
        return cls(len(ordered), statistics.median(ordered), p95, ordered[-1])

    def __str__(self) -> str:
        if not self.count:
            return "not measured"
        return f"median {self.median:.2f} s, p95 {self.p95:.2f} s, max {self.max:.2f} s ({self.count} reads)"


class SummaryWatch:
    """Reads the summary of ``[start_ms, end_ms)`` every ``every`` seconds on its own thread."""

    def __init__(self, stack: Stack, start_ms: int, end_ms: int, every: float = 15.0) -> None:
        self.stack, self.start_ms, self.end_ms, self.every = stack, start_ms, end_ms, every
        self.seconds: list[float] = []
        self.failures = 0
        self.last: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="summary-watch", daemon=True)

    def read(self) -> dict[str, Any]:
        started = time.monotonic()
        try:
            self.last = self.stack.summary(self.start_ms, self.end_ms)
        except StackError:
            self.failures += 1
            return {}
        self.seconds.append(time.monotonic() - started)
        return self.last

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.read()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.stack.timeout)

    def latency(self) -> Latency:
        return Latency.of(self.seconds)


@dataclass
class Sent:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    dropped: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # by error code
    examples: dict[str, str] = field(default_factory=dict)  # one message per code
    seconds: float = 0.0  # sending, counting and finalizing every round
    finalized_hours: int = 0
    uncounted: int = 0  # accepted events the stack's hourly figures did not show in time
    stopped: str | None = None  # why sending stopped early (the key was refused...)

    @property
    def settled(self) -> int:
        return self.accepted + self.duplicates + self.rejected + self.dropped


def send(
    rounds: Sequence[tuple[int, int, list[dict[str, Any]]]], stack: Stack, *, batch_size: int, progress: Progress
) -> Sent:
    """Track every event through the client, round by round; each round is counted by the stack and
    finalized before the next is sent."""
    sent = Sent()

    def on_error(error: ApimeterError) -> None:
        sent.refused[error.code] += error.count
        sent.examples.setdefault(error.code, error.message)

    client = Client(
        stack.api_key,
        stack.base_url,
        batch_size=batch_size,
        flush_interval=1.0,
        timeout=stack.timeout,  # a batch can take seconds on a busy machine; a timeout would re-send it
        shutdown_timeout=0.0,
        on_error=on_error,
    )
    started = time.monotonic()
    try:
        for number, (start_ms, end_ms, events) in enumerate(rounds, start=1):
            label = f"round {number}/{len(rounds)}"
            before = stack.count(start_ms, end_ms)
            accepted_before = client.stats.sent
            _track(client, events, batch_size, sent, progress, label)
            if _stopped(sent):
                break
            accepted = client.stats.sent - accepted_before
            if accepted:
                sent.uncounted += _counted(stack, start_ms, end_ms, before + accepted, client, progress, label)
                progress.update(_settled(client), f"{label}: finalizing its hours", force=True)
                report = stack.run_schedule("RollupFunction")
                sent.finalized_hours += int(report.get("hours", 0)) if isinstance(report, dict) else 0
    finally:
        client.close(timeout=0.0)
    stats = client.stats
    sent.accepted, sent.duplicates, sent.rejected, sent.dropped = (
        stats.sent, stats.duplicates, stats.rejected, stats.dropped)  # fmt: skip
    sent.seconds = time.monotonic() - started
    if _stopped(sent):
        code = next(c for c in ("AUTHENTICATION_FAILED", "FORBIDDEN") if sent.refused[c])
        sent.stopped = f"{code}: {sent.examples[code]}"
    progress.finish(sent.settled, f"{sent.finalized_hours} hours finalized")
    return sent


def _track(
    client: Client, events: Sequence[dict[str, Any]], batch_size: int, sent: Sent, progress: Progress, label: str
) -> None:
    """Hand the round's events to the client as its queue drains, then wait until each is settled."""
    for event in events:
        while client.stats.queued >= 2 * batch_size and not _stopped(sent):
            progress.update(_settled(client), f"{label}: sending")
            time.sleep(0.02)
        if _stopped(sent):
            return
        client.track(**event)
    while not _stopped(sent) and not client.flush(timeout=1.0):
        progress.update(_settled(client), f"{label}: sending")


def _counted(
    stack: Stack, start_ms: int, end_ms: int, expected: int, client: Client, progress: Progress, label: str
) -> int:
    """Wait until the round's hours count ``expected`` requests; returns how many are missing when
    the count stops moving (0 when all are counted)."""
    counted, changed = -1, time.monotonic()
    while True:
        now = stack.count(start_ms, end_ms)
        if now != counted:
            counted, changed = now, time.monotonic()
        if counted >= expected or time.monotonic() - changed > STALL_SECONDS:
            return max(0, expected - counted)
        progress.update(_settled(client), f"{label}: aggregating ({expected - counted:,} to count)")
        time.sleep(0.5)


def _stopped(sent: Sent) -> bool:
    """The client stops sending (and keeps the events) when the key is refused."""
    return bool(sent.refused["AUTHENTICATION_FAILED"] or sent.refused["FORBIDDEN"])


def _settled(client: Client) -> int:
    stats = client.stats
    return stats.sent + stats.duplicates + stats.rejected + stats.dropped
