"""A project's outlook: requests and cost forecast by hour and by local day, and the month-end cost.

Everything comes from one hourly forecast per metric (domain/forecast.py), so the hours, the days
and the month end agree with each other: a day is the sum of its hours, and the month end is the
actual to date plus the sum of the hours left. Days and months are the project's, in its time zone;
an hour belongs to the local day in which it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apimeter.domain.budgets.periods import period_of
from apimeter.domain.forecast import Point, forecast, total

HOUR_MS = 3_600_000
HISTORY_HOURS = 28 * 24  # four weeks: three whole weeks to learn the weekly season from, and one to test it
MIN_HISTORY_HOURS = 24
HOURLY = 48
DAILY = 7
METRICS = ("requests", "cost")
ZONE_SPREAD_HOURS = 26  # UTC-12 to UTC+14


@dataclass(frozen=True)
class Step:
    start: str  # ISO hour (UTC) or local date
    requests: Point
    cost: Point


@dataclass(frozen=True)
class MonthEnd:
    month: str  # local, e.g. 2026-11
    actual_requests: float
    actual_cost: float
    requests: Point  # projected totals for the whole month
    cost: Point


@dataclass(frozen=True)
class Outlook:
    as_of_ms: int  # start of the first forecast hour (the current hour)
    history_hours: int
    season_hours: int
    hourly: tuple[Step, ...]
    daily: tuple[Step, ...]
    month_end: MonthEnd
    paths: dict[str, tuple[Point, ...]]  # every hour from as_of to past the month end (and a week), by metric


@dataclass(frozen=True)
class History:
    """Hourly totals, oldest first, one per hour from ``first_hour_ms`` to the hour before ``as_of_ms``."""

    first_hour_ms: int
    requests: Sequence[float]
    cost: Sequence[float]


def local_day(instant_ms: int, timezone: str) -> str:
    return datetime.fromtimestamp(instant_ms / 1000, ZoneInfo(timezone)).strftime("%Y-%m-%d")


def outlook(history: History, as_of_ms: int, timezone: str) -> Outlook | None:
    """The outlook from ``as_of_ms`` (an hour boundary); None while the project has less than a day
    of traffic behind it. Hours before its first request are not history, only silence."""
    requests, cost = list(history.requests), list(history.cost)
    first_active = next((i for i, v in enumerate(requests) if v > 0), len(requests))
    month = period_of("monthly", timezone, as_of_ms)
    month_start, month_end = month.start_ms, month.end_ms
    actual = [
        sum(series[i] for i in range(len(series)) if history.first_hour_ms + i * HOUR_MS >= month_start)
        for series in (requests, cost)
    ]
    learn_from = max(first_active, len(requests) - HISTORY_HOURS)
    if len(requests) - learn_from < MIN_HISTORY_HOURS:
        return None
    days_end = _day_starts(as_of_ms, timezone, DAILY + 1)[-1]
    # Past the project's month end and its next week by a day, so a budget's period in any other
    # time zone (offsets differ by up to 26 hours) is covered too.
    horizon = max(HOURLY, (month_end - as_of_ms) // HOUR_MS, (days_end - as_of_ms) // HOUR_MS) + ZONE_SPREAD_HOURS
    made = {}
    for name, series in zip(METRICS, (requests, cost), strict=True):
        result = forecast(series[learn_from:], 3600, horizon)
        assert result is not None  # a day of history is enough
        made[name] = result
    paths = {name: made[name].points for name in METRICS}
    hours = [as_of_ms + h * HOUR_MS for h in range(horizon)]

    hourly = tuple(Step(_hour(hours[h]), paths["requests"][h], paths["cost"][h]) for h in range(HOURLY))
    today = local_day(as_of_ms, timezone)
    so_far = [
        sum(series[i] for i in range(len(series)) if local_day(history.first_hour_ms + i * HOUR_MS, timezone) == today)
        for series in (requests, cost)
    ]
    daily = []
    for day in sorted({local_day(t, timezone) for t in hours})[:DAILY]:
        steps = [h for h, t in enumerate(hours) if local_day(t, timezone) == day]
        sums = [total([paths[name][h] for h in steps]) for name in METRICS]
        if day == today:
            sums = [_shift(p, done) for p, done in zip(sums, so_far, strict=True)]
        daily.append(Step(day, *sums))
    rest = [h for h, t in enumerate(hours) if t < month_end]
    projected = [
        _shift(total([paths[name][h] for h in rest]), done) for name, done in zip(METRICS, actual, strict=True)
    ]
    return Outlook(
        as_of_ms=as_of_ms,
        history_hours=len(requests) - learn_from,
        season_hours=made["requests"].season,
        hourly=hourly,
        daily=tuple(daily),
        month_end=MonthEnd(month.label, actual[0], actual[1], projected[0], projected[1]),
        paths={name: tuple(paths[name]) for name in METRICS},
    )


def _hour(instant_ms: int) -> str:
    return datetime.fromtimestamp(instant_ms / 1000, UTC).strftime("%Y-%m-%dT%H")


def _shift(point: Point, by: float) -> Point:
    return Point(*(by + v for v in (point.value, point.lower80, point.upper80, point.lower95, point.upper95)))


def _day_starts(instant_ms: int, timezone: str, count: int) -> list[int]:
    """Starts (epoch ms) of ``count`` local days from the one holding ``instant_ms``; a day may be
    23 or 25 hours long."""
    zone = ZoneInfo(timezone)
    day = datetime.fromtimestamp(instant_ms / 1000, zone).date()
    starts = []
    for offset in range(count):
        date = day.fromordinal(day.toordinal() + offset)
        starts.append(int(datetime(date.year, date.month, date.day, tzinfo=zone).timestamp() * 1000))
    return starts
