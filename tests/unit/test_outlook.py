"""A project's outlook: hours, local days and the month end agree with each other and with time zones."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

import pytest

from apimeter.domain.outlook import DAILY, HOUR_MS, HOURLY, History, local_day, outlook


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def hourly_traffic(hours: int, seed: int = 3) -> list[float]:
    rng = random.Random(seed)
    return [500 * (1 + 0.6 * math.sin(2 * math.pi * t / 24)) * rng.lognormvariate(0, 0.05) for t in range(hours)]


def test_local_days() -> None:
    assert local_day(ms("2026-11-22T23:30:00"), "Asia/Kolkata") == "2026-11-23"


def test_too_little_traffic_gives_no_outlook() -> None:
    requests = [0.0] * 100 + [10.0] * 23  # only 23 hours since the first request
    assert outlook(History(ms("2026-11-10T00:00:00"), requests, [0.0] * 123), ms("2026-11-15T03:00:00"), "UTC") is None


def test_days_sum_their_hours_and_the_month_end_adds_the_actual() -> None:
    as_of = ms("2026-11-22T10:00:00")
    hours = 28 * 24
    first = as_of - hours * HOUR_MS
    requests = hourly_traffic(hours)
    cost = [r * 0.002 for r in requests]
    made = outlook(History(first, requests, cost), as_of, "UTC")
    assert made is not None
    assert len(made.hourly) == HOURLY
    assert made.hourly[0].start == "2026-11-22T10"
    assert made.season_hours == 168
    assert [d.start for d in made.daily] == [f"2026-11-{d}" for d in range(22, 22 + DAILY)]
    # today: its first ten hours happened, the rest is forecast
    done_today = sum(requests[-10:])
    today_rest = sum(h.requests.value for h in made.hourly[:14])
    assert made.daily[0].requests.value == pytest.approx(done_today + today_rest)
    assert made.daily[1].requests.value == pytest.approx(sum(h.requests.value for h in made.hourly[14:38]))
    # the month end: 21 days and 10 hours happened in November, 8 days and 14 hours to go
    november = sum(requests[-(21 * 24 + 10) :])
    assert made.month_end.month == "2026-11"
    assert made.month_end.actual_requests == pytest.approx(november)
    projected = made.month_end.requests
    assert projected.lower95 <= projected.lower80 <= projected.value <= projected.upper80 <= projected.upper95
    assert projected.value == pytest.approx(november + 500 * (8 * 24 + 14), rel=0.05)
    assert made.month_end.cost.value == pytest.approx(0.002 * projected.value, rel=1e-6)


def test_days_follow_the_project_time_zone() -> None:
    as_of = ms("2026-11-22T10:00:00")
    requests = hourly_traffic(10 * 24)
    made = outlook(History(as_of - len(requests) * HOUR_MS, requests, [0.0] * len(requests)), as_of, "Pacific/Auckland")
    assert made is not None
    assert made.daily[0].start == "2026-11-22"  # 23:00 in Auckland: one hour of the day left
    assert made.month_end.month == "2026-11"
    assert made.daily[1].requests.value == pytest.approx(sum(h.requests.value for h in made.hourly[1:25]))
    assert made.month_end.cost.value == 0


def test_the_hourly_path_covers_the_month_end_in_every_time_zone() -> None:
    as_of = ms("2026-11-22T10:00:00")
    requests = hourly_traffic(10 * 24)
    made = outlook(History(as_of - len(requests) * HOUR_MS, requests, [0.0] * len(requests)), as_of, "Asia/Kolkata")
    assert made is not None
    utc_minus_12_month_end = ms("2026-12-01T12:00:00")
    assert as_of + len(made.paths["requests"]) * HOUR_MS >= utc_minus_12_month_end
