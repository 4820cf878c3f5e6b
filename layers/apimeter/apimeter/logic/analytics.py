"""Analytics answers, read only from rollups: cost depends on the window, never on traffic."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import Any

from apimeter.dal import events, rollups
from apimeter.domain.events import TrackedEvent
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import PROJECT_TOTAL, Totals, merge
from apimeter.domain.windows import (
    STEP_MS,
    Granularity,
    Range,
    Run,
    bucket_key,
    bucket_ms,
    bucket_start,
    cover,
    parse_instant,
    series_buckets,
    window_range,
)
from apimeter.errors import ValidationFailed
from apimeter.logic import projects
from apimeter.settings import settings

DEFAULT_SERIES_POINTS: dict[Granularity, int] = {"minute": 60, "hour": 24, "day": 30}


@dataclass(frozen=True, slots=True)
class Summary:
    window: str
    span: Range
    totals: Totals
    previous: Totals  # the window of the same length just before
    items_read: int


@dataclass(frozen=True, slots=True)
class Series:
    granularity: Granularity
    span: Range
    points: list[tuple[int, Totals]]
    items_read: int


def _now_ms() -> int:
    return int(time.time() * 1000)


MAX_SUMMARY_MS = 400 * 86_400_000


def _span(window: str | None, start: str | None, end: str | None, now: int) -> tuple[str, Range]:
    if start is None and end is None:
        return (window or "24h"), window_range(window or "24h", now)
    end_ms = parse_instant(end, "to") or now
    start_ms = parse_instant(start, "from")
    if start_ms is None:
        raise ValidationFailed("'from' is required with 'to'")
    if not 0 < end_ms - start_ms <= MAX_SUMMARY_MS:
        raise ValidationFailed("'to' must be after 'from', and the range at most 400 days")
    return "custom", Range(start_ms, end_ms)


def _totals(project_ids: list[str], span: Range, now: int) -> tuple[Totals, int]:
    minutes_kept_since = now - settings().minute_rollup_retention_hours * 3_600_000
    runs = cover(span, minutes_kept_since)
    items, read = [], 0
    for project_id in project_ids:
        result = rollups.read_runs(project_id, runs, PROJECT_TOTAL)
        items.extend(result.items)
        read += result.items_read
    return merge(items), read


def _with_previous(project_ids: list[str], label: str, span: Range, now: int, compare: bool = True) -> Summary:
    totals, read = _totals(project_ids, span, now)
    if not compare:
        return Summary(label, span, totals, Totals(), read)
    length = span.end_ms - span.start_ms
    previous, read_before = _totals(project_ids, Range(span.start_ms - length, span.start_ms), now)
    return Summary(label, span, totals, previous, read + read_before)


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
    return _with_previous([project_id], label, span, now, compare)


def usage(principal: Principal, window: str | None, start: str | None = None, end: str | None = None) -> Summary:
    """Tenant-wide totals: every project of the caller's organization (reads grow with projects only)."""
    principal.require("analytics.read")
    now = _now_ms()
    label, span = _span(window, start, end, now)
    return _with_previous([p.id for p in projects.list_all(principal)], label, span, now)


def timeseries(
    principal: Principal, project_id: str, granularity: Granularity, start: str | None, end: str | None
) -> Series:
    projects.get(principal, project_id, "analytics.read")
    step = STEP_MS[granularity]
    end_ms = parse_instant(end, "to") or _now_ms()
    start_ms = parse_instant(start, "from") or end_ms - DEFAULT_SERIES_POINTS[granularity] * step
    span = Range(start_ms, end_ms)
    starts = series_buckets(span, granularity)
    run = Run(granularity, bucket_key(starts[0], granularity), bucket_key(starts[-1], granularity), len(starts))
    read = rollups.read_runs(project_id, [run], PROJECT_TOTAL)
    by_bucket: dict[str, dict[str, Any]] = {item["sk"]: item for item in read.items}
    points = [(s, merge([by_bucket[k]] if (k := bucket_key(s, granularity)) in by_bucket else [])) for s in starts]
    return Series(granularity, span, points, read.items_read)


MAX_EVENTS_PAGE = 1000


@dataclass(frozen=True, slots=True)
class EventsPage:
    events: list[TrackedEvent]
    next_cursor: str | None
    items_read: int


def _encode_cursor(day: str, before: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"d": day, "b": before}).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[str, str]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        day, before = str(decoded["d"]), str(decoded["b"])
        bucket_ms(day, "day")
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationFailed("cursor is not one this API gave out") from exc
    return day, before


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
    end_ms = parse_instant(end, "to") or now + settings().max_future_skew_seconds * 1000
    start_ms = parse_instant(start, "from") or end_ms - 86_400_000
    start_ms = max(start_ms, now - project.retention_days * 86_400_000)
    if end_ms <= start_ms:
        raise ValidationFailed("'to' must be after 'from'")
    first_day = bucket_start(end_ms - 1, "day")
    days = [bucket_key(d, "day") for d in range(first_day, bucket_start(start_ms, "day") - 1, -STEP_MS["day"])]
    before = f"{end_ms:013d}"
    if cursor:
        day, before = _decode_cursor(cursor)
        days = days[days.index(day) :] if day in days else []
    page = events.newest_first(
        project_id,
        days,
        before=before,
        after=f"{start_ms:013d}",
        limit=limit,
        shards=settings().event_shards,
        filters={k: v for k, v in filters.items() if v is not None},
    )
    next_cursor = _encode_cursor(page.next_day, page.next_before) if page.next_day and page.next_before else None
    return EventsPage(page.events, next_cursor, page.items_read)
