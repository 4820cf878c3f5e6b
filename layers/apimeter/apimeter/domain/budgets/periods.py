"""Budget periods: local days, ISO weeks and calendar months in the budget's time zone.

A period runs between exact local midnights: a local day lasts 23 or 25 hours when the clocks
change, and a day whose midnight falls in a DST gap starts when the clock jumps. Rollups are UTC
hours, and where a zone is 30 or 45 minutes off UTC a period boundary cuts an hour in two. Such an
hour counts whole in the period that holds its start (``hour_range``), so every hour belongs to
exactly one period and the periods add up to the total. The stream charges an event the same way
(``charged_period``), so the figure seen within seconds and the one re-read from rollups agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apimeter.domain.windows import Range, bucket_key, bucket_start
from apimeter.errors import ValidationFailed

PeriodKind = Literal["daily", "weekly", "monthly"]

PERIODS: tuple[PeriodKind, ...] = ("daily", "weekly", "monthly")
_HOUR_MS = 3_600_000


@dataclass(frozen=True, slots=True)
class Period:
    """A half-open period ``[start_ms, end_ms)`` and its stable name (``2026-11``, ``2026-W47``, ``2026-11-22``)."""

    start_ms: int
    end_ms: int
    label: str


def zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationFailed(
            f"timezone {tz!r} is not an IANA time zone (e.g. Europe/Paris)", details=[{"field": "timezone"}]
        ) from exc


def _start_of(day: date, tz: ZoneInfo) -> int:
    """The first instant of local ``day``. Where midnight is skipped (a DST gap, or Apia crossing the
    date line on 30 December 2011) the day starts when the clock jumps, which lies between the
    instants midnight would have under the offsets before and after the jump."""
    lo, hi = sorted(int(datetime(day.year, day.month, day.day, fold=fold, tzinfo=tz).timestamp()) for fold in (0, 1))
    if datetime.fromtimestamp(lo, tz).date() >= day:
        return lo * 1000
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).date() < day:
            lo = mid
        else:
            hi = mid
    return hi * 1000


def period_of(kind: PeriodKind, tz: str, instant_ms: int) -> Period:
    """The daily, weekly (ISO, from Monday) or monthly period of ``tz`` holding ``instant_ms``."""
    where = zone(tz)
    local = datetime.fromtimestamp(instant_ms // 1000, where).date()
    if kind == "daily":
        first, after, label = local, local + timedelta(days=1), local.isoformat()
    elif kind == "weekly":
        year, week, weekday = local.isocalendar()
        first = local - timedelta(days=weekday - 1)
        after, label = first + timedelta(days=7), f"{year}-W{week:02d}"
    elif kind == "monthly":
        first = local.replace(day=1)
        after, label = (first + timedelta(days=32)).replace(day=1), f"{local.year}-{local.month:02d}"
    else:
        raise ValidationFailed(f"period must be one of {', '.join(PERIODS)}", details=[{"field": "period"}])
    return Period(_start_of(first, where), _start_of(after, where), label)


def _ceil_hour(ts_ms: int) -> int:
    return -(-ts_ms // _HOUR_MS) * _HOUR_MS


def hour_range(period: Period) -> Range:
    """The UTC hours counted in ``period``: those that start in it. ``windows.cover`` of this range
    gives the fewest rollup buckets to read."""
    return Range(_ceil_hour(period.start_ms), _ceil_hour(period.end_ms))


def hour_buckets(period: Period) -> list[str]:
    """The hour rollup buckets (``2026-11-22T11``) counted in ``period``, in order."""
    span = hour_range(period)
    return [bucket_key(start, "hour") for start in range(span.start_ms, span.end_ms, _HOUR_MS)]


def charged_period(kind: PeriodKind, tz: str, ts_ms: int) -> Period:
    """The period an event at ``ts_ms`` counts in: the one holding the start of its UTC hour."""
    return period_of(kind, tz, bucket_start(ts_ms, "hour"))
