"""Streaming anomaly detection on one regularly spaced metric series (requests, errors, latency, cost).

Each point is scored from past points only, then absorbed (unless the caller says it is a confirmed
incident, which must not become part of what is normal). Four steps:

1. **Expected value.** Three forecasts compete: the recent level (no season), the same slot on past
   days and the same slot on past weeks (median of the last ``DAYS`` / ``WEEKS`` of them), each shifted
   by the median of its last ``RECENT`` residuals so a forecast follows level changes within hours.
   Each keeps a slowly smoothed absolute error, and the one with the smallest error wins once it has a
   day of track record: NYC taxi rides end up on the weekly slot (a third of the recent level's error);
   on a CPU series with no daily shape the three score alike. Short history falls back to the recent level.
2. **Surprise.** ``z = |value - expected| / error`` of the winning forecast, squashed as ``log(1 + min(z, 10))``
   so one wild spike cannot dominate what is learned about the series' usual surprise.
3. **Likelihood** (Numenta's anomaly likelihood, Ahmad et al. 2017): the mean surprise of the last
   ``SHORT`` points is compared with the mean and spread of that same average over the last ``LONG``
   points. The score is ``-log10(tail probability) / 10`` capped at 1, so 0.4 is a 1-in-10,000 event.
   Averaging makes a sustained change (a level shift, a noisier regime) stand out, and judging it
   against the series' own history keeps noisy series from alerting all day. The price: one lone spike
   on a noisy series is not an alert (a burst of a few points is), while one point far off its usual
   slot on a steady seasonal series is.
4. **New extreme.** A value above the highest (or below the lowest) of the last ``RANGE_DAYS`` by more
   than ``RANGE_MARGIN`` of that range scores ``ALERT`` (more the further out it is), once half that
   history exists. This catches the lone record spike that step 3 deliberately forgives on a spiky
   series; on the benchmark it found three incidents the likelihood missed, for two more false alarms.
   The score is the larger of steps 3 and 4.

A point is anomalous when its score reaches ``ALERT / sensitivity``. After an alert the next
``QUIET_DAYS`` report at most just under the alert level from step 3: an incident is one alert, not one
per point, unless it sets a new extreme (step 4 is not silenced, and restarts the quiet period).
A user marking alerts as false lowers ``sensitivity``, which raises the level (and, for step 4, the margin).

The constants are global, never per series; they were tuned on the Numenta Anomaly Benchmark's
AWS CloudWatch series and NYC taxi (``bench/anomaly.py``, which scores them with NAB's own rules), so
that benchmark is not an independent test of them (standard profile 64.1 with steps 1-3 alone, 72.2
with step 4). Memory is ``WEEKS`` weeks of values plus ``LONG`` averages; an update is a few small
medians (about 60,000 points/s on one core).
"""

from __future__ import annotations

import hashlib
import math
from collections import deque
from dataclasses import dataclass
from statistics import median
from typing import Any

DAY_S = 86_400
DAYS = 3  # past days whose same slot forms the daily forecast
WEEKS = 3  # past weeks whose same slot forms the weekly forecast (and the history kept)
RECENT = 24  # residuals whose median shifts each forecast: its reaction time to a level change
ERROR_DECAY = 0.003  # forecast errors are smoothed over ~300 points so an incident barely widens them
TRACK_DAYS = 1.0  # a seasonal forecast competes once it has been scored for this long
SURPRISE_CAP = 10.0
SHORT = 6
LONG = 4000
WARM_UP = 50  # averages needed before the likelihood means anything
ALERT = 0.4
QUIET_DAYS = 0.5
BAND = 3.0  # the expected band is this many mean absolute errors either side
TOLERANCE_DECAY = 0.995  # a tolerated false-alarm deviation halves in about 140 points (six days of hours)
SETTLE = 150  # points before surprises enter the history: forecast errors start from one miss
RANGE_DAYS = 7.0  # a value this far outside the range of the last week alerts on its own (after half a week)
RANGE_MARGIN = 0.1  # ... by this fraction of that range


@dataclass(frozen=True)
class Verdict:
    score: float  # anomaly likelihood in [0, 1]
    expected: float
    lower: float
    upper: float
    direction: str | None  # "up" / "down" when the value is outside the band
    severity: str | None  # "low" / "medium" / "high" when anomalous


