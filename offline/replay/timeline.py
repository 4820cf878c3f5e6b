"""Where replayed calls land in time, and what the hourly anomaly detector will make of them.

Each source keeps its own clock's spacing, shifted so that its last call lands at the replay's end
(near now): the access log's days end where the LLM traces' hour ends. A source can be stretched
(``stretch`` 2 plays each hour of it over two), which keeps the order and the proportions of its
gaps but not its hour-of-day pattern.

``screen`` runs the pipeline's own detector (``apimeter.domain.anomaly``) over the project's hours
as the hourly schedule would have judged them one by one, so the replay knows which hours to have
the pipeline judge: it cannot afford a pipeline run per replayed hour offline.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from apimeter.domain.anomaly import METRICS, Detector
from offline.replay.sources import Call, event_id, unit_fraction, web_latency_ms

HOUR_MS = 3_600_000
MIN_REQUESTS = 20  # as apimeter.logic.anomalies: below this an hour's error rate and p95 are not judged


def place(calls: Sequence[Call], end_ms: int, spread: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """The calls as events. Each clock (a source, or the sources recorded together: ``llm-code`` and
    ``llm-conv`` share the clock ``llm``) is shifted so that its last call is just before ``end_ms``.

    A clock keeps its exact spacing unless ``spread`` names it with a factor ``k``: then each of its
    hours is played over ``k`` hours, its calls evenly spaced over them in their order. That is for
    a log sampled one minute an hour (the access log holds minute :05 of every hour): its hourly
    counts and order are kept, and the hours between samples are not left empty."""
    clocks: dict[str, list[Call]] = defaultdict(list)
    for call in calls:
        clocks[clock_of(call.source)].append(call)
    factors = spread or {}
    timestamps: dict[int, int] = {}
    for clock, members in clocks.items():
        last = max(call.at_ms for call in members)
        if clock not in factors:
            for call in members:
                timestamps[id(call)] = end_ms - 1 - (last - call.at_ms)
            continue
        factor, last_hour = factors[clock], last // HOUR_MS
        by_hour: dict[int, list[Call]] = defaultdict(list)
        for call in members:
            by_hour[call.at_ms // HOUR_MS].append(call)
        final_start = end_ms - factor * HOUR_MS
        for hour, group in by_hour.items():
            start = final_start - (last_hour - hour) * factor * HOUR_MS
            ordered = sorted(group, key=lambda c: c.at_ms)  # stable: same-second calls keep their file order
            for rank, call in enumerate(ordered):
                timestamps[id(call)] = round(start + (rank + 0.5) * factor * HOUR_MS / len(ordered))
    return [{**call.fields, "timestamp": timestamps[id(call)]} for call in calls]


def clock_of(source: str) -> str:
    return source.split("-", 1)[0] if source.startswith("llm-") else source


def select(
    calls: Sequence[Call], events: Sequence[dict[str, Any]], every: dict[str, int], limit: int | None
) -> list[dict[str, Any]]:
    """What a replay sends, oldest first: of each source's placed events (``events[i]`` is
    ``calls[i]``), every ``every[source]``-th (default all), then the last ``limit``. Placement
    comes first, so a sample or a limit sends a subset of the same events, never other ones."""
    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for call, event in zip(calls, events, strict=True):
        by_source[call.source].append(event)
    chosen = []
    for source, placed in by_source.items():
        step = max(1, every.get(source, 1))
        kept = sorted(placed[::step], key=lambda e: int(e["timestamp"]))
        chosen += kept[-limit:] if limit else kept
    return sorted(chosen, key=lambda e: int(e["timestamp"]))


def rounds(events: Sequence[dict[str, Any]], size: int) -> list[tuple[int, int, list[dict[str, Any]]]]:
    """Events (oldest first) cut into rounds of whole hours, each of at least ``size`` events but the
    last: ``(first hour's start, last hour's end, events)``. A round is sent, counted and finalized
    before the next, so an hour never straddles two rounds."""
    found: list[tuple[int, int, list[dict[str, Any]]]] = []
    current: list[dict[str, Any]] = []
    for event in events:
        hour = int(event["timestamp"]) // HOUR_MS * HOUR_MS
        if current and len(current) >= size and hour >= int(current[-1]["timestamp"]) // HOUR_MS * HOUR_MS + HOUR_MS:
            found.append(_round(current))
            current = []
        current.append(event)
    if current:
        found.append(_round(current))
    return found


def _round(events: list[dict[str, Any]]) -> tuple[int, int, list[dict[str, Any]]]:
    first, last = int(events[0]["timestamp"]), int(events[-1]["timestamp"])
    return first // HOUR_MS * HOUR_MS, last // HOUR_MS * HOUR_MS + HOUR_MS, events


# a synthetic incident, for data that holds no anomaly


def incident(endpoint: str, start_ms: int, minutes: int, per_minute: int, status: int = 503) -> list[dict[str, Any]]:
    """A labelled burst of server errors on one endpoint: ``per_minute`` calls a minute for
    ``minutes`` from ``start_ms``, every one answering ``status``. Ids and jitter are fixed by the
    incident's place and size, so a replay sends the same burst again."""
    name = f"incident:{endpoint}:{start_ms}:{minutes}:{per_minute}"
    events = []
    for index in range(minutes * per_minute):
        identifier = event_id(name, index)
        offset = round((index + unit_fraction(identifier)) * 60_000 / per_minute)
        events.append({
            "event_id": identifier, "timestamp": start_ms + offset, "method": "GET", "endpoint": endpoint,
            "path": endpoint, "status": status, "latency_ms": web_latency_ms(status, 0, identifier),
            "response_bytes": 0, "consumer": "synthetic-incident",
            "properties": {"source": "synthetic incident", "synthetic": True},
        })  # fmt: skip
    return events


