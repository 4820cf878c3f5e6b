"""Rollups: how events become additive counters, and how counters become answers.

Every figure in a rollup bucket is a sum (counts, byte and cost totals, latency sketch bins), so a
bucket is updated with additions only and buckets merge by adding, across time and across
dimensions. Sums of money and latency are ``Decimal`` so that adding never drifts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apimeter.domain import sketch
from apimeter.domain.events import TrackedEvent
from apimeter.domain.windows import GRANULARITIES, Granularity, bucket_key, bucket_start

PROJECT_TOTAL = "*"  # the dimension of a project's totals; per-endpoint/consumer dimensions come later
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
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


Deltas = dict[RollupKey, dict[str, Number]]


def _bump(target: dict[str, Number], name: str, amount: Number) -> None:
    target[name] = target.get(name, 0) + amount


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


def deltas(events: Iterable[TrackedEvent]) -> Deltas:
    """Sum the contributions of ``events`` per rollup bucket (minute, hour and day; project totals)."""
    result: Deltas = {}
    keys: dict[tuple[str, int], list[RollupKey]] = {}  # (project, minute) -> its three bucket keys
    for event in events:
        minute = bucket_start(event.ts_ms, "minute")
        bucket_keys = keys.get((event.project_id, minute))
        if bucket_keys is None:
            bucket_keys = [
                RollupKey(event.project_id, g, PROJECT_TOTAL, bucket_key(bucket_start(minute, g), g))
                for g in GRANULARITIES
            ]
            keys[(event.project_id, minute)] = bucket_keys
        values = contribution(event)
        for key in bucket_keys:
            target = result.setdefault(key, {})
            for name, amount in values.items():
                _bump(target, name, amount)
    return result


def merge_values(items: Iterable[Mapping[str, Any]]) -> dict[str, Number]:
    """Sum the counters of stored buckets into one bucket's values (a day from its hours)."""
    result: dict[str, Number] = {}
    for item in items:
        for name, value in item.items():
            if _is_counter(name):
                _bump(result, name, Decimal(value) if name in _DECIMALS else int(value))
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

    def add_item(self, item: Mapping[str, Any]) -> None:
        for name, value in item.items():
            if name in _SCALARS:
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

    def latency(self) -> dict[str, float | None]:
        marks = sketch.quantiles(self.latency_bins, LATENCY_QUANTILES)
        avg = float(self.latency_sum / self.latency_count) if self.latency_count else None
        result: dict[str, float | None] = {"avg": _round(avg)}
        for q in LATENCY_QUANTILES:
            result[f"p{round(q * 100)}"] = _round(marks[q])
        return result

    @property
    def error_rate(self) -> float:
        return round(self.errors / self.requests, 6) if self.requests else 0.0


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
_DECIMALS = {"lat_sum", "cost", "units"}


def _number(value: Any, name: str) -> Number:
    return Decimal(value) if name in _DECIMALS else int(value)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def merge(items: Iterable[Mapping[str, Any]]) -> Totals:
    totals = Totals()
    for item in items:
        totals.add_item(item)
    return totals