class Detector:
    def __init__(self, step_seconds: int, sensitivity: float = 1.0) -> None:
        self.step = step_seconds
        self.sensitivity = sensitivity
        self.daily = max(1, round(DAY_S / step_seconds))
        self.periods = {"level": 0, "day": self.daily, "week": 7 * self.daily}
        self.values: deque[float] = deque(maxlen=WEEKS * 7 * self.daily)  # NaN where a point was missing
        self.last: int | None = None
        self.residuals = {name: deque[float](maxlen=RECENT) for name in self.periods}
        self.errors: dict[str, float] = {}
        self.tracked = dict.fromkeys(self.periods, 0)
        self.surprises: deque[float] = deque(maxlen=SHORT)
        # Averages of four weeks suffice for hourly series and keep their saved state small.
        self.averages: deque[float] = deque(maxlen=min(LONG, 28 * self.daily))
        self.total = 0.0  # running sums over ``averages``
        self.squares = 0.0
        self.quiet = 0
        self.tolerance = 0.0  # deviations up to this share of the expected value were marked false alarms
        self.span = round(RANGE_DAYS * self.daily)
        self.highs: deque[tuple[int, float]] = deque()  # (index, value), decreasing values: highs[0] is the max
        self.lows: deque[tuple[int, float]] = deque()  # increasing values: lows[0] is the min

    def _base(self, name: str) -> float:
        """What the forecast named ``name`` builds on for the next point, before the level shift; NaN if unknown."""
        period = self.periods[name]
        if not period:
            return 0.0
        count = DAYS if name == "day" else WEEKS
        same = [
            v
            for k in range(1, count + 1)
            if k * period <= len(self.values) and not math.isnan(v := self.values[-k * period])
        ]
        return median(same) if same else math.nan

    def update(self, timestamp: float, value: float, learn: bool = True) -> Verdict:
        index = round(timestamp / self.step)
        fresh = self.last is None or index > self.last  # a late or repeated point is scored but never learned
        if self.last is not None and index > self.last + 1:
            self.values.extend([math.nan] * min(index - self.last - 1, self.values.maxlen or 0))

        bases = {name: self._base(name) for name in self.periods}
        forecasts = {
            n: b + median(self.residuals[n]) for n, b in bases.items() if not math.isnan(b) and self.residuals[n]
        }
        verdict, average = Verdict(0.0, value, value, value, None, None), None
        if forecasts:
            verdict, average = self._judge(value, forecasts)
        if fresh:
            self.last = index
            if learn:
                self._learn(index, value, bases, forecasts, average)
            else:
                self.values.append(math.nan)  # keeps every slot at its time of day
        return verdict

    def _judge(self, value: float, forecasts: dict[str, float]) -> tuple[Verdict, float]:
        """The verdict, and the recent mean surprise that learning it would add to the history."""
        ready = [n for n in forecasts if n in self.errors and self.tracked[n] >= TRACK_DAYS * self.daily]
        best = min(ready, key=self.errors.__getitem__) if ready else next(iter(forecasts))
        expected = forecasts[best]
        error = max(self.errors.get(best, 0.0), 1e-3 * abs(expected), 1e-9)
        self.surprises.append(math.log1p(min(abs(value - expected) / error, SURPRISE_CAP)))
        average = sum(self.surprises) / len(self.surprises)

        score = 0.0
        if len(self.averages) >= WARM_UP:
            mean = self.total / len(self.averages)
            spread = math.sqrt(max(self.squares / len(self.averages) - mean * mean, 1e-8))
            tail = 0.5 * math.erfc((average - mean) / spread / math.sqrt(2))
            score = min(1.0, -math.log10(max(tail, 1e-300)) / 10)
        alert = min(ALERT / self.sensitivity, 1.0)
        if self.quiet > 0:
            self.quiet -= 1
            score = min(score, 0.99 * alert)
        score = max(score, self._outside_range(value))  # a new extreme is news even during an incident
        if score >= alert:
            self.quiet = round(QUIET_DAYS * self.daily)

        if score >= alert and abs(value - expected) <= self.tolerance * abs(expected):
            score = min(score, 0.99 * alert)  # no larger than one the user called a false alarm
        width = BAND * error / self.sensitivity
        lower, upper = expected - width, expected + width
        direction = "up" if value > upper else "down" if value < lower else None
        severity = None
        if score >= alert:
            severity = "high" if score >= 2 * alert else "medium" if score >= 1.5 * alert else "low"
        return Verdict(score, expected, lower, upper, direction, severity), average

    def _outside_range(self, value: float) -> float:
        """``ALERT`` when ``value`` is ``RANGE_MARGIN`` of last week's range above its max or below its min."""
        if self.tracked["level"] < self.span // 2 or not self.highs:
            return 0.0
        high, low = self.highs[0][1], self.lows[0][1]
        excess = max(value - high, low - value) / max(high - low, 1e-9)
        return min(1.0, max(0.0, ALERT * excess / RANGE_MARGIN))

    def _learn(
        self, index: int, value: float, bases: dict[str, float], forecasts: dict[str, float], average: float | None
    ) -> None:
        for name, forecast in forecasts.items():
            miss = abs(value - forecast)
            self.errors[name] = self.errors.get(name, miss) + ERROR_DECAY * (miss - self.errors.get(name, miss))
            self.tracked[name] += 1
        for name, base in bases.items():
            if not math.isnan(base):
                self.residuals[name].append(value - base)
        self.values.append(value)
        self.tolerance *= TOLERANCE_DECAY
        while self.highs and self.highs[-1][1] <= value:
            self.highs.pop()
        while self.lows and self.lows[-1][1] >= value:
            self.lows.pop()
        for extremes in (self.highs, self.lows):
            extremes.append((index, value))
            while extremes[0][0] <= index - self.span:
                extremes.popleft()
        if average is not None and self.tracked["level"] > SETTLE:
            if len(self.averages) == self.averages.maxlen:
                oldest = self.averages[0]
                self.total -= oldest
                self.squares -= oldest * oldest
            self.averages.append(average)
            self.total += average
            self.squares += average * average

    def forget(self, timestamp: float) -> bool:
        """Take a past point out of the seasonal baseline (a confirmed incident or a planned event
        must not shape what next week's same hour is expected to be); False when it is too old."""
        back = self.last - round(timestamp / self.step) if self.last is not None else -1
        if not 0 <= back < len(self.values):
            return False
        self.values[len(self.values) - 1 - back] = math.nan
        return True

    def state(self) -> dict[str, Any]:
        """What the detector has learned, JSON-ready (missing points as None), to keep between runs."""
        return {
            "step": self.step,
            "sensitivity": self.sensitivity,
            "last": self.last,
            "values": [None if math.isnan(v) else v for v in self.values],
            "residuals": {name: list(found) for name, found in self.residuals.items()},
            "errors": self.errors,
            "tracked": self.tracked,
            "surprises": list(self.surprises),
            "averages": list(self.averages),
            "total": self.total,  # running sums, kept as they are: summing again would round differently
            "squares": self.squares,
            "quiet": self.quiet,
            "tolerance": self.tolerance,
            "highs": [list(p) for p in self.highs],
            "lows": [list(p) for p in self.lows],
        }

    @classmethod
    def restore(cls, state: dict[str, Any]) -> Detector:
        detector = cls(int(state["step"]), float(state["sensitivity"]))
        detector.last = state["last"]
        detector.values.extend(math.nan if v is None else float(v) for v in state["values"])
        for name, found in state["residuals"].items():
            detector.residuals[name].extend(float(v) for v in found)
        detector.errors = {name: float(v) for name, v in state["errors"].items()}
        detector.tracked = {name: int(v) for name, v in state["tracked"].items()}
        detector.surprises.extend(float(v) for v in state["surprises"])
        detector.averages.extend(float(v) for v in state["averages"])
        detector.total = float(state["total"])
        detector.squares = float(state["squares"])
        detector.quiet = int(state["quiet"])
        detector.tolerance = float(state.get("tolerance", 0.0))
        detector.highs.extend((int(i), float(v)) for i, v in state["highs"])
        detector.lows.extend((int(i), float(v)) for i, v in state["lows"])
        return detector


