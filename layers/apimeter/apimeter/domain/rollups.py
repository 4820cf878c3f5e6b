"""Rollups: how events become additive counters, and how counters become answers.

Every figure in a rollup bucket is a sum (counts, byte and cost totals, latency sketch bins), so a
bucket is updated with additions only and buckets merge by adding, across time and across
dimensions. Sums of money and latency are ``Decimal`` so that adding never drifts. The one
exception is the unique-consumer sketch, a set of codes that merges by union (see distinct.py).

Dimensions: a project's totals (``*``), and one bucket per endpoint (``e``, value
``"<METHOD> <route template>"``) and per consumer (``c``) in each time bucket. A value past the
project's cap was folded into ``other`` at ingest and stored so on the event, so the stream and a
recomputation from raw events always agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar, get_args

from apimeter.domain import distinct, sketch
from apimeter.domain.events import OTHER, TrackedEvent
from apimeter.domain.windows import GRANULARITIES, Granularity, bucket_key, bucket_start

PROJECT_TOTAL = "*"  # the dimension of a project's totals
ENDPOINT = "e"  # one bucket per "<METHOD> <route template>"
CONSUMER = "c"  # one bucket per consumer
DIMENSIONS = (PROJECT_TOTAL, ENDPOINT, CONSUMER)
UNIQUE_CONSUMERS = "uc"  # the unique-consumer sketch, on project totals
StatusClass = Literal["1xx", "2xx", "3xx", "4xx", "5xx"]
STATUS_CLASSES: tuple[StatusClass, ...] = get_args(StatusClass)
LATENCY_QUANTILES = (0.5, 0.75, 0.9, 0.95, 0.99)
SKETCH_PREFIX = "lq"
STATUS_PREFIX = "s"
METHOD_PREFIX = "m_"

Number = int | Decimal


@dataclass(frozen=True, slots=True, order=True)
class RollupKey:
    project_id: str
    granularity: Granularity
    dimension: str
    bucket: str
    value: str = ""  # the endpoint or consumer of a dimension bucket

    @property
    def sk(self) -> str:
        return f"{self.bucket}#{self.value}" if self.value else self.bucket


Value = Number | set[int]
Deltas = dict[RollupKey, dict[str, Value]]


def _bump(target: dict[str, Value], name: str, amount: Value) -> None:
    if isinstance(amount, set):
        codes = target.setdefault(name, set())
        assert isinstance(codes, set)
        codes |= amount
    else:
        target[name] = target.get(name, 0) + amount  # type: ignore[operator]


def endpoint_name(event: TrackedEvent) -> str:
    """An endpoint as rollups name it: method and route template, ``GET /users/{id}``."""
    return f"{event.method} {event.endpoint}"


def endpoint_of(event: TrackedEvent) -> str:
    return OTHER if "e" in event.folded else endpoint_name(event)


def consumer_of(event: TrackedEvent) -> str | None:
    if event.consumer is None:
        return None
    return OTHER if "c" in event.folded else event.consumer


def contribution(event: TrackedEvent) -> dict[str, Number]:
    """What one event adds to every bucket it falls in."""
    status_class = f"{event.status // 100}xx"
    values: dict[str, Number] = {
        "requests": 1,
        f"c{status_class}": 1,
        f"{STATUS_PREFIX}{event.status}": 1,
        f"{METHOD_PREFIX}{event.method}": 1,
    }
    if event.status >= 400:
        values["errors"] = 1
    if event.latency_ms is not None:
        values["lat_n"] = 1
        values["lat_sum"] = Decimal(repr(event.latency_ms))
        values[SKETCH_PREFIX + sketch.bin_of(event.latency_ms)] = 1
    if event.request_bytes:
        values["bytes_in"] = event.request_bytes
    if event.response_bytes:
        values["bytes_out"] = event.response_bytes
    if event.cost:
        values["cost"] = Decimal(repr(event.cost))
    if event.units:
        values["units"] = Decimal(repr(event.units))
    return values


def deltas(
    events: Iterable[TrackedEvent],
    granularities: tuple[Granularity, ...] = GRANULARITIES,
    dimensions_at: tuple[Granularity, ...] | None = None,
) -> Deltas:
    """Sum the contributions of ``events`` per rollup bucket: each granularity, for the project's
    totals, the event's endpoint and its consumer (endpoints and consumers only at ``dimensions_at``,
    when given). The unique-consumer sketch goes on the totals of the first granularity only: live,
    that is minutes (small items, cheap to update); hours and days get theirs when finalized from
    raw events (see logic/rollup.py)."""
    result: Deltas = {}
    kept = granularities if dimensions_at is None else dimensions_at
    buckets: dict[int, list[tuple[Granularity, str]]] = {}  # minute -> its bucket per granularity
    keys: dict[tuple[str, str, str, int], list[RollupKey]] = {}
    for event in events:
        minute = bucket_start(event.ts_ms, "minute")
        named = buckets.get(minute)
        if named is None:
            named = buckets[minute] = [(g, bucket_key(bucket_start(minute, g), g)) for g in granularities]
        values = contribution(event)
        consumer = consumer_of(event)
        for dimension, value in ((PROJECT_TOTAL, ""), (ENDPOINT, endpoint_of(event)), (CONSUMER, consumer)):
            if value is None:
                continue
            cached = keys.get((event.project_id, dimension, value, minute))
            if cached is None:
                spans = named if dimension == PROJECT_TOTAL else [(g, b) for g, b in named if g in kept]
                cached = [RollupKey(event.project_id, g, dimension, b, value) for g, b in spans]
                keys[(event.project_id, dimension, value, minute)] = cached
            for key in cached:
                target = result.get(key)
                if target is None:
                    result[key] = dict(values)
                    continue
                for name, amount in values.items():  # the hot loop: plain additions (no sets here)
                    target[name] = target.get(name, 0) + amount  # type: ignore[operator]
        if consumer is not None:
            target = result[keys[(event.project_id, PROJECT_TOTAL, "", minute)][0]]
            _bump(target, UNIQUE_CONSUMERS, {distinct.code(consumer)})
    return result


def merge_values(items: Iterable[Mapping[str, Any]]) -> dict[str, Value]:
    """Sum the counters of stored buckets into one bucket's values (a day from its hours); the
    unique-consumer sketches are united and compacted."""
    result: dict[str, Value] = {}
    for item in items:
        for name, value in item.items():
            if name == UNIQUE_CONSUMERS:
                _bump(result, name, {int(c) for c in value})
            elif _is_counter(name):
                _bump(result, name, Decimal(value) if name in DECIMALS else int(value))
    if UNIQUE_CONSUMERS in result:
        codes = result[UNIQUE_CONSUMERS]
        assert isinstance(codes, set)
        result[UNIQUE_CONSUMERS] = distinct.compact(codes)
    return result


def _is_counter(name: str) -> bool:
    return (
        name in _SCALARS
        or name.startswith(SKETCH_PREFIX)
        or (name.startswith("c") and name[1:] in STATUS_CLASSES)
        or (name.startswith(STATUS_PREFIX) and name[1:].isdigit())
        or name.startswith(METHOD_PREFIX)
    )


@dataclass(slots=True)
class Totals:
    """Merged counters of any number of rollup buckets."""

    requests: int = 0
    errors: int = 0
    status_classes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUS_CLASSES, 0))
    status_codes: dict[int, int] = field(default_factory=dict)
    methods: dict[str, int] = field(default_factory=dict)
    latency_count: int = 0
    latency_sum: Decimal = Decimal(0)
    latency_bins: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0
    bytes_out: int = 0
    cost: Decimal = Decimal(0)
    units: Decimal = Decimal(0)
    consumer_codes: set[int] = field(default_factory=set)

    def add_item(self, item: Mapping[str, Any]) -> None:
        for name, value in item.items():
            if name == UNIQUE_CONSUMERS:
                self.consumer_codes.update(int(c) for c in value)
            elif name in _SCALARS:
                setattr(self, _SCALARS[name], getattr(self, _SCALARS[name]) + _number(value, name))
            elif name.startswith("c") and name[1:] in self.status_classes:
                self.status_classes[name[1:]] += int(value)
            elif name.startswith(SKETCH_PREFIX):
                bin_name = name[len(SKETCH_PREFIX) :]
                self.latency_bins[bin_name] = self.latency_bins.get(bin_name, 0) + int(value)
            elif name.startswith(STATUS_PREFIX) and name[1:].isdigit():
                code = int(name[1:])
                self.status_codes[code] = self.status_codes.get(code, 0) + int(value)
            elif name.startswith(METHOD_PREFIX):
                method = name[len(METHOD_PREFIX) :]
                self.methods[method] = self.methods.get(method, 0) + int(value)

    def add(self, other: Totals) -> None:
        """Merge another ``Totals`` into this one."""
        for name in _SCALARS.values():
            setattr(self, name, getattr(self, name) + getattr(other, name))
        _add_counts(self.status_classes, other.status_classes)
        _add_counts(self.status_codes, other.status_codes)
        _add_counts(self.methods, other.methods)
        _add_counts(self.latency_bins, other.latency_bins)
        self.consumer_codes |= other.consumer_codes

    def latency(self) -> dict[str, float | None]:
        marks = sketch.quantiles(self.latency_bins, LATENCY_QUANTILES)
        avg = float(self.latency_sum / self.latency_count) if self.latency_count else None
        result: dict[str, float | None] = {"avg": _round(avg)}
        for q in LATENCY_QUANTILES:
            result[f"p{round(q * 100)}"] = _round(marks[q])
        return result

    def latency_bounds(self) -> tuple[float | None, float | None]:
        """The smallest and largest latency, within the sketch's relative error."""
        counted = [sketch.representative(b) for b, c in self.latency_bins.items() if c > 0]
        return (_round(min(counted)), _round(max(counted))) if counted else (None, None)

    @property
    def unique_consumers(self) -> int:
        return distinct.estimate(self.consumer_codes)

    @property
    def error_rate(self) -> float:
        return round(self.errors / self.requests, 6) if self.requests else 0.0


K = TypeVar("K")


def _add_counts(mine: dict[K, int], theirs: Mapping[K, int]) -> None:
    for name, count in theirs.items():
        mine[name] = mine.get(name, 0) + count


_SCALARS = {
    "requests": "requests",
    "errors": "errors",
    "lat_n": "latency_count",
    "lat_sum": "latency_sum",
    "bytes_in": "bytes_in",
    "bytes_out": "bytes_out",
    "cost": "cost",
    "units": "units",
}
DECIMALS = {"lat_sum", "cost", "units"}


def _number(value: Any, name: str) -> Number:
    return Decimal(value) if name in DECIMALS else int(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def merge(items: Iterable[Mapping[str, Any]]) -> Totals:
    totals = Totals()
    for item in items:
        totals.add_item(item)
    return totals
