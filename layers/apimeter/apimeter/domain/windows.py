"""Time windows and rollup buckets.

Rollups exist at three granularities, each bucket named by the UTC ISO prefix of its start
(``2026-11-22T11:05``, ``2026-11-22T11``, ``2026-11-22``), so buckets sort as strings and read well
in the console. ``cover`` splits any range into the fewest buckets (whole days in the middle, hours
and minutes at the edges), which is why a read's cost depends on the window, never on traffic.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal

from apimeter.errors import ValidationFailed

Granularity = Literal["minute", "hour", "day"]
GRANULARITIES: tuple[Granularity, ...] = ("minute", "hour", "day")
STEP_MS: dict[Granularity, int] = {"minute": 60_000, "hour": 3_600_000, "day": 86_400_000}
_FORMAT: dict[Granularity, str] = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
WindowName = Literal["1h", "24h", "7d", "30d"]
WINDOWS_MS: dict[str, int] = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
MAX_POINTS = 1500  # per time series: longer ranges answer their last MAX_POINTS buckets


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


def runs_of(granularity: Granularity, buckets: Iterable[str]) -> list[Run]:
    """The fewest runs holding exactly ``buckets``: consecutive ones together."""
    step = STEP_MS[granularity]
    starts = sorted({bucket_ms(b, granularity) for b in buckets})
    runs, first = [], 0
    for n, start in enumerate(starts):
        if n + 1 == len(starts) or starts[n + 1] != start + step:
            runs.append(Run(granularity, bucket_key(starts[first], granularity), bucket_key(start, granularity),
                            n - first + 1))  # fmt: skip
            first = n + 1
    return runs


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
    if span.end_ms <= span.start_ms:
        return []
    start, end = bucket_start(span.start_ms, "minute"), _ceil(span.end_ms, "minute")
    if start < minutes_kept_since_ms:
        start = bucket_start(start, "hour")
    d0, d1 = _ceil(start, "day"), bucket_start(end, "day")
    if d0 >= d1:
        return _hours_and_minutes(start, end)
    return _hours_and_minutes(start, d0) + _run("day", d0, d1) + _hours_and_minutes(d1, end)


def series_buckets(span: Range, granularity: Granularity) -> list[int]:
    """Bucket starts of a time series over ``span`` (none for an empty span)."""
    if span.end_ms <= span.start_ms:
        return []
    first = bucket_start(span.start_ms, granularity)
    count = -(-(span.end_ms - first) // STEP_MS[granularity])
    return [first + i * STEP_MS[granularity] for i in range(count)]


LAST_INSTANT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
EPOCH_MS_PATTERN = r"^[0-9]{1,20}$"
# RFC 3339's date-time (what OpenAPI's ``date-time`` format means); a leap second reads as :59.999.
_RFC3339 = re.compile(r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2}):(\d{2}))")


def _rfc3339_ms(value: str) -> int | None:
    match = _RFC3339.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(part) for part in match.group(1, 2, 3, 4, 5, 6))
    fraction = (match.group(7) or "0")[:3].ljust(3, "0")
    leap = second == 60
    try:
        instant = datetime(year, month, day, hour, minute, 59 if leap else second, tzinfo=UTC)
    except ValueError:
        return None
    offset_minutes = 0
    if match.group(8):
        offset_minutes = (int(match.group(9)) * 60 + int(match.group(10))) * (1 if match.group(8) == "+" else -1)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (instant - epoch) // timedelta(milliseconds=1) + (999 if leap else int(fraction)) - offset_minutes * 60_000


def parse_date_time(value: str, name: str) -> int:
    """Epoch milliseconds of an RFC 3339 date-time (with its offset), whatever its year."""
    parsed = _rfc3339_ms(value)
    if parsed is None:
        raise ValidationFailed(f"'{name}' must be an RFC 3339 date-time (e.g. 2026-11-29T10:00:00Z)")
    return parsed


def parse_instant(value: str | None, name: str) -> int | None:
    """RFC 3339 date-time (ISO 8601 with an offset) or epoch milliseconds.

    Instants before 1970 or after 9999 are moved to the nearest one kept; every answer that reads a
    range says the range it used.
    """
    if value is None or value == "":
        return None
    instant = int(value) if re.fullmatch(EPOCH_MS_PATTERN, value) else _rfc3339_ms(value)
    if instant is None:
        raise ValidationFailed(
            f"'{name}' must be an RFC 3339 date-time (e.g. 2026-11-29T10:00:00Z) or epoch milliseconds"
        )
    return min(max(instant, 0), LAST_INSTANT_MS)


def fit(
    start: int | None, end: int | None, *, default_end: int, default_ms: int, max_ms: int, earliest: int = 0
) -> Range:
    """The range a read answers, from what was asked.

    ``to`` defaults to ``default_end`` and ``from`` to ``default_ms`` before it; a ``from`` more than
    ``max_ms`` before ``to``, or before ``earliest``, moves up to it; a ``to`` before ``from`` gives
    the empty range at ``from``. Callers report the range they used, so nothing moves silently.
    """
    end_ms = default_end if end is None else end
    start_ms = end_ms - default_ms if start is None else start
    start_ms = max(start_ms, end_ms - max_ms, earliest)
    return Range(start_ms, max(end_ms, start_ms))