# anomalies found in a project's hourly figures

METRICS = ("requests", "error_rate", "latency_p95")
FEEDBACK = ("real", "false", "planned")
MIN_SENSITIVITY = 0.25
FALSE_ALARM_DAMPING = 0.8  # each "false" makes that series' detector this much less sensitive
TOLERANCE_MARGIN = 1.1  # a "false" deviation, and up to 10 % more, is not alerted again for a while


def anomaly_id(hour: str, dimension: str, value: str, metric: str) -> str:
    """Stable per series, metric and hour, so a re-run finds the same anomaly instead of a new one;
    the hour is readable in it (``an_2026112217_...``) so one id locates the record."""
    digest = hashlib.blake2b(f"{dimension}\0{value}\0{metric}".encode(), digest_size=6).hexdigest()
    return f"an_{hour.replace('-', '').replace('T', '')}_{digest}"


def hour_of(anomaly_id: str) -> str | None:
    """The hour bucket an anomaly id names; None when it is not one."""
    parts = anomaly_id.split("_")
    if len(parts) != 3 or parts[0] != "an" or len(parts[1]) != 10 or not parts[1].isdigit():
        return None
    stamp = parts[1]
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:]}"


def after_feedback(detector: Detector, feedback: str, timestamp: float, observed: float, expected: float) -> None:
    """Learn from a user's verdict on an anomaly at ``timestamp``. "false": this series varies more
    than it looked, so its detector becomes less sensitive, and deviations as large as this one are
    not alerted for the next days. "real" or "planned": the point was no normal hour, so it leaves
    the seasonal baseline that next week's same hour is judged against."""
    if feedback == "false":
        detector.sensitivity = max(MIN_SENSITIVITY, detector.sensitivity * FALSE_ALARM_DAMPING)
        deviation = abs(observed - expected) / max(abs(expected), 1e-9)
        detector.tolerance = max(detector.tolerance, TOLERANCE_MARGIN * deviation)
    else:
        detector.forget(timestamp)
