"""Analytics answers, read only from rollups: cost depends on the window, never on traffic."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apimeter.dal import rollups
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import PROJECT_TOTAL, Totals, merge
from apimeter.domain.windows import (
    STEP_MS,
    Granularity,
    Range,
    Run,
    bucket_key,
    cover,
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


def parse_instant(value: str | None, name: str) -> int | None:
    """ISO 8601 with an offset, or epoch milliseconds."""
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        return int(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValidationFailed(f"'{name}' must be ISO 8601 or epoch milliseconds") from exc
    if parsed.tzinfo is None:
        raise ValidationFailed(f"'{name}' needs a UTC offset (e.g. Z)")
    return int(parsed.timestamp() * 1000)


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
