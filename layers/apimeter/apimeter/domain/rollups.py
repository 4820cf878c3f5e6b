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
from functools import reduce
from itertools import chain, pairwise, repeat
from operator import add
from typing import Any, Literal, NamedTuple, TypeVar, cast, get_args

from apimeter.domain import distinct, sketch
from apimeter.domain.events import OTHER, TrackedEvent
from apimeter.domain.windows import GRANULARITIES, STEP_MS, Granularity, bucket_key, bucket_start

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


class RollupKey(NamedTuple):
    """Which bucket: an immutable, ordered, hashable value. A tuple, because a stream batch makes one
    per bucket (hundreds of them), and a tuple is built and hashed in C, a frozen dataclass in Python."""

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
    raw events (see logic/rollup.py).

    The result is exactly what adding ``contribution(event)`` of each event in turn to each of its
    buckets gives: the same buckets, counters and sums, in the same order, down to a sum's decimal
    exponent and a sketch's set order (requests and packs are written from them as they are). It
    is computed in bulk, because this is the stream's hot path: each event is filed once under its
    three minute buckets, each minute bucket's counters are counted (mostly by event shape, see
    _Batch) and its amounts summed over its events (``sum``, ``reduce``), and an hour or day adds
    up its minutes; not one dict update per counter, event and bucket (~10 counters x 5 buckets)."""
    kept = granularities if dimensions_at is None else dimensions_at
    first = granularities[0] if granularities else None
    batch = _Batch.of(events)
    named: dict[int, tuple[list[tuple[Granularity, str]], ...]] = {}  # minute -> its buckets: totals', values'
    minute_values: dict[_Where, dict[str, Value]] = {}
    coarse: dict[RollupKey, list[_Where]] = {}  # an hour or day bucket -> its minutes
    result: Deltas = {}
    # Minute buckets come in the order of their first events, and each brings its coarser buckets
    # the first time one of its events is theirs: the order in which adding event by event makes them.
    for where, positions in batch.minutes.items():
        project_id, dimension, value, minute = where
        spans = named.get(minute)
        if spans is None:
            every = [(g, bucket_key(bucket_start(minute, g), g)) for g in granularities]
            spans = named[minute] = (every, [(g, b) for g, b in every if g in kept])
        mine = spans[dimension != PROJECT_TOTAL]
        for granularity, bucket in mine:
            key = RollupKey(project_id, granularity, dimension, bucket, value)
            if granularity == "minute":
                unique = dimension == PROJECT_TOTAL and granularity == first
                values = result[key] = batch.summed(positions, unique=unique)
                if len(mine) > 1:  # coarser buckets may add it up
                    minute_values[where] = values
            elif key in coarse:
                coarse[key].append(where)
            else:
                coarse[key], result[key] = [where], {}  # its place; its values once all its minutes are in
    for key, minutes in coarse.items():
        unique = key.dimension == PROJECT_TOTAL and key.granularity == first
        runs = [batch.minutes[where] for where in minutes]
        if unique or not all(where in minute_values for where in minutes):
            result[key] = batch.summed(sorted(chain.from_iterable(runs)), unique=unique)
        elif all(a[-1] < b[0] for a, b in pairwise(runs)):  # one minute's events after another's: add them
            counts = _added([minute_values[where] for where in minutes])
            result[key] = batch.summed(list(chain.from_iterable(runs)), unique=False, counts=counts)
        else:  # minutes interleaved in the batch: their counters come in another order, count again
            result[key] = batch.summed(sorted(chain.from_iterable(runs)), unique=False)
    return result


_MINUTE_MS = STEP_MS["minute"]
_Where = tuple[str, str, str, int]  # (project, dimension, value, minute): a minute bucket


@dataclass(frozen=True, slots=True)
class _Batch:
    """The events of one ``deltas`` call as columns (by position in the call), and where they fall.

    What an event adds to is the names of ``contribution(event)`` in its order, then the sketch's
    when it has a consumer (it goes on the totals right after them, so it takes its place there).
    All but the latency's sketch bin depend on a few fields (the event's shape): a bucket's events
    are mostly of one or two shapes and differ by bin, which is what ``counted`` makes use of."""

    shapes: list[int]
    bins: list[str | None]  # the sketch bin's name
    parts: list[tuple[tuple[str, ...], tuple[str, ...]]]  # shape -> its names before and after the bin
    latency: list[Decimal | None]  # the amounts each adds, as contribution() has them
    cost: list[Decimal | None]
    units: list[Decimal | None]
    bytes_in: list[int]
    bytes_out: list[int]
    consumers: list[str | None]
    # (project, dimension, value, minute) -> the positions of its events, buckets in order of first event
    minutes: dict[_Where, list[int]]
    codes: dict[str, int] = field(default_factory=dict)  # consumer -> its code in the sketch, once each

    @classmethod
    def of(cls, events: Iterable[TrackedEvent]) -> _Batch:
        # Column by column: a comprehension is one tight loop each (tighter than map() over a method).
        events = list(events)
        projects, latencies = [e.project_id for e in events], [e.latency_ms for e in events]
        endpoints, consumers = [endpoint_of(e) for e in events], [consumer_of(e) for e in events]
        minutes = [e.ts_ms - e.ts_ms % _MINUTE_MS for e in events]  # bucket_start(ts, "minute"), inline
        # contribution()'s names, but for the bin, depend on these fields only: an event's shape.
        ids: dict[tuple[Any, ...], int] = {}  # shape -> its number, in order of first event
        shapes = [
            ids.setdefault((e.status, e.method, e.latency_ms is None, not e.request_bytes, not e.response_bytes,
                            not e.cost, not e.units, e.consumer is None), len(ids))
            for e in events
        ]  # fmt: skip
        by_consumer = _positions(zip(projects, repeat(CONSUMER), consumers, minutes, strict=False))
        if None in consumers:  # an event without a consumer is in no consumer's bucket
            by_consumer = {where: positions for where, positions in by_consumer.items() if where[2] is not None}
        buckets = (
            _positions(zip(projects, repeat(PROJECT_TOTAL), repeat(""), minutes, strict=False)),
            _positions(zip(projects, repeat(ENDPOINT), endpoints, minutes, strict=False)),
            by_consumer,
        )
        # In order of first event, and at one event: totals, endpoint, consumer (a stable sort).
        ordered = dict(sorted(chain.from_iterable(b.items() for b in buckets), key=_first_position))
        return cls(
            shapes=shapes,
            bins=[None if v is None else SKETCH_PREFIX + sketch.bin_of(v) for v in latencies],
            parts=[_around_bin(events[p], consumers[p] is not None) for p in map(shapes.index, range(len(ids)))],
            latency=[None if v is None else Decimal(repr(v)) for v in latencies],
            cost=[Decimal(repr(e.cost)) if e.cost else None for e in events],
            units=[Decimal(repr(e.units)) if e.units else None for e in events],
            bytes_in=[e.request_bytes or 0 for e in events],
            bytes_out=[e.response_bytes or 0 for e in events],
            consumers=consumers,
            minutes=cast(dict[_Where, list[int]], ordered),
        )

    def names(self, position: int) -> tuple[str, ...]:
        """What the event at ``position`` adds to, in order."""
        before, after = self.parts[self.shapes[position]]
        bin_name = self.bins[position]
        return before + after if bin_name is None else (*before, bin_name, *after)

    def counted(self, positions: list[int]) -> dict[str, int]:
        """How many of the events at ``positions`` add to each counter, counters in the order the
        events bring them."""
        shapes, bins, first = self.shapes, self.bins, positions[0]
        if len(positions) == 1:
            return dict.fromkeys(self.names(first), 1)
        if len({shapes[p] for p in positions}) > 1:
            return self._counted_by_shape(positions)
        counts = dict.fromkeys(self.names(first), len(positions))  # all of one shape: they differ by bin only
        first_bin = bins[first]
        if first_bin is None:
            return counts
        counts[first_bin] = 0  # counted with the others: of one shape, every event has a bin
        for position in positions:
            bin_name = bins[position]
            counts[bin_name] = counts.get(bin_name, 0) + 1  # type: ignore[index, arg-type]
        return counts

    def _counted_by_shape(self, positions: list[int]) -> dict[str, int]:
        # An event of a shape met already in the bucket can bring its bin only: such events are
        # counted by shape, and a shape's names once at the end.
        shapes, bins = self.shapes, self.bins
        counts = dict.fromkeys(self.names(positions[0]), 1)
        again = {shapes[positions[0]]: 0}  # shape -> how many more events of it
        for position in positions[1:]:
            shape = shapes[position]
            more = again.get(shape)
            if more is None:  # a new shape here: its names in its order
                again[shape] = 0
                for name in self.names(position):
                    counts[name] = counts.get(name, 0) + 1
            else:
                again[shape] = more + 1
                bin_name = bins[position]
                if bin_name is not None:
                    counts[bin_name] = counts.get(bin_name, 0) + 1
        for shape, more in again.items():
            if more:
                for name in chain.from_iterable(self.parts[shape]):
                    counts[name] += more
        return counts

    def summed(self, positions: list[int], *, unique: bool, counts: dict[str, Value] | None = None) -> dict[str, Value]:
        """The counters of the events at ``positions`` (in order) as adding their contributions one
        by one gives them; with the unique-consumer sketch when ``unique``. ``counts``: the counters of
        its minutes added up, when known (then only the decimal sums are made again, in event order)."""
        values = cast(dict[str, Value], self.counted(positions)) if counts is None else counts
        if "lat_sum" in values:
            every = values["lat_n"] == len(positions)  # "lat_n" counts the events with a latency
            values["lat_sum"] = _sum(self.latency, positions, every)
        if counts is None:  # (added up, byte counts are right already: ints add up the same in any order)
            if "bytes_in" in values:
                values["bytes_in"] = _total(self.bytes_in, positions)
            if "bytes_out" in values:
                values["bytes_out"] = _total(self.bytes_out, positions)
        if "cost" in values:
            values["cost"] = _sum(self.cost, positions)
        if "units" in values:
            values["units"] = _sum(self.units, positions)
        if UNIQUE_CONSUMERS in values:
            if unique:
                values[UNIQUE_CONSUMERS] = self.sketch(positions)
            else:
                del values[UNIQUE_CONSUMERS]
        return values

    def sketch(self, positions: list[int]) -> set[int]:
        """The unique-consumer sketch of the events at ``positions``. Built one code at a time in
        event order, as adding contributions one by one does: a set's iteration order depends on
        how it was filled (a union makes room for what it adds before it adds it, even when that is
        there already), and it is the order the codes are written in (``NS`` lists)."""
        known, consumers = self.codes, self.consumers
        codes: set[int] = set()
        for position in positions:
            consumer = consumers[position]
            if consumer is not None:
                code = known.get(consumer)
                if code is None:
                    code = known[consumer] = distinct.code(consumer)
                codes |= {code}
        return codes


W = TypeVar("W")


def _positions(wheres: Iterable[W]) -> dict[W, list[int]]:
    """The positions of the events in each minute bucket, from each event's (project, dimension,
    value, minute)."""
    found: dict[W, list[int]] = {}
    for position, where in enumerate(wheres):
        at = found.get(where)
        if at is None:
            found[where] = [position]
        else:
            at.append(position)
    return found


def _first_position(bucket: tuple[Any, list[int]]) -> int:
    return bucket[1][0]


def _around_bin(event: TrackedEvent, consumed: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The names of ``contribution(event)`` before and after its sketch bin (all of them before,
    without a latency), and the unique-consumer sketch's after them when it has a consumer."""
    names = tuple(contribution(event)) + ((UNIQUE_CONSUMERS,) if consumed else ())
    if event.latency_ms is None:
        return names, ()
    cut = names.index(SKETCH_PREFIX + sketch.bin_of(event.latency_ms))
    return names[:cut], names[cut + 1 :]


def _added(buckets: list[dict[str, Value]]) -> dict[str, Value]:
    """The counters of buckets added, in the order they come; the sketches are left out, and the
    decimal sums to be made again (they add up exactly only in event order)."""
    total: dict[str, Value] = {}
    for values in buckets:
        for name, count in values.items():
            if name != UNIQUE_CONSUMERS:
                total[name] = total.get(name, 0) + count  # type: ignore[operator]
    return total


def _sum(amounts: list[Decimal | None], positions: list[int], every: bool = False) -> Number:
    """The amounts of the events at ``positions`` that have one (``every`` one has), added in order
    in the current decimal context, as adding contributions one by one does: the bucket's first
    event's amount is kept as it is, one first met later is added to 0 (which can change its
    exponent: 0 + 1E+16 is 10000000000000000)."""
    if len(positions) == 1 or every:
        return cast(Decimal, reduce(add, [amounts[p] for p in positions]))
    present = [a for p in positions if (a := amounts[p]) is not None]
    return reduce(add, present) if amounts[positions[0]] is not None else reduce(add, present, 0)


def _total(amounts: list[int], positions: list[int]) -> int:
    return amounts[positions[0]] if len(positions) == 1 else sum([amounts[p] for p in positions])


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
