"""The forecast model on series whose truth is known: seasonal shapes, outages, scale, intervals."""

from __future__ import annotations

import math
import random
import statistics

import pytest

from apimeter.domain.forecast import DAY_S, Point, forecast, season_of, total

HOUR = 3600


def traffic(hours: int, seed: int = 1, start: int = 0) -> list[float]:
    """Hourly requests: a daily swing, quiet weekends, a slow rise and multiplicative noise."""
    rng = random.Random(seed)
    out = []
    for t in range(start, start + hours):
        daily = 1 + 0.8 * math.sin(2 * math.pi * (t % 24 - 8) / 24)
        weekend = 0.5 if (t // 24) % 7 in (5, 6) else 1.0
        out.append(1000 * daily * weekend * (1 + t / 5000) * rng.lognormvariate(0, 0.1))
    return out


def test_seasons_need_three_whole_cycles() -> None:
    assert season_of(3 * 168, HOUR) == 168
    assert season_of(3 * 168 - 1, HOUR) == 24
    assert season_of(71, HOUR) == 1
    assert season_of(21, DAY_S) == 7
    assert season_of(20, DAY_S) == 1
    assert season_of(10_000, 7 * HOUR) == 24  # a week of 7-hour steps is 24 steps; a day is not whole


def test_too_little_history_says_nothing() -> None:
    assert forecast([5, 6, 7], HOUR, 24) is None
    assert forecast([5, 6, 7, 8], HOUR, 0) is None


def test_beats_seasonal_naive_and_its_intervals_hold() -> None:
    errors, naive_errors, inside80, inside95, count = [], [], 0, 0, 0
    for seed in range(12):
        series = traffic(28 * 24 + 24, seed=seed, start=seed * 37)
        history, actual = series[:-24], series[-24:]
        made = forecast(history, HOUR, 24)
        assert made is not None
        assert made.season == 168
        for a, p, naive in zip(actual, made.points, history[-168 : -168 + 24], strict=True):
            errors.append(abs(a - p.value))
            naive_errors.append(abs(a - naive))
            inside80 += p.lower80 <= a <= p.upper80
            inside95 += p.lower95 <= a <= p.upper95
            count += 1
    assert statistics.fmean(errors) < 0.8 * statistics.fmean(naive_errors)
    assert 0.7 <= inside80 / count <= 0.92
    assert 0.88 <= inside95 / count <= 1.0


def test_intervals_are_nested_and_widen_with_the_horizon() -> None:
    made = forecast(traffic(28 * 24), HOUR, 48)
    assert made is not None
    for p in made.points:
        assert 0 <= p.lower95 <= p.lower80 <= p.upper80 <= p.upper95
    relative = [(p.upper95 - p.lower95) / p.value for p in made.points]
    assert statistics.fmean(relative[-12:]) > statistics.fmean(relative[:12])


def test_an_outage_in_the_history_does_not_drag_the_forecast_down() -> None:
    series = traffic(28 * 24 + 24)
    history, actual = series[:-24], series[-24:]
    for t in range(30, 66):  # a day and a half of nothing in the first week
        history[t] = 0.0
    made = forecast(history, HOUR, 24)
    assert made is not None
    assert abs(sum(p.value for p in made.points) / sum(actual) - 1) < 0.1


def test_forecasts_never_go_below_zero_and_follow_the_scale() -> None:
    sparse = [0.0] * 200 + [3.0, 0.0, 1.0, 0.0] * 30
    made = forecast(sparse, HOUR, 24)
    assert made is not None
    assert all(p.lower95 >= 0 for p in made.points)
    small, large = forecast(traffic(500), HOUR, 24), forecast([1000 * v for v in traffic(500)], HOUR, 24)
    assert small is not None
    assert large is not None
    for a, b in zip(small.points, large.points, strict=True):
        assert b.value == pytest.approx(1000 * a.value, rel=1e-6)
        assert b.upper95 == pytest.approx(1000 * a.upper95, rel=1e-6)


def test_a_flat_history_forecasts_itself() -> None:
    made = forecast([120.0] * 100, HOUR, 6)
    assert made is not None
    assert all(p.value == pytest.approx(120.0) for p in made.points)


def test_a_total_sums_values_and_bounds() -> None:
    points = [Point(10, 8, 12, 6, 15), Point(20, 15, 26, 12, 30)]
    assert total(points) == Point(30, 23, 38, 18, 45)
