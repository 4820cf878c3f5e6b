"""Analytics answers, read only from rollups: cost depends on the window, never on traffic."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from apimeter.dal import events, rollups
from apimeter.domain.events import TrackedEvent
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import (
    CONSUMER,
    ENDPOINT,
    PROJECT_TOTAL,
    UNIQUE_CONSUMERS,
    RollupKey,
    Totals,
    merge,
)
from apimeter.domain.windows import (
    LAST_INSTANT_MS,
    MAX_POINTS,
    STEP_MS,
    WINDOWS_MS,
    Granularity,
    Range,
    Run,
    bucket_key,
    bucket_ms,
    bucket_start,
    children,
    cover,
    fit,
    granularity_of,
    parse_instant,
    run_buckets,
    series_buckets,
    window_range,
)
from apimeter.errors import ValidationFailed
from apimeter.logic import projects, rollup
from apimeter.settings import settings

DEFAULT_SERIES_POINTS: dict[Granularity, int] = {"minute": 60, "hour": 24, "day": 30}


TOP_STATUS_CODES = 10


def _relative(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now - before) / before, 6)


def _share(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


@dataclass(frozen=True, slots=True)
class Change:
    """Relative change against the previous window (0.25 = +25 %), None when that was zero; except
    ``error_rate``, the absolute difference of the rates (a relative change of rates misleads)."""

    requests: float | None
    errors: float | None
    cost: float | None
    latency_p95: float | None
    error_rate: float
    latency_p50: float | None
    latency_p99: float | None
    throughput: float | None
    bytes_in: float | None
    bytes_out: float | None
    units: float | None
    unique_consumers: float | None


@dataclass(frozen=True, slots=True)
class Share:
    key: str  # a status code or a method
    count: int
    share: float  # of the window's requests


@dataclass(frozen=True, slots=True)
class Summary:
    window: str
    span: Range
    totals: Totals
    previous: Totals  # the window of the same length just before
    items_read: int

    @property
    def seconds(self) -> float:
        return max(self.span.end_ms - self.span.start_ms, 1) / 1000  # an empty range (to before from) answers zeros

    @property
    def throughput_rps(self) -> float:
        return round(self.totals.requests / self.seconds, 6)

    @property
    def previous_throughput_rps(self) -> float:
        return round(self.previous.requests / self.seconds, 6)

    @property
    def top_status_codes(self) -> dict[str, int]:
        """The most frequent status codes, most frequent first (ties: the lower code first)."""
        top = sorted(self.totals.status_codes.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_STATUS_CODES]
        return {str(code): count for code, count in top}

    def change(self) -> Change:
        now, before = self.totals, self.previous
        latency, latency_before = now.latency(), before.latency()
        return Change(
            requests=_relative(now.requests, before.requests),
            errors=_relative(now.errors, before.errors),
            cost=_relative(float(now.cost), float(before.cost)),
            latency_p95=_relative(latency["p95"], latency_before["p95"]),
            error_rate=round(now.error_rate - before.error_rate, 6),
            latency_p50=_relative(latency["p50"], latency_before["p50"]),
            latency_p99=_relative(latency["p99"], latency_before["p99"]),
            throughput=_relative(now.requests, before.requests),  # windows of equal length
            bytes_in=_relative(now.bytes_in, before.bytes_in),
            bytes_out=_relative(now.bytes_out, before.bytes_out),
            units=_relative(float(now.units), float(before.units)),
            unique_consumers=_relative(now.unique_consumers, before.unique_consumers),
        )

    def shares(self, counts: Mapping[str, int]) -> list[Share]:
        """Counts as fractions of the window's requests, largest first."""
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        return [Share(key, count, _share(count, self.totals.requests)) for key, count in ordered]

    @property
    def status_code_shares(self) -> list[Share]:
        return self.shares({str(code): count for code, count in self.totals.status_codes.items()})

    @property
    def method_shares(self) -> list[Share]:
        return self.shares(self.totals.methods)


@dataclass(frozen=True, slots=True)
class Series:
    granularity: Granularity
    span: Range
    points: list[tuple[int, Totals]]
    items_read: int
    metrics: tuple[str, ...]  # those asked that the filters keep; the rest answer null


def _now_ms() -> int:
    return int(time.time() * 1000)


MAX_SUMMARY_MS = 400 * 86_400_000


def _span(window: str | None, start: str | None, end: str | None, now: int) -> tuple[str, Range]:
    if start is None and end is None:
        return (window or "24h"), window_range(window or "24h", now)
    asked = fit(parse_instant(start, "from"), parse_instant(end, "to"), default_end=now,
                default_ms=WINDOWS_MS["24h"], max_ms=MAX_SUMMARY_MS)  # fmt: skip
    return "custom", asked


