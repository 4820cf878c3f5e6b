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
    items_read: int


@dataclass(frozen=True, slots=True)
class Series:
    granularity: Granularity
    span: Range
    points: list[tuple[int, Totals]]
    items_read: int


def _now_ms() -> int:
    return int(time.time() * 1000)


def summary(principal: Principal, project_id: str, window: str) -> Summary:
    projects.get(principal, project_id, "analytics.read")
    now = _now_ms()
    span = window_range(window, now)
    minutes_kept_since = now - settings().minute_rollup_retention_hours * 3_600_000
    read = rollups.read_runs(project_id, cover(span, minutes_kept_since), PROJECT_TOTAL)
    return Summary(window, span, merge(read.items), read.items_read)


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
