"""Forecasts of a regularly spaced series, with 80 % and 95 % prediction intervals.

The model is additive Holt-Winters with a damped trend (ETS(A,Ad,A)) on a log scale: traffic and
cost grow and swing in proportion to their level, so seasonality and errors are multiplicative on
the original scale and no forecast goes below zero. The season is a week when the history holds two
of them, else a day, else there is none; a week of hourly slots carries the daily shape and how
weekends differ from it. The smoothing weights are the grid point with the least one-step error.

Intervals are conformal rather than textbook: the fitted model is replayed over its own history,
forecasting every horizon from every point after a warm-up, and the interval at horizon h spans the
quantiles of the errors it really made h steps ahead on this series. They widen with the horizon
by as much as this series needs, and they hold on series that break the model's assumptions. The
point forecast is the median of the same errors added to the model's path, so it is unbiased on
the log scale and tends to beat the mean on spiky series.

Pure Python: fitting four weeks of hourly values takes tens of milliseconds, and the layer stays
small (statsmodels with numpy and scipy would add over 100 MB to every function that uses it).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import product

DAY_S = 86_400
WEEK_S = 7 * DAY_S
QUANTILES = (0.025, 0.10, 0.50, 0.90, 0.975)  # 95 % low, 80 % low, median, 80 % high, 95 % high
_ALPHAS = (0.01, 0.03, 0.1)
_BETAS = (0.0, 0.01)
_GAMMAS = (0.02, 0.05, 0.1, 0.2)
_PHI = 0.9  # strongly damped: a trend seen over hours should not run on for a month
_MIN_HISTORY = 4
_CLAMP = 3.0
_SCALE_WEIGHT = 0.05
_SCALE = 0.01  # values are taken relative to 1 % of their mean, so the log scale is unit-free


@dataclass(frozen=True)
class Point:
    value: float
    lower80: float
    upper80: float
    lower95: float
    upper95: float


@dataclass(frozen=True)
class Forecast:
    step_seconds: int
    season: int  # steps per season, 1 when none was used
    points: tuple[Point, ...]


def season_of(history_length: int, step_seconds: int) -> int:
    """The longest season (a week, then a day) of which the history holds three whole cycles, so
    that a median over cycles can set aside one disturbed by an outage."""
    for period in (WEEK_S, DAY_S):
        steps = period // step_seconds
        if period % step_seconds == 0 and steps >= 2 and history_length >= 3 * steps:
            return steps
    return 1


def forecast(history: Sequence[float], step_seconds: int, horizon: int) -> Forecast | None:
    """Forecast ``horizon`` steps after ``history`` (oldest first, one value per step, no gaps).
    None when there is too little history to say anything honest."""
    if len(history) < _MIN_HISTORY or horizon < 1:
        return None
    values = [max(0.0, float(v)) for v in history]
    scale = _SCALE * (sum(values) / len(values)) or 1.0
    z = [math.log1p(v / scale) for v in values]
    season = season_of(len(z), step_seconds)
    path, errors = _replay(z, season, _fit(z, season), horizon)
    points = []
    for h in range(1, horizon + 1):
        low95, low80, _, high80, high95 = (path[h - 1] + q for q in _error_quantiles(errors, h))
        back = [scale * math.expm1(max(0.0, x)) for x in (path[h - 1], low80, high80, low95, high95)]
        points.append(Point(*back))
    return Forecast(step_seconds, season, tuple(points))


def total(points: Sequence[Point]) -> Point:
    """The forecast of a sum of steps. Its bounds are the sums of the steps' bounds: errors of
    traffic forecasts move together (a quiet week is quiet every day), and summing the quantiles is
    exact for errors that move fully together and wider than needed otherwise."""
    return Point(
        *(sum(getattr(p, name) for p in points) for name in ("value", "lower80", "upper80", "lower95", "upper95"))
    )


# the model


class _Model:
    """ETS(A,Ad,A) made robust (after Gelper, Fried and Croux, 2010): each error moves the state by
    at most ``_CLAMP`` running scales, so an outage or a one-hour burst in the history bends the
    level and the season a little instead of dragging them to zero or to the sky."""

    def __init__(self, z: Sequence[float], season: int, weights: tuple[float, float, float]) -> None:
        self.alpha, self.beta, self.gamma = weights
        self.season = season
        cycles = max(1, len(z) // season)
        middles = [statistics.median(z[c * season : (c + 1) * season]) for c in range(cycles)]
        self.seasonal = [
            statistics.median(z[c * season + i] - middles[c] for c in range(cycles)) if season > 1 else 0.0
            for i in range(season)
        ]
        self.level = middles[0]
        self.trend = 0.0
        residuals = sorted(abs(z[t] - self.level - self.seasonal[t % season]) for t in range(min(len(z), season)))
        self.scale = max(1.4826 * residuals[len(residuals) // 2], 1e-3)
        self.loss = 0.0

    def guess(self, t: int, damp: float) -> float:
        return self.level + damp * self.trend + self.seasonal[t % self.season]

    def learn(self, t: int, value: float) -> None:
        slot = t % self.season
        base = self.level + _PHI * self.trend
        error = value - base - self.seasonal[slot]
        bound = _CLAMP * self.scale
        clamped = max(-bound, min(bound, error))
        self.loss += abs(clamped)
        self.level = base + self.alpha * clamped
        self.trend = _PHI * self.trend + self.beta * clamped
        self.seasonal[slot] += self.gamma * clamped
        self.scale = (1 - _SCALE_WEIGHT) * self.scale + _SCALE_WEIGHT * 1.25 * abs(clamped)  # E|e| = 0.8 sigma


def _grid(season: int) -> list[tuple[float, float, float]]:
    gammas = _GAMMAS if season > 1 else (0.0,)
    return list(product(_ALPHAS, _BETAS, gammas))


def _fit(z: Sequence[float], season: int) -> tuple[float, float, float]:
    """The weights with the least one-step (robust) error over the history."""

    def loss(weights: tuple[float, float, float]) -> float:
        model = _Model(z, season, weights)
        for t, value in enumerate(z):
            model.learn(t, value)
        return model.loss

    return min(_grid(season), key=loss)


def _replay(
    z: Sequence[float], season: int, weights: tuple[float, float, float], horizon: int
) -> tuple[list[float], list[list[float]]]:
    """Forecast 1..horizon steps ahead from every point of the second half of the history, with a
    model that started from the first half only (its errors are then honest out-of-sample errors,
    not a fit to the data they are measured on); returns the path forecast from the end by a
    model that started from the whole history, and the errors by horizon."""
    n = len(z)
    damp = [0.0]
    for h in range(1, horizon + 1):
        damp.append(damp[-1] + _PHI**h)
    warm_up = max(season, n // 2)
    calibrating = _Model(z[:warm_up], season, weights)
    errors: list[list[float]] = [[] for _ in range(horizon)]
    for t, value in enumerate(z):
        if t >= warm_up:  # forecasts made with what was known before z[t]
            for h in range(1, min(horizon, n - t) + 1):
                errors[h - 1].append(z[t + h - 1] - calibrating.guess(t + h - 1, damp[h]))
        calibrating.learn(t, value)
    model = _Model(z, season, weights)
    for t, value in enumerate(z):
        model.learn(t, value)
    path = [model.guess(n + h - 1, damp[h]) for h in range(1, horizon + 1)]
    return path, errors


def _error_quantiles(errors: list[list[float]], h: int) -> list[float]:
    """Quantiles of the errors made h steps ahead. Past the longest horizon the history could test,
    the widest tested errors are stretched by the square root of the horizon ratio, as a random walk
    would."""
    tested = h
    while tested > 1 and len(errors[tested - 1]) < 10:
        tested -= 1
    sample = sorted(errors[tested - 1]) or [0.0]
    stretch = math.sqrt(h / tested)
    return [stretch * _quantile(sample, q) for q in QUANTILES]


def _quantile(ordered: Sequence[float], q: float) -> float:
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