def _minutes_kept_since(now: int) -> int:
    return now - settings().minute_rollup_retention_hours * 3_600_000


TotalsReader = Callable[[Range], tuple[Totals, int]]


def _project_totals(project_ids: list[str], now: int) -> TotalsReader:
    def read(span: Range) -> tuple[Totals, int]:
        runs = cover(span, _minutes_kept_since(now))
        totals, read = Totals(), 0
        for project_id in project_ids:
            result = rollups.read_runs(project_id, runs, PROJECT_TOTAL)
            for item in result.items:
                totals.add_item(item)
            read += result.items_read + _live_consumers(project_id, result.items, totals.consumer_codes)
        return totals, read

    return read


def _live_consumers(project_id: str, items: list[dict[str, Any]], codes: set[int]) -> int:
    """Add the unique-consumer sketches of live (not yet final) hours and days, which the stream
    keeps on their minutes only; returns the items read. Only the last hour or two are live."""
    read = 0
    for item in items:
        if item.get("final") or granularity_of(item["sk"]) == "minute":
            continue
        result = rollups.read_runs(project_id, [children(item["sk"])], PROJECT_TOTAL)
        for child in result.items:
            codes.update(int(c) for c in child.get(UNIQUE_CONSUMERS, ()))
        read += result.items_read + _live_consumers(project_id, result.items, codes)
    return read


def _value_totals(project_id: str, dimension: str, value: str, now: int) -> TotalsReader:
    """One endpoint's or consumer's totals: one GetItem per bucket of the window's cover."""

    def read(span: Range) -> tuple[Totals, int]:
        keys = [
            RollupKey(project_id, run.granularity, dimension, bucket, value)
            for run in cover(span, _minutes_kept_since(now))
            for bucket in run_buckets(run)
        ]
        result = rollups.get_many(keys)
        return merge(result.items), result.items_read

    return read


def _with_previous(read: TotalsReader, label: str, span: Range, compare: bool = True) -> Summary:
    totals, items_read = read(span)
    if not compare:
        return Summary(label, span, totals, Totals(), items_read)
    length = span.end_ms - span.start_ms
    previous, read_before = read(Range(span.start_ms - length, span.start_ms))
    return Summary(label, span, totals, previous, items_read + read_before)


def summary(
    principal: Principal,
    project_id: str,
    window: str | None,
    start: str | None = None,
    end: str | None = None,
    compare: bool = True,
) -> Summary:
    """Totals over a window (or a custom range), and, with ``compare``, over the window of the same
    length before (breakdowns that show no comparison skip that read)."""
    projects.get(principal, project_id, "analytics.read")
    now = _now_ms()
    label, span = _span(window, start, end, now)
    return _with_previous(_project_totals([project_id], now), label, span, compare)


def usage(principal: Principal, window: str | None, start: str | None = None, end: str | None = None) -> Summary:
    """Tenant-wide totals: every project of the caller's organization (reads grow with projects only)."""
    principal.require("analytics.read")
    now = _now_ms()
    label, span = _span(window, start, end, now)
    return _with_previous(_project_totals([p.id for p in projects.list_all(principal)], now), label, span)


def consumer_usage(
    principal: Principal, project_id: str, consumer: str, window: str | None, start: str | None, end: str | None
) -> Summary:
    """One consumer's totals over a window, and the change against the window before."""
    projects.get(principal, project_id, "analytics.read")
    now = _now_ms()
    label, span = _span(window, start, end, now)
    return _with_previous(_value_totals(project_id, CONSUMER, consumer, now), label, span)


RANKINGS: dict[str, Callable[[Totals], float]] = {
    "requests": lambda t: t.requests,
    "errors": lambda t: t.errors,
    "error_rate": lambda t: t.error_rate,
    "latency_p95": lambda t: t.latency()["p95"] or -1.0,
}


@dataclass(frozen=True, slots=True)
class Ranking:
    window: str
    span: Range
    rows: list[tuple[str, Totals]]  # the top values, best first
    distinct: int  # how many values the window has
    items_read: int

    def shared(self) -> list[tuple[str, Totals, float]]:
        """The rows, each with its share of the ranked rows' requests (not of the whole window's)."""
        total = sum(totals.requests for _, totals in self.rows)
        return [(name, totals, _share(totals.requests, total)) for name, totals in self.rows]


