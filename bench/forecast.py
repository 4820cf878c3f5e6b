"""Forecast backtests on real series: accuracy against the seasonal-naive forecast, interval coverage.

Rolling origin: at each origin the model sees only the history before it (at most ``--history``,
four weeks by default, as the product keeps) and forecasts ``--horizon`` ahead; the forecasts are
then compared with what happened. Reported per series:

- MASE: mean absolute error divided by the in-sample mean absolute error of the seasonal-naive
  forecast one season back (a week, or a day when the history is shorter), averaged over origins;
  below 1 beats that in-sample yardstick. Reported for the model and for the seasonal-naive
  forecast itself over the same horizons, with their ratio (below 1: the model is more accurate).
- Coverage of the 80 % and 95 % prediction intervals: the share of actual values inside them.

Series by default (../shared/data, cited in its README): NYC taxi passengers every 30 minutes (NAB,
MIT) and hourly totals of the NASA Kennedy Space Center web server, July-August 1995 (NASA-HTTP
trace). Any other CSV of ``timestamp,value`` or ``ds,y`` can be given instead; its step is the most
common spacing, and missing steps split it (no origin trains across a gap).

    python bench/forecast.py [CSV ...] [--horizon 1d] [--history 28d] [--origins 60]
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

from apimeter.domain.forecast import DAY_S, WEEK_S, forecast

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
NYC_TAXI = DATA / "nab" / "realKnownCause" / "nyc_taxi.csv"
NASA = DATA / "traffic" / "nasa_1995_requests_per_second.txt"
NASA_AUGUST_INDEX = 2_381_545  # from this index on, the seconds count from 1 August (see the data README)
EDT = timezone(timedelta(hours=-4))
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": DAY_S, "w": WEEK_S}


@dataclass
class Series:
    name: str
    step_s: int
    values: list[float | None]  # one per step; None where the source has no value


def read_csv(path: Path) -> Series:
    """A ``timestamp,value`` or ``ds,y`` CSV on a regular grid inferred from its most common step."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    header = [h.strip().lower() for h in rows[0]]
    time_col = header.index("ds") if "ds" in header else header.index("timestamp")
    value_col = header.index("y") if "y" in header else header.index("value")
    points = sorted((_instant(r[time_col]), float(r[value_col])) for r in rows[1:] if r and r[value_col].strip())
    step = Counter(b[0] - a[0] for a, b in pairwise(points)).most_common(1)[0][0]
    start = points[0][0]
    values: list[float | None] = [None] * ((points[-1][0] - start) // step + 1)
    for instant, value in points:
        if (instant - start) % step == 0:
            values[(instant - start) // step] = value
    return Series(path.name, step, values)


def _instant(text: str) -> int:
    text = text.strip()
    if text.isdigit():
        return int(text)
    parsed = datetime.fromisoformat(text)
    return int((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp())


def nasa_hourly() -> Series:
    """Hourly request totals of the NASA trace (local time), July and August 1995; the hours the
    trace does not cover (28-31 July) are missing, the hurricane outage's zeros are real."""
    counts = NASA.read_text().split()
    july = datetime(1995, 7, 1, tzinfo=EDT)
    august = datetime(1995, 8, 1, tzinfo=EDT)
    hours: Counter[int] = Counter()
    for index, count in enumerate(counts):
        origin, second = (july, index + 1) if index < NASA_AUGUST_INDEX else (august, index - NASA_AUGUST_INDEX + 1)
        hours[int((origin - july).total_seconds() + second) // 3600] += int(count)
    last = max(hours)
    values: list[float | None] = [float(hours[h]) if h in hours else None for h in range(last + 1)]
    return Series("nasa_1995_hourly", 3600, values)


def steps(text: str, step_s: int) -> int:
    found = _DURATION.match(text)
    if not found:
        return int(text)
    return max(1, int(found.group(1)) * _UNIT_S[found.group(2)] // step_s)


@dataclass
class Result:
    origins: int = 0
    points: int = 0
    mase: float = 0.0
    naive_mase: float = 0.0
    inside80: int = 0
    inside95: int = 0
    fit_seconds: float = 0.0


def backtest(series: Series, horizon: int, history: int, origins: int) -> Result:
    values = series.values
    least = min(history, 2 * WEEK_S // series.step_s, max(len(values) // 4, 3 * horizon))  # short or gapped series
    eligible = [
        t
        for t in range(least, len(values) - horizon + 1)
        if all(v is not None for v in values[t - least : t + horizon])
    ]
    chosen = eligible[:: max(1, len(eligible) // origins)][:origins] if eligible else []
    result = Result()
    mases: list[float] = []
    naive_mases: list[float] = []
    for origin in chosen:
        start = origin - least
        while start > max(0, origin - history) and values[start - 1] is not None:
            start -= 1
        train = [float(v) for v in values[start:origin] if v is not None]
        actual = [float(v) for v in values[origin : origin + horizon] if v is not None]
        started = time.perf_counter()
        made = forecast(train, series.step_s, horizon)
        result.fit_seconds += time.perf_counter() - started
        assert made is not None
        season = _naive_season(len(train), series.step_s)
        scale = statistics.fmean(abs(train[t] - train[t - season]) for t in range(season, len(train)))
        if scale == 0:
            continue
        naive = [train[len(train) - season + (h % season)] for h in range(horizon)]
        mases.append(statistics.fmean(abs(a - p.value) for a, p in zip(actual, made.points, strict=True)) / scale)
        naive_mases.append(statistics.fmean(abs(a - n) for a, n in zip(actual, naive, strict=True)) / scale)
        for a, p in zip(actual, made.points, strict=True):
            result.inside80 += p.lower80 <= a <= p.upper80
            result.inside95 += p.lower95 <= a <= p.upper95
        result.points += horizon
    result.origins = len(mases)
    result.mase = statistics.fmean(mases) if mases else math.nan
    result.naive_mase = statistics.fmean(naive_mases) if naive_mases else math.nan
    return result


def _naive_season(length: int, step_s: int) -> int:
    for period in (WEEK_S, DAY_S):
        if period % step_s == 0 and length >= period // step_s + 1:
            return period // step_s
    return 1


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("csv", nargs="*", type=Path, help="series to evaluate instead of the default two")
    parser.add_argument("--horizon", default="1d", help="how far ahead: steps, or a duration such as 24h, 1d")
    parser.add_argument("--history", default="28d", help="history each forecast sees: steps or a duration")
    parser.add_argument("--origins", type=int, default=60, help="forecast origins per series, evenly spread")
    args = parser.parse_args(argv)
    chosen = [read_csv(p) for p in args.csv] if args.csv else [read_csv(NYC_TAXI), nasa_hourly()]
    print(f"rolling-origin backtest, horizon {args.horizon}, history up to {args.history}, {args.origins} origins")
    print(
        f"{'series':<28}{'step':>6}{'origins':>9}{'MASE':>8}{'snaive':>8}{'ratio':>7}{'cov80':>8}{'cov95':>8}{'ms/fit':>8}"
    )
    for series in chosen:
        horizon = steps(args.horizon, series.step_s)
        history = steps(args.history, series.step_s)
        result = backtest(series, horizon, history, args.origins)
        if not result.origins:
            print(f"{series.name:<28} too short for a {args.history} history and a {args.horizon} horizon")
            continue
        print(
            f"{series.name:<28}{series.step_s // 60:>5}m{result.origins:>9}{result.mase:>8.3f}{result.naive_mase:>8.3f}"
            f"{result.mase / result.naive_mase:>7.2f}{100 * result.inside80 / result.points:>7.1f}%"
            f"{100 * result.inside95 / result.points:>7.1f}%{1000 * result.fit_seconds / result.origins:>8.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