# what the hourly anomaly detector will find


@dataclass(frozen=True, slots=True)
class Flag:
    hour_ms: int
    metric: str
    observed: float
    expected: float
    direction: str | None
    severity: str


@dataclass(frozen=True, slots=True)
class Hour:
    requests: int
    errors: int
    latencies: tuple[float, ...]

    def value(self, metric: str) -> float | None:
        """As the pipeline reads an hour (``apimeter.logic.anomalies._value``)."""
        if metric == "requests":
            return float(self.requests)
        if self.requests < MIN_REQUESTS:
            return None
        if metric == "error_rate":
            return self.errors / self.requests
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank, as the sketch


def hours(events: Iterable[dict[str, Any]]) -> dict[int, Hour]:
    """The project's hourly figures from its events (hour start -> figures)."""
    counts: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    latencies: dict[int, list[float]] = defaultdict(list)
    for event in events:
        hour = int(event["timestamp"]) // HOUR_MS * HOUR_MS
        counts[hour][0] += 1
        counts[hour][1] += int(event["status"]) >= 400
        if event.get("latency_ms") is not None:
            latencies[hour].append(float(event["latency_ms"]))
    return {h: Hour(c[0], c[1], tuple(latencies[h])) for h, c in counts.items()}


def judge(figures: dict[int, Hour], judged: Sequence[int]) -> list[Flag]:
    """The project-level anomalies the pipeline records when it judges ``judged`` hours (ascending)
    on a project it has not judged before: the first run learns every hour before the first judged
    one from the project's history (``apimeter.logic.anomalies._learned_from_history``), then each
    run judges its hour; hours between judged ones are not learned. Hours without calls count as
    zero requests, as the pipeline reads them."""
    if not figures or not judged:
        return []
    detectors = {metric: Detector(3600) for metric in METRICS}
    flags = []
    empty = Hour(0, 0, ())
    learned = range(min(figures), judged[0], HOUR_MS)
    for hour in [*learned, *judged]:
        figure = figures.get(hour, empty)
        for metric, detector in detectors.items():
            value = figure.value(metric)
            if value is None:
                continue
            verdict = detector.update(hour / 1000, value)
            if verdict.severity and hour >= judged[0]:
                flags.append(Flag(hour, metric, value, verdict.expected, verdict.direction, verdict.severity))
    return flags


def screen(figures: dict[int, Hour], before_ms: int) -> list[Flag]:
    """What the pipeline finds when it judges every hour from the project's first to the last one
    ending by ``before_ms``, one by one, as the hourly schedule does."""
    if not figures:
        return []
    return judge(figures, range(min(figures), before_ms - HOUR_MS + 1, HOUR_MS))