def ranking(
    principal: Principal,
    project_id: str,
    dimension: str,
    *,
    window: str | None,
    start: str | None,
    end: str | None,
    limit: int,
    sort: str = "requests",
) -> Ranking:
    """The top endpoints or consumers of a window: one range read of the dimension's buckets
    (items read: buckets of the window times values active in each, whatever the traffic)."""
    projects.get(principal, project_id, "analytics.read")
    if sort not in RANKINGS:
        raise ValidationFailed(f"sort must be one of {', '.join(RANKINGS)}")
    now = _now_ms()
    label, span = _span(window, start, end, now)
    result = rollups.read_runs(project_id, cover(span, _minutes_kept_since(now)), dimension)
    by_value: dict[str, Totals] = {}
    for item in result.items:
        by_value.setdefault(rollups.value_of(item)[1], Totals()).add_item(item)
    key = RANKINGS[sort]
    ordered = sorted(by_value.items(), key=lambda pair: (-key(pair[1]), pair[0]))
    return Ranking(label, span, ordered[:limit], len(by_value), result.items_read)


@dataclass(frozen=True, slots=True)
class Day:
    day: str
    totals: Totals
    consumers: list[tuple[str, Totals]]  # the day's top consumers by requests
    rest: Totals  # every other consumer of the day, summed
    distinct_consumers: int  # exact: the consumers the day's rollups keep apart


MAX_DAYS = 90


def daily(principal: Principal, project_id: str, days: int, limit: int) -> tuple[list[Day], int]:
    """Usage per UTC day and consumer over the last ``days`` days (today included)."""
    projects.get(principal, project_id, "analytics.read")
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"days must be between 1 and {MAX_DAYS}")
    today = bucket_start(_now_ms(), "day")
    first = today - (days - 1) * STEP_MS["day"]
    run = Run("day", bucket_key(first, "day"), bucket_key(today, "day"), days)
    found = rollups.read_runs(project_id, [run], PROJECT_TOTAL)
    totals = {item["sk"]: item for item in found.items}
    per_consumer = rollups.read_runs(project_id, [run], CONSUMER)
    by_day: dict[str, list[tuple[str, Totals]]] = {}
    for item in per_consumer.items:
        day, consumer = rollups.value_of(item)
        by_day.setdefault(day, []).append((consumer, merge([item])))
    result = []
    for day in run_buckets(run):
        ranked = sorted(by_day.get(day, []), key=lambda pair: (-pair[1].requests, pair[0]))
        rest = merge([])
        for _, other in ranked[limit:]:
            rest.add(other)
        day_totals = merge([totals[day]] if day in totals else [])
        result.append(Day(day, day_totals, ranked[:limit], rest, len(ranked)))
    return result, found.items_read + per_consumer.items_read


SERIES_METRICS = ("requests", "errors", "error_rate", "latency", "bytes", "cost", "units", "unique_consumers")
COUNT_METRICS = frozenset({"requests", "errors"})


@dataclass(frozen=True, slots=True)
class SeriesFilter:
    endpoint: str | None = None  # route template, e.g. /users/{id}
    method: str | None = None
    consumer: str | None = None
    status_class: str | None = None  # 2xx, 4xx... (counts only)

    def kept(self, metrics: tuple[str, ...]) -> tuple[str, ...]:
        """The asked metrics these filters keep: by status class only the counts (requests and
        errors); distinct consumers only for the whole project. The rest answer null."""
        if self.status_class is not None:
            metrics = tuple(m for m in metrics if m in COUNT_METRICS)
        if self.endpoint or self.method or self.consumer:
            metrics = tuple(m for m in metrics if m != "unique_consumers")
        return metrics


def timeseries(
    principal: Principal,
    project_id: str,
    granularity: Granularity,
    start: str | None,
    end: str | None,
    filters: SeriesFilter | None = None,
    metrics: tuple[str, ...] = ("requests", "errors", "latency"),
) -> Series:
    """Figures per bucket, for the project or filtered to an endpoint, a method or a consumer."""
    projects.get(principal, project_id, "analytics.read")
    wanted = filters or SeriesFilter()
    unknown = set(metrics) - set(SERIES_METRICS)
    if unknown or not metrics:
        raise ValidationFailed(f"metrics must be a comma-separated list of {', '.join(SERIES_METRICS)}")
    metrics = wanted.kept(metrics)
    step = STEP_MS[granularity]
    span = fit(parse_instant(start, "from"), parse_instant(end, "to"), default_end=_now_ms(),
               default_ms=DEFAULT_SERIES_POINTS[granularity] * step, max_ms=MAX_POINTS * step)  # fmt: skip
    starts = series_buckets(span, granularity)
    if not starts:
        return Series(granularity, span, [], 0, metrics)
    run = Run(granularity, bucket_key(starts[0], granularity), bucket_key(starts[-1], granularity), len(starts))
    read = _series_items(project_id, run, wanted)
    by_bucket: dict[str, Totals] = {}
    for item in read.items:
        by_bucket.setdefault(str(item["sk"]).partition("#")[0], Totals()).add_item(item)
    items_read = read.items_read
    if "unique_consumers" in metrics:
        for item in read.items:
            items_read += _live_consumers(project_id, [item], by_bucket[item["sk"]].consumer_codes)
    points = [(s, by_bucket.get(bucket_key(s, granularity)) or Totals()) for s in starts]
    return Series(granularity, span, points, items_read, metrics)


