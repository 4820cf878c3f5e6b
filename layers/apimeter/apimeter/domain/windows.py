"""Time windows and rollup buckets.

Rollups exist at three granularities, each bucket named by the UTC ISO prefix of its start
(``2026-11-22T11:05``, ``2026-11-22T11``, ``2026-11-22``), so buckets sort as strings and read well
in the console. ``cover`` splits any range into the fewest buckets (whole days in the middle, hours
and minutes at the edges), which is why a read's cost depends on the window, never on traffic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal

from apimeter.errors import ValidationFailed

Granularity = Literal["minute", "hour", "day"]
GRANULARITIES: tuple[Granularity, ...] = ("minute", "hour", "day")
STEP_MS: dict[Granularity, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
_FORMAT: dict[Granularity, str] = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
WindowName = Literal["1h", "24h", "7d", "30d"]
WINDOWS_MS: dict[str, int] = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
MAX_POINTS = 1500


def bucket_start(ts_ms: int, granularity: Granularity) -> int:
    step = STEP_MS[granularity]
    return ts_ms - ts_ms % step


def bucket_key(start_ms: int, granularity: Granularity) -> str:
    return datetime.fromtimestamp(start_ms / 1000, UTC).strftime(_FORMAT[granularity])


@lru_cache(maxsize=4096)
def day_of(ts_ms: int) -> str:
    """The day bucket of an instant, cached per day (``ts_ms`` is expected floored to the day)."""
    return bucket_key(ts_ms, "day")


def bucket_ms(key: str, granularity: Granularity) -> int:
    return int(datetime.strptime(key, _FORMAT[granularity]).replace(tzinfo=UTC).timestamp() * 1000)


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_iso() -> str:
    """The current instant, as stored in ``created_at``-like fields."""
    return iso(int(time.time() * 1000))


def iso_ms(ts_ms: int) -> str:
    """ISO 8601 with milliseconds, for event timestamps."""
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Range:
    """A half-open time range ``[start_ms, end_ms)``."""

    start_ms: int
    end_ms: int


@dataclass(frozen=True, slots=True)
class Run:
    """Consecutive buckets of one granularity: ``first`` to ``last`` inclusive."""

    granularity: Granularity
    first: str
    last: str
    count: int


def run_buckets(run: Run) -> list[str]:
    """Every bucket of a run, in order."""
    start = bucket_ms(run.first, run.granularity)
    return [bucket_key(start + i * STEP_MS[run.granularity], run.granularity) for i in range(run.count)]


def children(bucket: str) -> Run:
    """The finer buckets a day (its hours) or an hour (its minutes) is made of."""
    granularity = granularity_of(bucket)
    finer: Granularity = "hour" if granularity == "day" else "minute"
    start = bucket_ms(bucket, granularity)
    last = start + STEP_MS[granularity] - STEP_MS[finer]
    return Run(finer, bucket_key(start, finer), bucket_key(last, finer), STEP_MS[granularity] // STEP_MS[finer])


_BY_LENGTH: dict[int, Granularity] = {16: "minute", 13: "hour", 10: "day"}


def granularity_of(bucket: str) -> Granularity:
    """The granularity of a bucket name (they differ in length)."""
    return _BY_LENGTH[len(bucket)]


def window_range(window: str, now_ms: int | None = None) -> Range:
    """The last ``window`` up to now, at minute precision (the current minute is included)."""
    if window not in WINDOWS_MS:
        raise ValidationFailed(f"window must be one of {', '.join(WINDOWS_MS)}")
    now = int(time.time() * 1000) if now_ms is None else now_ms
    end = bucket_start(now, "minute") + STEP_MS["minute"]
    return Range(end - WINDOWS_MS[window], end)


def _run(granularity: Granularity, start: int, end: int) -> list[Run]:
    if start >= end:
        return []
    step = STEP_MS[granularity]
    last = end - step
    return [Run(granularity, bucket_key(start, granularity), bucket_key(last, granularity), (end - start) // step)]


def _ceil(ts: int, granularity: Granularity) -> int:
    step = STEP_MS[granularity]
    return -(-ts // step) * step


def _hours_and_minutes(start: int, end: int) -> list[Run]:
    h0, h1 = _ceil(start, "hour"), bucket_start(end, "hour")
    if h0 >= h1:
        return _run("minute", start, end)
    return _run("minute", start, h0) + _run("hour", h0, h1) + _run("minute", h1, end)


def cover(span: Range, minutes_kept_since_ms: int = 0) -> list[Run]:
    """The fewest bucket runs covering ``span`` (minute-aligned).

    Where minute rollups have already expired (before ``minutes_kept_since_ms``), the range's start
    is widened to its hour, so the answer never silently misses expired minutes.
    """
    start, end = bucket_start(span.start_ms, "minute"), _ceil(span.end_ms, "minute")
    if start < minutes_kept_since_ms:
        start = bucket_start(start, "hour")
    d0, d1 = _ceil(start, "day"), bucket_start(end, "day")
    if d0 >= d1:
        return _hours_and_minutes(start, end)
    return _hours_and_minutes(start, d0) + _run("day", d0, d1) + _hours_and_minutes(d1, end)


def series_buckets(span: Range, granularity: Granularity) -> list[int]:
    """Bucket starts of a time series over ``span``; bounded so one request stays cheap."""
    if span.end_ms <= span.start_ms:
        raise ValidationFailed("'to' must be after 'from'")
    first = bucket_start(span.start_ms, granularity)
    count = -(-(span.end_ms - first) // STEP_MS[granularity])
    if count > MAX_POINTS:
        raise ValidationFailed(
            f"{count} {granularity} points requested; at most {MAX_POINTS}: "
            "narrow the range or use a coarser granularity"
        )
    return [first + i * STEP_MS[granularity] for i in range(count)]


LAST_INSTANT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


def parse_instant(value: str | None, name: str) -> int | None:
    """ISO 8601 with an offset, or epoch milliseconds, from 1970 to the end of 9999."""
    if value is None or value == "":
        return None
    if value.lstrip("-").isdigit():
        instant = int(value) if len(value) <= 20 else -1
    else:
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValidationFailed(f"'{name}' must be ISO 8601 or epoch milliseconds") from exc
        if parsed.tzinfo is None:
            raise ValidationFailed(f"'{name}' needs a UTC offset (e.g. Z)")
        try:
            instant = int(parsed.timestamp() * 1000)
        except (OverflowError, ValueError):  # 0001-01-01 with a positive offset is before year 1
            instant = -1
    if not 0 <= instant <= LAST_INSTANT_MS:
        raise ValidationFailed(f"'{name}' must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z")
    return instant