def _series_items(project_id: str, run: Run, wanted: SeriesFilter) -> rollups.ReadResult:
    if wanted.consumer is not None:
        buckets = run_buckets(run)
        return rollups.get_many([RollupKey(project_id, run.granularity, CONSUMER, b, wanted.consumer) for b in buckets])
    if wanted.endpoint is not None and wanted.method is not None:
        value = f"{wanted.method} {wanted.endpoint}"
        return rollups.get_many([RollupKey(project_id, run.granularity, ENDPOINT, b, value) for b in run_buckets(run)])
    if wanted.endpoint is None and wanted.method is None:
        return rollups.read_runs(project_id, [run], PROJECT_TOTAL)
    result = rollups.read_runs(project_id, [run], ENDPOINT)  # every method of a route, or every route of a method
    kept = []
    for item in result.items:
        method, _, endpoint = rollups.value_of(item)[1].partition(" ")
        if wanted.method in (None, method) and wanted.endpoint in (None, endpoint):
            kept.append(item)
    return rollups.ReadResult(kept, result.items_read, result.queries)


MAX_EVENTS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[TrackedEvent]
    next_cursor: str | None
    items_read: int
    span: Range  # the range searched: 'from' is moved up to the oldest event retention keeps


# A page's cursor: the day it stops in (days since 1970), a dot, and the event key to read below
# with its ``#`` as a dot (so the cursor needs no escaping in a URL). Any text of that shape reads
# from where it points; one of ours resumes where its page ended.
CURSOR_PATTERN = r"^[0-9]{1,7}\.[0-9A-Za-z._:~-]{1,200}$"


def _encode_cursor(day: str, before: str) -> str:
    return f"{bucket_ms(day, 'day') // STEP_MS['day']}.{before.replace('#', '.', 1)}"


def _decode_cursor(cursor: str) -> tuple[str, str]:
    if not re.fullmatch(CURSOR_PATTERN, cursor):
        raise ValidationFailed("cursor is not one this API gave out")
    days, _, before = cursor.partition(".")
    day = bucket_key(min(int(days), LAST_INSTANT_MS // STEP_MS["day"]) * STEP_MS["day"], "day")
    return day, before.replace(".", "#", 1)


def list_events(
    principal: Principal,
    project_id: str,
    *,
    start: str | None,
    end: str | None,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> EventsPage:
    """Raw events newest first, filtered, a page at a time (the only analytics read of raw events)."""
    project = projects.get(principal, project_id, "analytics.read")
    if not 1 <= limit <= MAX_EVENTS_PAGE:
        raise ValidationFailed(f"limit must be between 1 and {MAX_EVENTS_PAGE}")
    now = _now_ms()
    latest = now + settings().max_future_skew_seconds * 1000
    # Nothing older than retention is kept, nothing later than the skew accepted; the answer says so.
    span = fit(parse_instant(start, "from"), parse_instant(end, "to"), default_end=latest, default_ms=86_400_000,
               max_ms=latest, earliest=now - project.retention_days * 86_400_000)  # fmt: skip
    start_ms, end_ms = span.start_ms, min(span.end_ms, latest)
    if end_ms <= start_ms:
        return EventsPage([], None, 0, Range(start_ms, start_ms))
    first_day = bucket_start(end_ms - 1, "day")
    days = [bucket_key(d, "day") for d in range(first_day, bucket_start(start_ms, "day") - 1, -STEP_MS["day"])]
    before, after = f"{end_ms:013d}", f"{start_ms:013d}"
    if cursor:
        day, before = _decode_cursor(cursor)
        # A cursor at or below the range's start has nothing left to read; and DynamoDB refuses a
        # BETWEEN whose bounds are reversed (a ValidationException, not an empty page).
        days = days[days.index(day) :] if day in days and before > after else []
    page = events.newest_first(
        project_id,
        days,
        before=before,
        after=after,
        limit=limit,
        shards=rollup.event_shards(project_id, end_ms),
        filters={k: v for k, v in filters.items() if v is not None},
    )
    next_cursor = _encode_cursor(page.next_day, page.next_before) if page.next_day and page.next_before else None
    return EventsPage(page.events, next_cursor, page.items_read, Range(start_ms, end_ms))
